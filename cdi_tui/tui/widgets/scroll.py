"""Restyle a container alone when only its own look changes, and a scroll that does so on focus.

Textual restyles a widget and every widget inside it when its classes or focus change, in case
a rule such as ``VerticalScroll:focus Input`` or ``.panel-focused Label`` depends on it. The app
has no such rule: a scroll's focus changes its own tint and scroll bar, a panel's
``panel-focused`` class its own border. Restyling the whole subtree instead cost 0.1-0.2 s a
Tab in the setup's connection panel (110 widgets) on a 2-core machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress

from textual._context import NoActiveAppError
from textual.containers import VerticalScroll
from textual.widget import Widget


def restyle_alone(widgets: Iterable[Widget]) -> None:
    """Apply the stylesheet again to these widgets, not to the widgets inside them."""
    nodes = list(widgets)
    if nodes:
        with suppress(NoActiveAppError):
            nodes[0].app.stylesheet.update_nodes(nodes, animate=True)


class Scroll(VerticalScroll):
    def watch_has_focus(self, _has_focus: bool) -> None:
        restyle_alone([self])
