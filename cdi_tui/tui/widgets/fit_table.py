"""A DataTable whose columns share the width it has: long cells end in an ellipsis (or, for names,
lose their middle: ``demo-att…-large``) instead of the table scrolling sideways. When even the
columns' minimum widths do not fit, the columns marked droppable are left out, the highest
``drop`` first; below that it still scrolls.

It keeps every row whole, so a filter (``/``) can show some and bring the others back, and an
export takes the rows in view with every column, cut or left out or not.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

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
    cut: Literal["end", "middle"] = "end"
    """Where a cell too long for its column loses text: names lose their middle, so that
    ``demo-attributes`` and ``demo-attributes-large`` stay told apart."""


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


def middle_cut(text: Text, width: int) -> Text:
    """``text`` in ``width`` cells, its middle replaced by an ellipsis (its style kept)."""
    if text.cell_len <= width or width < 3:
        return text
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    cut = text[:head] + Text("…") + (text[len(text.plain) - tail :] if tail else Text(""))
    cut.no_wrap = True
    cut.overflow = "ellipsis"
    return cut


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
        self._kept: dict[RowKey, _Row] = {}  # every row with all its cells, filtered out or not
        self._filter = ""
        self._keys = itertools.count(1)
        self._widths: list[int] = []  # the widths given to the columns shown

    def on_mount(self) -> None:
        if self.fit_columns and not self.columns:
            self.add_columns(*(self.fit_columns[index].label for index in self._shown))
        self.fit()

    @property
    def shown_labels(self) -> list[str]:
        """The labels of the columns on screen (droppable ones may be left out)."""
        return [self.fit_columns[index].label for index in self._shown]

    # rows ---------------------------------------------------------------------------------------
    @property
    def total_rows(self) -> int:
        """Every row, those a filter hides included."""
        return len(self._kept)

    @property
    def filter_text(self) -> str:
        return self._filter

    def _matches(self, row: _Row) -> bool:
        if not self._filter:
            return True
        return self._filter in " ".join(cell.plain for cell in row.cells).casefold()

    def rows_in_view(self) -> tuple[list[str], list[list[str]]]:
        """The column labels and, for each row the filter shows, every cell's whole text (for an export)."""
        labels = [column.label for column in self.fit_columns]
        rows = [[cell.plain for cell in row.cells] for row in self._kept.values() if self._matches(row)]
        return labels, rows

    def set_filter(self, text: str) -> None:
        """Show only the rows whose cells contain ``text`` (any case); empty shows every row."""
        wanted = text.strip().casefold()
        if wanted == self._filter:
            return
        self._filter = wanted
        self._rebuild(self._shown)

    def set_columns(self, columns: list[FitColumn]) -> None:
        """Replace the columns (and drop the rows)."""
        super().clear(columns=True)
        self._kept.clear()
        self.fit_columns = columns
        self._natural = [cell_len(column.label) for column in columns]
        self._shown = list(range(len(columns)))
        self._widths = []
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
        row_key = RowKey(key if key is not None else f"fit-row-{next(self._keys)}")
        row = _Row(texts, height, label)
        self._kept[row_key] = row
        if self._matches(row):
            super().add_row(*self._cells_shown(row), height=height, key=row_key.value, label=label)
        self.call_after_refresh(self.fit)
        return row_key

    def remove_row(self, row_key: RowKey | str) -> None:
        key = row_key if isinstance(row_key, RowKey) else RowKey(row_key)
        if key in self.rows:
            super().remove_row(key)
        self._kept.pop(key, None)

    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: Any, *, update_width: bool = False) -> None:
        text = _fitted(value)
        key = row_key if isinstance(row_key, RowKey) else RowKey(row_key)
        index = self._shown[self.get_column_index(column_key)]
        kept = self._kept.get(key)
        if kept is not None and index < len(kept.cells):
            kept.cells[index] = text
        if text.cell_len > self._natural[index]:
            self._natural[index] = text.cell_len
            self.call_after_refresh(self.fit)
        if key in self.rows:
            position = self._shown.index(index)
            super().update_cell(key, column_key, self._cut(text, position), update_width=False)

    def update_row(self, row_key: str, *cells: str | Text) -> None:
        """Replace the cells of a row by its key (every column, shown or not)."""
        kept = self._kept.get(RowKey(row_key))
        if kept is None:
            return
        kept.cells = [_fitted(cell) for cell in cells]
        for index, text in enumerate(kept.cells):
            if index < len(self._natural) and text.cell_len > self._natural[index]:
                self._natural[index] = text.cell_len
                self.call_after_refresh(self.fit)
        if RowKey(row_key) in self.rows:
            for position, column_key in enumerate(self.columns):
                super().update_cell(row_key, column_key, self._display_cell(kept, position), update_width=False)

    # columns and widths ---------------------------------------------------------------------------
    def _cut(self, text: Text, position: int) -> Text:
        """A cell for the column at ``position`` on screen: a name too long loses its middle."""
        index = self._shown[position] if position < len(self._shown) else -1
        if index < 0 or self.fit_columns[index].cut != "middle" or position >= len(self._widths):
            return text
        return middle_cut(text, self._widths[position])

    def _display_cell(self, row: _Row, position: int) -> Text:
        index = self._shown[position]
        return self._cut(row.cells[index], position) if index < len(row.cells) else Text("")

    def _cells_shown(self, row: _Row) -> list[Text]:
        shown = [self._display_cell(row, position) for position in range(len(self._shown))]
        return shown + row.cells[len(self.fit_columns) :]

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

    def _rebuild(self, shown: list[int]) -> None:
        """Rebuild the table with these columns and the rows the filter shows, keeping keys and the cursor."""
        cursor_key = None
        if self.row_count and 0 <= self.cursor_row < self.row_count:
            cursor_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        cursor = self.cursor_row
        super().clear(columns=shown != self._shown or not self.columns)
        if not self.columns:
            self._shown = shown
            self._widths = []
            self.add_columns(*(self.fit_columns[index].label for index in shown))
        for row_key, row in self._kept.items():
            if self._matches(row):
                super().add_row(*self._cells_shown(row), height=row.height, key=row_key.value, label=row.label)
        if self.row_count:
            keys = list(self.rows)
            position = keys.index(cursor_key) if cursor_key in keys else min(max(cursor, 0), self.row_count - 1)
            self.move_cursor(row=position, animate=False)
        self.call_after_refresh(self.fit)

    def fit(self) -> None:
        """Give each column its natural width, or shrink the flexible ones (and leave out droppable ones) to fit."""
        if not self.fit_columns or not self.columns or not self.is_mounted:
            return
        if len(self.columns) == len(self._shown):  # not while columns are being replaced
            shown = self._columns_that_fit(self.size.width)
            if shown != self._shown:
                self._rebuild(shown)
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
        recut = widths != self._widths and any(column.cut == "middle" for column in columns)
        self._widths = widths
        changed = False
        for column, width in zip(self.columns.values(), widths, strict=False):
            if column.width != width or column.auto_width:
                column.width = width
                column.auto_width = False
                changed = True
        if recut:
            self._recut_middle()
        if changed:
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh()

    def _recut_middle(self) -> None:
        """The middle-cut columns' cells again, for the widths they have now."""
        positions = [position for position, index in enumerate(self._shown) if self.fit_columns[index].cut == "middle"]
        column_keys = list(self.columns)
        for row_key in list(self.rows):
            row = self._kept.get(row_key)
            if row is None:
                continue
            for position in positions:
                super().update_cell(row_key, column_keys[position], self._display_cell(row, position), update_width=False)
