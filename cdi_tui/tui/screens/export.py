"""Export the table in view: where to, and as CSV or JSONL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from cdi_tui.table_export import FORMATS, ExportFormat, format_for
from cdi_tui.tui.base import StyledOnMount


@dataclass(frozen=True)
class ExportRequest:
    path: Path
    export_format: ExportFormat


class ExportModal(StyledOnMount, ModalScreen[ExportRequest | None]):
    """The file (``~`` expands) and the format; a ``.jsonl`` name picks JSONL."""

    DEFAULT_CSS = """
    ExportModal {
        #export-form { height: auto; margin: 1 0; }
        #export-format { width: 16; }
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str, rows: int, suggested: str) -> None:
        super().__init__(classes="modal")
        self.what = what
        self.rows = rows
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        dialog = Vertical(classes="dialog")
        dialog.border_title = f"Export {self.what}"
        with dialog:
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", variant="primary", id="export")
                yield Button("Cancel", id="cancel")
            with Vertical(id="export-form", classes="compact-form"):
                yield Label(f"{self.rows:,} row(s) in view, every column; the file is readable by you only", classes="hint")
                yield Label("File", classes="field-label")
                yield Input(self.suggested, id="export-path")
                yield Label("Format", classes="field-label")
                yield Select(
                    [("CSV", "csv"), ("JSON lines", "jsonl")],
                    value=format_for(Path(self.suggested)),
                    allow_blank=False,
                    id="export-format",
                )

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    @on(Input.Changed, "#export-path")
    def _path_changed(self, event: Input.Changed) -> None:
        self.query_one("#export-format", Select).value = format_for(Path(event.value.strip() or "x.csv"))

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export")
    def _export(self) -> None:
        text = self.query_one("#export-path", Input).value.strip()
        if not text:
            self.notify("Give a file name", severity="warning", timeout=3)
            return
        chosen = str(self.query_one("#export-format", Select).value)
        export_format: ExportFormat = "jsonl" if chosen == "jsonl" else "csv"
        assert export_format in FORMATS
        self.dismiss(ExportRequest(Path(text).expanduser(), export_format))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
