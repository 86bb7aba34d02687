"""A DataTable whose columns share the width it has: long cells end in an ellipsis instead of
the table scrolling sideways. When even the columns' minimum widths do not fit, the columns
marked droppable are left out, the highest ``drop`` first; below that it still scrolls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from cdi_tui.display import safe_text


@dataclass(frozen=True)
class FitColumn:
    label: str
    min_width: int = 4
    flex: bool = False
    """A flexible column gives up width (down to ``min_width``) when the table is too narrow."""
    weight: int = 1
    """How strongly a flexible column keeps its width: the one with the most width per weight shrinks first."""
    drop: int = 0
    """0: always shown. Otherwise the column is left out while the table is too narrow for the
    minimum widths of the columns shown; the highest ``drop`` goes first."""


@dataclass
class _Row:
    cells: list[Text]
    height: int | None
    label: str | Text | None


def _fitted(cell: str | Text) -> Text:
    # a plain cell is data: never markup, control characters escaped (a Text cell is the caller's, made safe there)
    text = cell if isinstance(cell, Text) else Text(safe_text(cell))
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


class FitTable(DataTable[Text]):
    DEFAULT_CSS = """
    FitTable { height: 1fr; }
    """

    def __init__(self, columns: list[FitColumn], **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self.fit_columns = columns
        self._natural = [cell_len(column.label) for column in columns]
        self._shown = list(range(len(columns)))  # the indexes of fit_columns on screen, in order
        self._kept: dict[RowKey, _Row] = {}  # every row with all its cells, to show again a column left out

    def on_mount(self) -> None:
        if self.fit_columns and not self.columns:
            self.add_columns(*(self.fit_columns[index].label for index in self._shown))
        self.fit()

    @property
    def shown_labels(self) -> list[str]:
        """The labels of the columns on screen (droppable ones may be left out)."""
        return [self.fit_columns[index].label for index in self._shown]

    def set_columns(self, columns: list[FitColumn]) -> None:
        """Replace the columns (and drop the rows)."""
        super().clear(columns=True)
        self._kept.clear()
        self.fit_columns = columns
        self._natural = [cell_len(column.label) for column in columns]
        self._shown = list(range(len(columns)))
        self.add_columns(*(column.label for column in columns))

    def clear(self, columns: bool = False) -> FitTable:
        super().clear(columns)
        self._kept.clear()
        self._natural = [cell_len(column.label) for column in self.fit_columns]
        return self

    def add_row(
        self, *cells: str | Text, height: int | None = 1, key: str | None = None, label: str | Text | None = None
    ) -> RowKey:
        texts = [_fitted(cell) for cell in cells]
        for index, text in enumerate(texts):
            if index < len(self._natural):
                self._natural[index] = max(self._natural[index], text.cell_len)
        shown = [texts[index] for index in self._shown if index < len(texts)] + texts[len(self.fit_columns) :]
        row_key = super().add_row(*shown, height=height, key=key, label=label)
        self._kept[row_key] = _Row(texts, height, label)
        self.call_after_refresh(self.fit)
        return row_key

    def remove_row(self, row_key: RowKey | str) -> None:
        super().remove_row(row_key)
        self._kept.pop(row_key if isinstance(row_key, RowKey) else RowKey(row_key), None)

    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: Any, *, update_width: bool = False) -> None:
        text = _fitted(value)
        index = self._shown[self.get_column_index(column_key)]
        kept = self._kept.get(row_key if isinstance(row_key, RowKey) else RowKey(row_key))
        if kept is not None and index < len(kept.cells):
            kept.cells[index] = text
        if text.cell_len > self._natural[index]:
            self._natural[index] = text.cell_len
            self.call_after_refresh(self.fit)
        super().update_cell(row_key, column_key, text, update_width=False)

    def on_resize(self) -> None:
        self.fit()

    def _min_width(self, index: int) -> int:
        column = self.fit_columns[index]
        return min(column.min_width, self._natural[index]) if column.flex else self._natural[index]

    def _columns_that_fit(self, width: int) -> list[int]:
        """Every column, less the droppable ones (highest ``drop`` first) while the minimum widths do not fit."""
        shown = list(range(len(self.fit_columns)))
        droppable = sorted((index for index in shown if self.fit_columns[index].drop), key=lambda i: -self.fit_columns[i].drop)
        for index in droppable:
            needed = sum(self._min_width(i) for i in shown) + 2 * self.cell_padding * len(shown) + 1
            if needed <= width:
                break
            shown.remove(index)
        return shown

    def _show_columns(self, shown: list[int]) -> None:
        """Rebuild the table with these columns, keeping the rows, their keys and the cursor."""
        cursor = self.cursor_row
        rows = list(self._kept.items())
        super().clear(columns=True)
        self._kept.clear()
        self._shown = shown
        self.add_columns(*(self.fit_columns[index].label for index in shown))
        for row_key, row in rows:
            cells = [row.cells[index] for index in shown if index < len(row.cells)]
            new_key = super().add_row(*cells, height=row.height, key=row_key.value, label=row.label)
            self._kept[new_key] = row
        if rows:
            self.move_cursor(row=min(max(cursor, 0), len(rows) - 1), animate=False)

    def fit(self) -> None:
        """Give each column its natural width, or shrink the flexible ones (and leave out droppable ones) to fit."""
        if not self.fit_columns or not self.columns or not self.is_mounted:
            return
        if len(self.columns) == len(self._shown):  # not while columns are being replaced
            shown = self._columns_that_fit(self.size.width)
            if shown != self._shown:
                self._show_columns(shown)
        padding = 2 * self.cell_padding * len(self.columns)
        available = max(self.size.width - padding - 1, 0)
        widths = [self._natural[index] for index in self._shown]
        columns = [self.fit_columns[index] for index in self._shown]
        flexible = [position for position, column in enumerate(columns) if column.flex]
        excess = sum(widths) - available
        # shrink the widest flexible column (per weight) a cell at a time: narrow ones keep their text longest
        while excess > 0:
            candidates = [position for position in flexible if widths[position] > columns[position].min_width]
            if not candidates:
                break
            widest = max(candidates, key=lambda position: widths[position] / columns[position].weight)
            widths[widest] -= 1
            excess -= 1
        changed = False
        for column, width in zip(self.columns.values(), widths, strict=False):
            if column.width != width or column.auto_width:
                column.width = width
                column.auto_width = False
                changed = True
        if changed:
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh()
