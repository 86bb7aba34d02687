"""The failed rows of one run: search by identifier, export to CSV."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label

from cdi_tui.display import safe_text
from cdi_tui.runlog import RowErrorRecord, write_row_errors_csv
from cdi_tui.tui.base import CdiMixin


class FailedRowsScreen(CdiMixin, Screen[None]):
    CSS_PATH = "failed_rows.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("ctrl+e", "export", "Export CSV")]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(f"Failed rows of run #{self.run_id}", id="title")
        with Horizontal(classes="row"):
            yield Input(placeholder="search by identifier", id="search")
            yield Input(value=f"run-{self.run_id}-failed-rows.csv", id="export-path")
            yield Button("Export CSV", id="export")
        table: DataTable[str] = DataTable(id="rows", cursor_type="row", zebra_stripes=True)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#rows", DataTable).add_columns("UPDATED_AT", "Identifier", "Reason", "Payload")
        self.load()

    def rows(self) -> list[RowErrorRecord]:
        search = self.query_one("#search", Input).value.strip() or None
        return list(self.workspace.runlog.row_errors(self.run_id, search=search, limit=5000))

    def load(self) -> None:
        table = self.query_one("#rows", DataTable)
        table.clear()
        rows = self.rows()
        for row in rows:
            # warehouse text as it is: no markup, control characters escaped
            table.add_row(
                *(
                    Text(safe_text(value))
                    for value in (row.updated_at or "NULL", row.identifier, row.reason, row.payload_preview or "")
                )
            )
        self.sub_title = f"{len(rows)} failed row(s)"

    @on(Input.Changed, "#search")
    def _search(self) -> None:
        self.load()

    @on(Button.Pressed, "#export")
    def action_export(self) -> None:
        path = Path(self.query_one("#export-path", Input).value.strip() or f"run-{self.run_id}-failed-rows.csv").expanduser()
        rows = list(self.workspace.runlog.row_errors(self.run_id))
        try:
            write_row_errors_csv(path, rows)
        except OSError as error:
            self.cdi.show_error("The CSV was not written", f"{path}: {error.strerror}")
            return
        self.notify(f"{len(rows)} row(s) written to {path.resolve()}", timeout=5)
