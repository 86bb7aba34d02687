"""Typed access from screens to the app's services."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import events

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


class StyledOnMount:
    """For every screen and dialog of the app: skip the restyle Textual does the first time a
    screen becomes current.

    Textual restyles every widget of a screen each time the screen becomes current (it may
    have been away while the theme changed). The first time is just after the screen was
    composed, and each widget was styled as it mounted: that restyle repeated the work, a
    quarter of the CPU of opening the setup. Later returns (back from a dialog) keep it.
    Textual calls this handler before its own (the screen class's handlers come first).
    """

    _resumed_before = False

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._resumed_before:
            self._resumed_before = True
            event.refresh_styles = False
