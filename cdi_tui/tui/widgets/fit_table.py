"""A DataTable whose columns share the width it has: long cells end in an ellipsis instead of
the table scrolling sideways (below the columns' minimum widths it still scrolls)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


@dataclass(frozen=True)
class FitColumn:
    label: str
    min_width: int = 4
    flex: bool = False
    """A flexible column gives up width (down to ``min_width``) when the table is too narrow."""
    weight: int = 1
    """How strongly a flexible column keeps its width: the one with the most width per weight shrinks first."""


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

    def on_mount(self) -> None:
        if self.fit_columns and not self.columns:
            self.add_columns(*(column.label for column in self.fit_columns))
        self.fit()

    def set_columns(self, columns: list[FitColumn]) -> None:
        """Replace the columns (and drop the rows)."""
        super().clear(columns=True)
        self.fit_columns = columns
        self._natural = [cell_len(column.label) for column in columns]
        self.add_columns(*(column.label for column in columns))

    def clear(self, columns: bool = False) -> FitTable:
        super().clear(columns)
        self._natural = [cell_len(column.label) for column in self.fit_columns]
        return self

    def add_row(
        self, *cells: str | Text, height: int | None = 1, key: str | None = None, label: str | Text | None = None
    ) -> RowKey:
        texts = [cell if isinstance(cell, Text) else Text(str(cell)) for cell in cells]
        for index, text in enumerate(texts):
            text.no_wrap = True
            text.overflow = "ellipsis"
            if index < len(self._natural):
                self._natural[index] = max(self._natural[index], text.cell_len)
        row_key = super().add_row(*texts, height=height, key=key, label=label)
        self.call_after_refresh(self.fit)
        return row_key

    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: Any, *, update_width: bool = False) -> None:
        text = value if isinstance(value, Text) else Text(str(value))
        text.no_wrap = True
        text.overflow = "ellipsis"
        index = self.get_column_index(column_key)
        if text.cell_len > self._natural[index]:
            self._natural[index] = text.cell_len
            self.call_after_refresh(self.fit)
        super().update_cell(row_key, column_key, text, update_width=False)

    def on_resize(self) -> None:
        self.fit()

    def fit(self) -> None:
        """Give each column its natural width, or shrink the flexible ones to fit the table's width."""
        if not self.columns or not self.is_mounted:
            return
        padding = 2 * self.cell_padding * len(self.columns)
        available = max(self.size.width - padding - 1, 0)
        widths = list(self._natural)
        flexible = [index for index, column in enumerate(self.fit_columns) if column.flex]
        excess = sum(widths) - available
        # shrink the widest flexible column (per weight) a cell at a time: narrow ones keep their text longest
        while excess > 0:
            candidates = [index for index in flexible if widths[index] > self.fit_columns[index].min_width]
            if not candidates:
                break
            widest = max(candidates, key=lambda index: widths[index] / self.fit_columns[index].weight)
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
