"""Typed access from screens to the app's services."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from cdi_tui.workspace import Workspace

if TYPE_CHECKING:
    from textual.app import App

    from cdi_tui.tui.app import CdiApp


class CdiMixin:
    """For screens and widgets of :class:`~cdi_tui.tui.app.CdiApp`."""

    app: App[object]

    @property
    def cdi(self) -> CdiApp:
        return cast("CdiApp", self.app)

    @property
    def workspace(self) -> Workspace:
        return self.cdi.workspace

    @property
    def secrets_place(self) -> str:
        """Where secrets go, in words: the keyring, or (the demo) this process's memory."""
        return "in memory for this session" if self.workspace.keeps_secrets_in_memory else "in the keyring"
