"""The failed rows of one run: search by identifier, export to CSV."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input

from cdi_tui.display import safe_text
from cdi_tui.tui.base import CdiMixin
from cdi_tui.tui.looks import local_time_text
from cdi_tui.tui.schedule_text import workspace_zone
from cdi_tui.tui.widgets.fit_table import FitColumn, FitTable
from cdi_tui.tui.widgets.header import WorkspaceHeader
from cdi_tui.workspace import RowErrorRecord, write_row_errors_csv

COLUMNS = [
    FitColumn("UPDATED_AT"),
    FitColumn("Identifier", 10, flex=True),
    FitColumn("Reason", 12, flex=True),
    FitColumn("Payload", 8, flex=True),
]


class FailedRowsScreen(CdiMixin, Screen[None]):
    HELP = "The rows of one run that were not delivered, with the reason. Search by identifier; export all of them to CSV."
    DEFAULT_CSS = """
    FailedRowsScreen {
        #search { width: 1fr; margin: 0 1; }
        #rows-panel { height: 1fr; }
        #export-path { width: 1fr; }
    }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("ctrl+f", "search", "Search", id="search"),
        Binding("ctrl+e", "export", "Export CSV", id="export", tooltip="Every failed row of the run, to the file named"),
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        yield WorkspaceHeader()
        yield Input(placeholder="search by identifier", id="search")
        panel = Vertical(FitTable(COLUMNS, id="rows"), id="rows-panel", classes="panel flush")
        panel.border_title = f"Failed rows of run #{self.run_id}"
        yield panel
        with Horizontal(classes="button-bar"):
            yield Input(value=f"run-{self.run_id}-failed-rows.csv", id="export-path", compact=True)
            yield Button("Export CSV", id="export", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Failed rows of run #{self.run_id}"
        self.load()
        self.query_one("#rows", FitTable).focus()

    def rows(self) -> list[RowErrorRecord]:
        search = self.query_one("#search", Input).value.strip() or None
        return list(self.workspace.row_errors(self.run_id, search=search, limit=5000))

    def load(self) -> None:
        table = self.query_one("#rows", FitTable)
        table.clear()
        rows = self.rows()
        zone = workspace_zone(self.workspace)
        for row in rows:
            # warehouse text as it is: no markup, control characters escaped
            table.add_row(
                *(
                    Text(safe_text(value))
                    for value in (
                        local_time_text(row.updated_at, zone),
                        row.identifier,
                        row.reason,
                        row.payload_preview or "",
                    )
                )
            )
        self.query_one("#rows-panel").border_subtitle = f"{len(rows)} row(s)"

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    @on(Input.Changed, "#search")
    def _search(self) -> None:
        self.load()

    @on(Button.Pressed, "#export")
    @on(Input.Submitted, "#export-path")
    def action_export(self) -> None:
        path = Path(self.query_one("#export-path", Input).value.strip() or f"run-{self.run_id}-failed-rows.csv").expanduser()
        rows = list(self.workspace.row_errors(self.run_id))
        try:
            write_row_errors_csv(path, rows)
        except OSError as error:
            self.cdi.show_error("The CSV was not written", f"{path}: {error.strerror}")
            return
        self.notify(f"{len(rows)} row(s) written to {path.resolve()}", timeout=5)
