"""How deep a PAYLOAD nests: a row nested too deep is a row error, never a crash.

Python code that walks a parsed value recursively (the transform's checks, the stdlib's JSON,
fingerprints of delivered values) stops with ``RecursionError`` near 1,000 levels, and orjson
writes at most 254. Braze documents no depth limit for nested custom attributes (objects are
capped by size: 100 KB), and no real attribute object comes near 64 levels, so deeper payloads
are refused with a clear reason before anything walks them.

Both checks are iterative (no recursion of their own), and the text check costs two C-speed
counts a row on the sync's hot path: only a text with more than 64 brackets is scanned.
"""

from __future__ import annotations

from typing import Any

MAX_PAYLOAD_DEPTH = 64
"""The most levels of objects and arrays a PAYLOAD may nest, itself counted as the first."""

DEPTH_PROBLEM = (
    f"PAYLOAD nests objects or arrays more than {MAX_PAYLOAD_DEPTH} levels deep (cdi-tui's limit; "
    "no attribute, event or purchase needs that many)"
)


def text_too_deep(text: str, limit: int = MAX_PAYLOAD_DEPTH) -> bool:
    """True when the JSON text nests more than ``limit`` levels of ``{`` and ``[`` (outside strings)."""
    if text.count("{") + text.count("[") <= limit:
        return False  # fewer brackets than the limit: it cannot nest deeper
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{" or char == "[":
            depth += 1
            if depth > limit:
                return True
        elif char == "}" or char == "]":
            depth -= 1
    return False


def value_too_deep(value: Any, limit: int = MAX_PAYLOAD_DEPTH) -> bool:
    """True when a parsed value (dicts and lists) nests more than ``limit`` levels."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if item.__class__ is dict:
            children: Any = item.values()
        elif item.__class__ is list:
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if child.__class__ is dict or child.__class__ is list)
    return False
