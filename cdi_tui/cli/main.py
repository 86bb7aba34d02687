"""Argument parsing and dispatch for ``cdi-tui``.

Exit codes and the errors behind them are in :mod:`cdi_tui.cli.errors`.
Every expected failure (a :class:`~cdi_tui.errors.CdiError`) prints one line on stderr,
``cdi-tui: error: ...``; never a traceback. Any other exception (a bug) prints one line too,
naming the command and the log file that holds the traceback, and exits 1. With
``CDI_TUI_DEBUG=1`` (the tests set it) such an exception is raised as it is instead,
traceback and all.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from cdi_tui import __version__
from cdi_tui.cli import app, completion, demo, info, run_cmd, schedule_cmd, settings_cmd
from cdi_tui.cli.common import OneLineParser, set_read_only
from cdi_tui.cli.errors import (
    DEBUG_ENV,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
)
from cdi_tui.errors import CdiError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="cdi-tui",
        description="Braze Cloud Data Ingestion for Redshift, in the terminal. Run with no command to open the app.",
    )
    parser.add_argument("--version", action="version", version=f"cdi-tui {__version__}")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="show everything, change nothing: every command (and app action) that would change or sync is refused",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    settings_cmd.register(commands)
    run_cmd.register(commands)
    schedule_cmd.register(commands)
    info.register(commands)
    app.register(commands)
    completion.register(commands)
    demo.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from cdi_tui.display import safe_text

    command = "cdi-tui"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.root_parser = parser  # completion scripts are generated from it
        set_read_only(args.read_only)
        words = [getattr(args, "command", None)] + [value for key, value in vars(args).items() if key.endswith("_command")]
        command = " ".join(["cdi-tui", *(word for word in words if isinstance(word, str))])
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                # no terminal for the app (cron, a pipe): say how to use the commands instead
                parser.print_help(sys.stderr)
                print("cdi-tui: error: no command given, and the app needs a terminal", file=sys.stderr)
                return EXIT_USAGE
            return app.run_app(args)
        return handler(args)
    except KeyboardInterrupt:
        print("cdi-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as error:
        print(f"cdi-tui: error: {safe_text(error)}", file=sys.stderr)
        return EXIT_USAGE
    except CdiError as error:  # every error the product expects: the user's (or the machine's) to put right
        print(f"cdi-tui: error: {safe_text(error)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # the last line of defence: one line for people, the traceback in the log
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        where = _save_traceback(command, error)
        print(
            f"cdi-tui: error: '{command}' failed unexpectedly ({type(error).__name__}: {safe_text(error)[:200]}); {where}",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _save_traceback(command: str, error: Exception) -> str:
    """Write the traceback to the log file (or, when there is none, a file of its own); say where."""
    import logging
    import tempfile
    import traceback

    from cdi_tui.logs import setup_logging
    from cdi_tui.paths import app_paths

    try:
        path = setup_logging(app_paths().ensure())
    except Exception:  # the home itself may be what is broken: a file of its own, below
        path = None
    if path is not None:
        logging.getLogger("cdi_tui.cli").error("'%s' failed unexpectedly", command, exc_info=error)
        for handler in logging.getLogger("cdi_tui").handlers:
            handler.flush()
        return f"the traceback is in {path}"
    try:
        handle, name = tempfile.mkstemp(prefix="cdi-tui-error-", suffix=".log")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(f"'{command}' failed unexpectedly\n")
            stream.write("".join(traceback.format_exception(error)))
    except OSError as problem:
        return f"the traceback could not be saved either ({problem.strerror})"
    return f"the traceback is in {name}"
