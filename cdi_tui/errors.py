"""The errors the product expects: one family, so the front ends catch one class.

Every failure a person (or the machine's setup) can put right derives from :class:`CdiError`:
a config file that cannot be used, a warehouse that refuses a login, a Braze key that is
rejected, a run of the same integration already under way. Each module keeps its own kinds
(``ConfigError`` in :mod:`cdi_tui.config`, ``WarehouseError`` in :mod:`cdi_tui.warehouse.errors`,
``WorkspaceError`` in :mod:`cdi_tui.workspace`, ...); a kind that is also a standard one stays
one (``FieldError`` is a ``ValueError``, ``SecretMissing`` a ``LookupError``), so code that
catches the standard kind still does.

The front ends catch :class:`CdiError` and nothing wider: the command line prints it as one
line and exits 1 (:mod:`cdi_tui.cli.main`), the app shows it in its error dialog. Any other
exception is a bug and goes on to the last line of defence: the command line's one line naming
the log file that holds the traceback, the app's crash report.

Not in the family: signals the engine raises and catches itself (``SendCancelled``: a run is
stopping) and errors private to one module; ``tests/unit/test_error_family.py`` names them.
"""

from __future__ import annotations

__all__ = ["CdiError"]


class CdiError(Exception):
    """An error the product expects; its message says what happened and, mostly, what to do.

    ``fix`` is the fix to try, for a front end that shows it apart (the connection test's
    "What to try"); it is empty when the message says it all.
    """

    fix: str = ""

    def __init__(self, *args: object, fix: str | None = None) -> None:
        super().__init__(*args)
        if fix is not None:
            self.fix = fix
