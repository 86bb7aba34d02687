"""Step 3 of the setup: the connection test, a preview marked valid or not, the Braze object."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Label, Static

from cdi_tui.checks import ConnectionTestResult
from cdi_tui.engine.transform import RowError, RowTransformer
from cdi_tui.enums import DataType
from cdi_tui.tui.looks import palette
from cdi_tui.tui.widgets.fit_table import FitColumn, FitTable


class TestStep(Vertical):
    """Typed access to step 3; posts ``RunTest``, ``Back`` and ``Finish`` (save as draft or activate)."""

    DEFAULT_CSS = """
    TestStep {
        #summary { width: 1fr; height: auto; padding: 0 1; }
        .test-row { height: auto; padding: 0 1; }
        #test-status { width: 1fr; padding: 0 1; height: auto; }
        #test-error { border: round $error; padding: 0 1; height: auto; margin: 0 1; }
        #results { height: 1fr; }
        #preview-panel { width: 3fr; height: 1fr; }
        #preview { height: 1fr; }
        #object-panel { width: 2fr; height: 1fr; }
        #results.-narrow { layout: vertical; }
        #results.-narrow #object-panel { width: 1fr; height: 8; }
        #results.-narrow #preview-panel { width: 1fr; }
    }
    """

    class RunTest(Message):
        """Test the connection now."""

    class Back(Message):
        """Back to step 2."""

    class Finish(Message):
        def __init__(self, activate: bool) -> None:
            super().__init__()
            self.activate = activate

    def __init__(self) -> None:
        super().__init__(id="step-test")
        self.objects: list[str] = []

    def compose(self) -> ComposeResult:
        yield Label("", id="summary")
        yield Label("Not tested yet: press Test connection", id="test-status")
        yield Static("", id="test-error", markup=False)
        with Horizontal(id="results"):
            with Vertical(id="preview-panel", classes="panel flush") as panel:
                panel.border_title = "Preview: newest rows"
                yield FitTable([], id="preview")
            with VerticalScroll(id="object-panel", classes="panel") as panel:
                panel.border_title = "Braze object of the selected row"
                yield Static("", id="braze-object", markup=False)
        with Horizontal(classes="button-bar step-bar"):
            yield Button("Back", id="back-3", compact=True)
            yield Button("Test connection", variant="primary", id="run-test", compact=True)
            yield Button("Save as draft", id="save-draft", compact=True)
            yield Button("Activate", variant="success", id="activate", disabled=True, compact=True)

    def on_mount(self) -> None:
        self.query_one("#test-error").display = False

    def on_resize(self) -> None:
        self.query_one("#results").set_class(self.size.width < 110, "-narrow")

    # typed accessors ------------------------------------------------------------------------
    @property
    def preview(self) -> FitTable:
        return self.query_one("#preview", FitTable)

    @property
    def activate_button(self) -> Button:
        return self.query_one("#activate", Button)

    @property
    def test_button(self) -> Button:
        return self.query_one("#run-test", Button)

    def set_summary(self, text: str) -> None:
        self.query_one("#summary", Label).update(text)

    def testing(self) -> None:
        self.query_one("#test-status", Label).update("Testing: connecting, checking the table, reading a preview...")
        self.test_button.disabled = True
        self.preview.loading = True

    def show_failure(self, message: str) -> None:
        self.test_button.disabled = False
        self.preview.loading = False
        self.query_one("#test-status", Label).update("Test failed")
        error_box = self.query_one("#test-error", Static)
        error_box.update(message)
        error_box.display = True
        self.query_one("#results").display = False
        self.activate_button.disabled = True

    def show_result(self, result: ConnectionTestResult, data_type: DataType, update_existing_only: bool) -> None:
        assert result.preview is not None and result.shape is not None
        self.test_button.disabled = False
        self.preview.loading = False
        warnings = f" Warning: {'; '.join(result.warnings)}" if result.warnings else ""
        self.query_one("#test-status", Label).update(
            f"Test passed: {result.pending_rows:,} row(s) in the table; newest {len(result.preview.rows)} shown.{warnings}"
        )
        self.query_one("#test-error").display = False
        self.query_one("#results").display = True
        transformer = RowTransformer(result.shape.select_columns, data_type, update_existing_only)
        columns = [FitColumn("VALID?", 6, flex=True)]
        columns += [FitColumn(column.upper(), 8, flex=column.lower() != "updated_at") for column in result.preview.columns]
        preview = self.preview
        preview.set_columns(columns)
        self.objects = []
        colours = palette(self.app)
        for row in result.preview.rows:
            outcome = transformer.transform(list(row))
            if isinstance(outcome, RowError):
                verdict = Text(f"no: {outcome.message}", style=colours.get("text-error", ""))
                self.objects.append(f"This row is not sent: {outcome.message}")
            else:
                verdict = Text("yes", style=colours.get("text-success", ""))
                self.objects.append(f"Braze {outcome.array} object:\n" + json.dumps(outcome.body, indent=2, default=str))
            preview.add_row(verdict, *(_cell(value) for value in row))
        self.show_object(0)
        self.activate_button.disabled = False

    def show_object(self, index: int) -> None:
        if 0 <= index < len(self.objects):
            self.query_one("#braze-object", Static).update(self.objects[index])

    # events -----------------------------------------------------------------------------------
    @on(FitTable.RowHighlighted, "#preview")
    def _row_highlighted(self, event: FitTable.RowHighlighted) -> None:
        self.show_object(event.cursor_row)

    @on(Button.Pressed, "#run-test")
    def _run(self) -> None:
        self.post_message(self.RunTest())

    @on(Button.Pressed, "#back-3")
    def _back(self) -> None:
        self.post_message(self.Back())

    @on(Button.Pressed, "#save-draft")
    def _draft(self) -> None:
        self.post_message(self.Finish(activate=False))

    @on(Button.Pressed, "#activate")
    def _activate(self) -> None:
        self.post_message(self.Finish(activate=True))


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if hasattr(value, "isoformat"):
        return str(value.isoformat(sep=" ", timespec="seconds"))
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"
