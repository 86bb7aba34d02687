"""The ``/`` filter of a table: a one-line input above it, hidden until asked for.

Typing narrows the table to the rows that contain the text (any column, any case); Enter
goes back to the table with the filter kept, Esc clears it and hides the bar.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Label

from cdi_tui.tui.widgets.fit_table import FitTable


class FilterBar(Horizontal):
    DEFAULT_CSS = """
    FilterBar {
        height: 1;
        width: 1fr;
        display: none;
        padding: 0 1;
        &.-shown { display: block; }
        & > .filter-prompt { width: auto; color: $text-accent; text-style: bold; padding-right: 1; }
        & > Input { width: 1fr; }
        & > .filter-count { width: auto; color: $foreground-muted; padding-left: 1; }
    }
    """
    BINDINGS = [Binding("escape", "clear", "Clear filter", show=False)]

    def __init__(self, table: FitTable, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="filter-bar")
        self.table = table

    def compose(self) -> ComposeResult:
        yield Label("/", classes="filter-prompt")
        # not focusable while hidden: a screen's first focus (or Tab) never lands in it
        yield Input(placeholder="filter: rows containing this text", compact=True, classes="filter-input", disabled=True)
        yield Label("", classes="filter-count")

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def active(self) -> bool:
        return bool(self.table.filter_text)

    def open(self) -> None:
        self.add_class("-shown")
        self.input.disabled = False
        self.input.focus()

    def _hide(self) -> None:
        self.remove_class("-shown")
        self.input.disabled = True
        self.table.focus()

    def action_clear(self) -> None:
        self.input.value = ""
        self.table.set_filter("")
        self._hide()

    def refresh_count(self) -> None:
        shown, total = self.table.row_count, self.table.total_rows
        self.query_one(".filter-count", Label).update(f"{shown} of {total}" if self.active else "")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.table.set_filter(event.value)
        self.refresh_count()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self._hide()
        else:
            self.table.focus()
