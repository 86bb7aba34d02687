"""``cdi-tui`` with no command, and ``cdi-tui open NAME``: the terminal app."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cdi_tui.cli.common import is_read_only, open_workspace
from cdi_tui.cli.errors import EXIT_USAGE


def register(commands: Any) -> None:
    opened = commands.add_parser("open", help="open the app on an integration's screen (the dashboard below it)")
    opened.add_argument("name", help="an integration, as 'cdi-tui integrations list' shows it")
    opened.set_defaults(handler=open_command)


def open_command(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "cdi-tui: error: the app needs a terminal (use 'cdi-tui runs NAME' and the other commands in a pipe)", file=sys.stderr
        )
        return EXIT_USAGE
    return run_app(args, open_integration=args.name)


def run_app(args: argparse.Namespace, open_integration: str | None = None) -> int:
    """The app until it quits: 0, or 1 when it stopped on an error (the terminal restored first).

    The keymap (``[keys]``) and the integration to open are checked first: a problem is one line, before the app opens.
    """
    from cdi_tui.tui.app import CdiApp
    from cdi_tui.tui.keymap import checked_keymap

    workspace = open_workspace(read_only_ok=is_read_only())
    try:
        config = workspace.config()
        keymap = checked_keymap(config.keys, workspace.paths.config_file)
        if open_integration is not None:
            workspace.integration(open_integration, config)
        app = CdiApp(workspace, keymap=keymap, open_integration=open_integration, check_key=True)
        app.run()
    finally:
        workspace.close()
    return finished(app)


def finished(app: Any) -> int:
    """Say what a crash kept, and turn the app's end into an exit code."""
    for note in app.crash_notes:
        print(f"cdi-tui: {note}", file=sys.stderr)
    return int(app.return_code or 0)
