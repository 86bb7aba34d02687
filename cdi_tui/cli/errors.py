"""How ``cdi-tui`` fails: its exit codes and the errors its commands raise.

Exit codes: 0 success, 1 error, 2 usage, 3 partial success (sync), 130 interrupted.
Every expected failure prints one line on stderr, ``cdi-tui: error: ...``; never a traceback.
The command modules raise :class:`UsageError` or :class:`CommandError` (or one of the core's
own errors, :func:`expected_errors`); :mod:`cdi_tui.cli.main` turns each into its line and code.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

DEBUG_ENV = "CDI_TUI_DEBUG"
"""Set to 1 (the tests do), an unexpected exception is raised as it is, traceback and all."""


class UsageError(Exception):
    """The command line asks for something that cannot be done as written (exit 2)."""


class CommandError(Exception):
    """An expected failure with a message for people (exit 1)."""


def expected_errors() -> tuple[type[BaseException], ...]:
    """The errors that are a user's to fix, each printed as one line with exit 1.

    Imported when a command fails rather than at start-up, so ``cdi-tui --help`` does not
    load the sync engine and its HTTP stack.
    """
    from cdi_tui.config import ConfigError
    from cdi_tui.fields import FieldError
    from cdi_tui.paths import HomeError
    from cdi_tui.secret_store import SecretMissing, SecretsUnavailable
    from cdi_tui.standins.postgres import StandInError
    from cdi_tui.warehouse.errors import WarehouseError
    from cdi_tui.workspace import RunInProgress, RunLogUnavailable, SyncRefused, WorkspaceError

    return (
        ConfigError,
        FieldError,
        SecretMissing,
        SecretsUnavailable,
        StandInError,
        WarehouseError,
        WorkspaceError,
        HomeError,
        RunLogUnavailable,
        SyncRefused,
        RunInProgress,
        CommandError,
    )
