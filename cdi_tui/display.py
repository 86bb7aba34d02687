"""Showing text that came from outside (the warehouse, a file, the command line) safely.

A terminal obeys control characters: an escape sequence in a table name or a payload could
recolour, move the cursor or retitle the window, and a newline turns a one-line error into
two. :func:`safe_text` shows them as Python-style escapes instead (``\\x1b``, ``\\n``,
``\\u202e``), leaving every other character as it is.
"""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 control characters and DEL, the Unicode line and paragraph separators, the
# bidirectional overrides and isolates (which can make text read differently than it is), and
# lone surrogates (bytes of a command line that were not UTF-8: they cannot be written out)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: Any) -> str:
    """``str(value)`` with control characters shown as escapes (one line, nothing for the terminal to obey)."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a character :func:`safe_text` would escape."""
    return _UNSAFE.search(text) is not None


def first_control_character(text: str) -> str | None:
    """The first such character, escaped (``\\x1b``), for an error message; None if there is none."""
    match = _UNSAFE.search(text)
    return _escape(match) if match else None


def json_safe(json_text: str) -> str:
    """JSON text with the characters above written as ``\\uXXXX`` (still valid JSON, same value).

    ``json.dumps`` escapes C0 controls itself, but with ``ensure_ascii=False`` lets C1
    controls and bidirectional overrides through.
    """
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", json_text)
