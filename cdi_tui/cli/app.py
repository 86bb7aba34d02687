"""``cdi-tui`` with no command: the terminal app."""

from __future__ import annotations

import argparse

from cdi_tui.cli.common import open_workspace


def run_app(args: argparse.Namespace) -> int:
    from cdi_tui.tui.app import CdiApp

    workspace = open_workspace()
    try:
        CdiApp(workspace).run()
    finally:
        workspace.close()
    return 0
