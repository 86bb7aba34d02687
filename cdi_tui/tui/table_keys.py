"""``/`` and ``e`` on every screen with a table: filter the table in view, export it (CSV or JSONL)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.binding import Binding

from cdi_tui.tui.base import CdiMixin
from cdi_tui.tui.widgets.filter_bar import FilterBar
from cdi_tui.tui.widgets.fit_table import FitTable

if TYPE_CHECKING:
    from cdi_tui.tui.screens.export import ExportRequest

FILTER_BINDING = Binding("slash", "filter", "Filter", id="filter", tooltip="Show only the rows containing a text; Esc clears")
EXPORT_BINDING = Binding("e", "export", "Export", id="export", tooltip="The rows in view, every column, to CSV or JSONL")


class TableKeys(CdiMixin):
    """Screens with tables name the one in view (:meth:`table_in_view`); ``/`` and ``e`` act on it."""

    def table_in_view(self) -> tuple[FitTable, FilterBar, str] | None:
        """The table on screen now, its filter bar, and what it holds (for the export's title and file name)."""
        raise NotImplementedError

    def action_filter(self) -> None:
        found = self.table_in_view()
        if found is not None:
            found[1].open()

    def action_export(self) -> None:
        from cdi_tui.tui.screens.export import ExportModal

        found = self.table_in_view()
        if found is None:
            return
        table, _bar, what = found
        labels, rows = table.rows_in_view()
        if not rows:
            self.cdi.notify(f"No {what} in view to export", timeout=3)
            return
        slug = "-".join("".join(char if char.isalnum() else " " for char in what.lower()).split())

        def chosen(request: ExportRequest | None) -> None:
            if request is not None:
                self._write_export(request.path, request.export_format, labels, rows)

        self.cdi.push_screen(ExportModal(what, len(rows), f"cdi-tui-{slug}.csv"), chosen)

    def _write_export(self, path: Path, export_format: str, labels: list[str], rows: list[list[str]]) -> None:
        from cdi_tui.table_export import ExportError, write_table

        try:
            count = write_table(path, "jsonl" if export_format == "jsonl" else "csv", labels, rows)
        except ExportError as error:
            self.cdi.show_error("The export was not written", str(error))
            return
        self.cdi.notify(f"{count:,} row(s) written to {path.resolve()}", timeout=5)
