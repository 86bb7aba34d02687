"""Argument parsing and dispatch for ``cdi-tui``.

Exit codes: 0 success, 1 error, 2 usage, 3 partial success (sync), 130 interrupted.
Every expected failure prints one line on stderr, ``cdi-tui: error: ...``; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cdi_tui import __version__

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """The command line asks for something that cannot be done as written (exit 2)."""


class CommandError(Exception):
    """An expected failure with a message for people (exit 1)."""


def build_parser() -> argparse.ArgumentParser:
    from cdi_tui.cli import demo, info, run_cmd, schedule_cmd, settings_cmd
    from cdi_tui.cli.common import OneLineParser

    parser = OneLineParser(
        prog="cdi-tui",
        description="Braze Cloud Data Ingestion for Redshift, in the terminal. Run with no command to open the app.",
    )
    parser.add_argument("--version", action="version", version=f"cdi-tui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    settings_cmd.register(commands)
    run_cmd.register(commands)
    schedule_cmd.register(commands)
    info.register(commands)
    demo.register(commands)
    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    from cdi_tui.config import ConfigError
    from cdi_tui.engine.lock import RunInProgress
    from cdi_tui.engine.sync import SyncRefused
    from cdi_tui.fields import FieldError
    from cdi_tui.secret_store import SecretMissing, SecretsUnavailable
    from cdi_tui.standins.postgres import StandInError
    from cdi_tui.warehouse.errors import WarehouseError
    from cdi_tui.workspace import WorkspaceError

    return (
        ConfigError,
        FieldError,
        SecretMissing,
        SecretsUnavailable,
        StandInError,
        WarehouseError,
        WorkspaceError,
        SyncRefused,
        RunInProgress,
        CommandError,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            # no terminal for the app (cron, a pipe): say how to use the commands instead
            parser.print_help(sys.stderr)
            print("cdi-tui: error: no command given, and the app needs a terminal", file=sys.stderr)
            return EXIT_USAGE
        from cdi_tui.cli.app import run_app

        return run_app(args)
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("cdi-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as error:
        print(f"cdi-tui: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except _expected_errors() as error:
        print(f"cdi-tui: error: {error}", file=sys.stderr)
        return EXIT_ERROR
