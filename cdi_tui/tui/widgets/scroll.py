"""A vertical scroll whose focus restyles only itself.

Textual restyles a widget and every widget inside it when its focus changes, in case a rule
such as ``VerticalScroll:focus Input`` depends on it. The app has no such rule: a scroll's focus
changes its own look only (its tint and scroll bar). In the setup's connection panel (110
widgets) each Tab into or out of the scroll cost 0.1-0.2 s of restyling on a 2-core machine.
"""

from __future__ import annotations

from contextlib import suppress

from textual._context import NoActiveAppError
from textual.containers import VerticalScroll


class Scroll(VerticalScroll):
    def watch_has_focus(self, _has_focus: bool) -> None:
        with suppress(NoActiveAppError):
            self.app.stylesheet.update_nodes([self], animate=True)
