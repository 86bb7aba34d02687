"""``cdi-tui`` with no command: the terminal app."""

from __future__ import annotations

import argparse
import sys


def run_app(args: argparse.Namespace) -> int:
    # The Textual app is built in a later stage; until then, say so and show the commands.
    from cdi_tui.cli.main import build_parser

    print("The cdi-tui terminal app is not built yet. Available commands:\n", file=sys.stderr)
    build_parser().print_help(sys.stderr)
    return 0
