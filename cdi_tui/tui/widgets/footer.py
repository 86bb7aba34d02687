"""The key bar at the bottom of a screen: Textual's Footer, laid out again only when what it shows changes."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """Textual's Footer rebuilds every key it shows whenever the screen's bindings are refreshed,
    which is at each focus change: a Tab through a form cost a Footer mounted anew, twice. This
    one rebuilds only when the keys it would show (key, label, action, enabled, tooltip) differ."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[Any, ...] | None = None

    def _keys_shown(self, screen: Screen[Any]) -> tuple[Any, ...]:
        keys = [
            (binding.key, self.app.get_key_display(binding), binding.description, binding.action, binding.group, enabled, tooltip)
            for (_node, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        ]
        return (*keys, self.show_command_palette, self.app.ENABLE_COMMAND_PALETTE)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            shown = self._keys_shown(screen)
            if self._bindings_ready and shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)
