"""The ``cdi-tui`` command line: headless commands over the same core as the app.

:func:`main` loads the dispatcher (:mod:`cdi_tui.cli.main`) when called, so importing one
command module, or :mod:`cdi_tui.cli.errors`, does not load every command.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from cdi_tui.cli.main import main as dispatch

    return dispatch(argv)


__all__ = ["main"]
