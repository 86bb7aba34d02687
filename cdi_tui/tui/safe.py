"""Text from outside, shown in the app as data: never markup, never a terminal control.

Warehouse values, table names, server messages and errors reach widgets only through these:
a :class:`rich.text.Text` is never parsed for Textual markup (``[@click=...]`` stays text),
and control characters (ESC, OSC, BEL, CR, the bidirectional overrides) are shown as escapes
(``\\x1b``) as the command line shows them, so nothing in the data reaches the terminal as a
sequence it would obey (a clipboard write, a window title, a cursor move).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text

from cdi_tui.display import safe_text


def outside(value: Any, style: str = "") -> Text:
    """One line of outside text: control characters (newlines too) escaped, no markup."""
    return Text(safe_text(value), style=style)


def outside_lines(value: Any, style: str = "") -> Text:
    """Outside text that may span lines: line breaks kept, every other control character escaped."""
    return Text(plain_lines(value), style=style)


def plain_lines(value: Any) -> str:
    """Outside text as a plain string, line breaks kept, every other control character escaped."""
    text = value if isinstance(value, str) else str(value)
    return "\n".join(safe_text(line) for line in text.split("\n"))


def failure_line(error: BaseException, hidden: Iterable[str | None] = ()) -> str:
    """An error as one line for people: control characters escaped, and any of ``hidden`` (secrets) masked."""
    text = " ".join((str(error) or type(error).__name__).split())
    for secret in hidden:
        if secret:
            text = text.replace(secret, "***")
    return safe_text(text)
