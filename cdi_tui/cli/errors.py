"""How ``cdi-tui`` fails: its exit codes and the errors its commands raise.

Exit codes: 0 success, 1 error, 2 usage, 3 partial success (sync), 130 interrupted.
Every expected failure prints one line on stderr, ``cdi-tui: error: ...``; never a traceback.
The command modules raise :class:`UsageError` or :class:`CommandError`, or let one of the core's
own errors through; all are :class:`~cdi_tui.errors.CdiError`, the one class
:mod:`cdi_tui.cli.main` turns into a line and a code. Anything else is a bug (see there).
"""

from __future__ import annotations

from cdi_tui.errors import CdiError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

DEBUG_ENV = "CDI_TUI_DEBUG"
"""Set to 1 (the tests do), an unexpected exception is raised as it is, traceback and all."""


class UsageError(CdiError):
    """The command line asks for something that cannot be done as written (exit 2)."""


class CommandError(CdiError):
    """An expected failure with a message for people (exit 1)."""
