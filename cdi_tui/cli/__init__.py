"""The ``cdi-tui`` command line: headless commands over the same core as the app."""

from cdi_tui.cli.main import main

__all__ = ["main"]
