"""Text from outside, shown in the app as data: never markup, never a terminal control.

Warehouse values, table names, server messages and errors reach widgets only through these:
a :class:`rich.text.Text` is never parsed for Textual markup (``[@click=...]`` stays text),
and control characters (ESC, OSC, BEL, CR, the bidirectional overrides) are shown as escapes
(``\\x1b``) as the command line shows them, so nothing in the data reaches the terminal as a
sequence it would obey (a clipboard write, a window title, a cursor move).

Errors too: :func:`failure_line` words one for people, :func:`expected` tells the errors the
product expects (shown in the error dialog) from bugs (left to the crash report).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text

from cdi_tui.display import safe_text
from cdi_tui.errors import CdiError


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


def expected(error: BaseException | None) -> CdiError:
    """A failed worker's error, when the product expects it (a :class:`~cdi_tui.errors.CdiError`).

    Anything else is a bug: it is raised again here, in the handler of the worker's state, so it
    reaches the app's crash report as a bug in any handler does.
    """
    if isinstance(error, CdiError):
        return error
    if error is None:
        raise RuntimeError("a worker failed without an error")
    raise error
