"""The failed rows of one run: filter (``/``), a row in full (Enter: the whole reason, the payload
pretty-printed, copy), export (``e``: the rows in view, CSV or JSONL)."""

from __future__ import annotations

import json

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label, Static

from cdi_tui.display import safe_text
from cdi_tui.errors import CdiError
from cdi_tui.tui.base import StyledOnMount
from cdi_tui.tui.looks import local_time_text
from cdi_tui.tui.schedule_text import integration_zone
from cdi_tui.tui.table_keys import EXPORT_BINDING, FILTER_BINDING, TableKeys
from cdi_tui.tui.widgets.filter_bar import FilterBar
from cdi_tui.tui.widgets.fit_table import FitColumn, FitTable
from cdi_tui.tui.widgets.footer import KeysFooter
from cdi_tui.tui.widgets.header import WorkspaceHeader, show_braze_workspace
from cdi_tui.tui.widgets.scroll import Scroll
from cdi_tui.workspace import RowErrorRecord

COLUMNS = [
    FitColumn("UPDATED_AT"),
    FitColumn("Identifier", 10, flex=True, cut="middle"),
    FitColumn("Reason", 12, flex=True, weight=2),
    FitColumn("Payload", 8, flex=True),
]
ROWS_SHOWN = 5000


def pretty_payload(payload: str | None) -> str:
    """The payload as kept (its first 300 characters), indented when it reads as JSON."""
    if not payload:
        return "(no payload)"
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload  # not JSON, or cut short: as it is


def row_detail_text(row: RowErrorRecord, zone: str) -> str:
    """A failed row in full, as the detail shows it and the clipboard gets it."""
    return (
        f"UPDATED_AT  {local_time_text(row.updated_at, zone)} ({row.updated_at or 'NULL'})\n"
        f"Identifier  {row.identifier or '(none)'}\n"
        f"Code        {row.code}\n"
        f"Reason      {row.reason}\n\n"
        f"Payload\n{pretty_payload(row.payload_preview)}"
    )


class RowDetailModal(StyledOnMount, ModalScreen[None]):
    """One failed row in full: nothing cut, the payload indented; ``c`` copies it."""

    DEFAULT_CSS = """
    RowDetailModal {
        #detail { height: auto; }
    }
    """
    BINDINGS = [
        Binding("escape", "close", "Close", id="close"),
        Binding("c", "copy", "Copy", id="copy-row", tooltip="The row in full, to the clipboard"),
    ]

    def __init__(self, run_id: int, row: RowErrorRecord, zone: str) -> None:
        super().__init__(classes="modal")
        self.run_id = run_id
        # warehouse text as it is: no markup, control characters escaped (the text's own line breaks kept)
        self.text = "\n".join(safe_text(line) for line in row_detail_text(row, zone).split("\n"))

    def compose(self) -> ComposeResult:
        dialog = Vertical(classes="dialog wide-dialog")
        dialog.border_title = f"Failed row of run #{self.run_id}"
        with dialog:
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy", id="copy")
                yield Button("Close", variant="primary", id="close")
            with Scroll(classes="dialog-scroll", id="detail-scroll"):
                yield Static(self.text, id="detail", markup=False)

    def on_mount(self) -> None:
        self.query_one("#detail-scroll").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.notify("Copied to the clipboard (where the terminal allows it)", timeout=3)

    def action_close(self) -> None:
        self.dismiss(None)


class FailedRowsScreen(TableKeys, StyledOnMount, Screen[None]):
    HELP = (
        "The rows of one run that were not delivered, with the reason. Enter shows a row in full (the whole "
        "reason, the payload indented) to read or copy; / filters the rows; e exports the rows in view."
    )
    DEFAULT_CSS = """
    FailedRowsScreen {
        #rows-panel { height: 1fr; }
    }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("enter", "detail", "Row in full", id="row-detail", tooltip="The whole reason, the payload indented, copy"),
        FILTER_BINDING,
        EXPORT_BINDING,
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.records: dict[str, RowErrorRecord] = {}
        self.integration = ""  # the run's integration, once read
        self.braze_workspace: str | None = None  # its Braze workspace, as the header shows it

    def compose(self) -> ComposeResult:
        yield WorkspaceHeader()
        table = FitTable(COLUMNS, id="rows")
        with Vertical(id="rows-panel", classes="panel flush") as panel:
            panel.border_title = f"Failed rows of run #{self.run_id}"
            yield FilterBar(table, id="rows-filter")
            yield table
        with Horizontal(classes="button-bar"):
            yield Button("Row in full", variant="primary", id="detail", compact=True)
            yield Button("Export", id="export", compact=True)
            yield Label("Enter: a row in full · / filter · e export", classes="hint")
        yield KeysFooter(compact=True, show_command_palette=False)

    @property
    def rows_table(self) -> FitTable:
        return self.query_one("#rows", FitTable)

    def table_in_view(self) -> tuple[FitTable, FilterBar, str] | None:
        return self.rows_table, self.query_one("#rows-filter", FilterBar), f"failed rows of run {self.run_id}"

    def _braze_workspace(self) -> str | None:
        """The Braze workspace of the run's integration (the header names it), when it still exists."""
        try:
            config = self.workspace.config()
        except CdiError:
            return None
        integration = config.integrations.get(self.integration)
        return integration.workspace if integration is not None else None

    def on_mount(self) -> None:
        self.sub_title = f"Failed rows of run #{self.run_id}"
        record = self.workspace.run(self.run_id)
        self.integration = record.integration if record is not None else ""
        show_braze_workspace(self, self._braze_workspace())
        self.load()
        self.rows_table.focus()

    def load(self) -> None:
        table = self.rows_table
        table.clear()
        rows = self.workspace.row_errors(self.run_id, limit=ROWS_SHOWN)
        zone = integration_zone(self.workspace, self.integration)
        self.records = {}
        for index, row in enumerate(rows):
            key = str(index)
            self.records[key] = row
            # warehouse text as it is: no markup, control characters escaped
            table.add_row(
                *(
                    Text(safe_text(value))
                    for value in (local_time_text(row.updated_at, zone), row.identifier, row.reason, row.payload_preview or "")
                ),
                key=key,
            )
        self.query_one("#rows-panel").border_subtitle = f"{len(rows)} row(s)" + (
            f" (the first {ROWS_SHOWN:,}; the export of 'cdi-tui errors' has all)" if len(rows) == ROWS_SHOWN else ""
        )
        self.query_one("#rows-filter", FilterBar).refresh_count()

    def selected(self) -> RowErrorRecord | None:
        table = self.rows_table
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return self.records.get(str(row_key.value))

    @on(Button.Pressed, "#detail")
    def action_detail(self) -> None:
        row = self.selected()
        if row is not None:
            self.app.push_screen(RowDetailModal(self.run_id, row, integration_zone(self.workspace, self.integration)))

    def on_data_table_row_selected(self, event: FitTable.RowSelected) -> None:
        event.stop()
        self.action_detail()

    @on(Button.Pressed, "#export")
    def _export_pressed(self) -> None:
        self.action_export()
