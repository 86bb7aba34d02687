"""``cdi-tui`` with no command: the terminal app."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cdi_tui.cli.common import open_workspace


def run_app(args: argparse.Namespace) -> int:
    """The app until it quits: 0, or 1 when it stopped on an error (the terminal restored first)."""
    from cdi_tui.tui.app import CdiApp

    workspace = open_workspace()
    try:
        app = CdiApp(workspace)
        app.run()
    finally:
        workspace.close()
    return finished(app)


def finished(app: Any) -> int:
    """Say what a crash kept, and turn the app's end into an exit code."""
    for note in app.crash_notes:
        print(f"cdi-tui: {note}", file=sys.stderr)
    return int(app.return_code or 0)
