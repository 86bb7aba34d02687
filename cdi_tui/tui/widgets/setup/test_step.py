"""Step 3 of the setup: the connection test, a preview marked valid or not, the Braze object,
and what sending would cost: the preview rows' data points, and on request the whole pending range's."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Label, Static

from cdi_tui.checks import ConnectionTestResult
from cdi_tui.enums import RunStatus
from cdi_tui.tui.looks import palette
from cdi_tui.tui.safe import outside, outside_lines
from cdi_tui.tui.widgets.fit_table import FitColumn, FitTable
from cdi_tui.workspace import Progress, RowVerdict, RunRecord


class TestStep(Vertical):
    """Typed access to step 3; posts ``RunTest``, ``Back`` and ``Finish`` (save as draft or activate)."""

    DEFAULT_CSS = """
    TestStep {
        #summary { width: 1fr; height: auto; padding: 0 1; }
        .test-row { height: auto; padding: 0 1; }
        #test-status { width: 1fr; padding: 0 1; height: auto; }
        #test-error { border: round $error; padding: 0 1; height: auto; margin: 0 1; }
        #estimates { height: auto; padding: 0 1; }
        #estimate-row { height: auto; }
        #estimates Label { width: 1fr; }
        #range-estimate.-failed { color: $text-error; text-wrap: nowrap; text-overflow: ellipsis; }
        #estimate-range { margin-left: 1; }
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

    class EstimateRange(Message):
        """Estimate the whole pending range now (a dry run of the saved draft)."""

    def __init__(self) -> None:
        super().__init__(id="step-test")
        self.objects: list[str] = []

    def compose(self) -> ComposeResult:
        yield Label("", id="summary", markup=False)
        yield Label("Not tested yet: press Test connection", id="test-status", markup=False)
        yield Static("", id="test-error", markup=False)
        with Vertical(id="estimates"):
            with Horizontal(id="estimate-row"):
                yield Label("", id="estimate", markup=False)
                yield Button("Estimate whole range", id="estimate-range", compact=True, disabled=True)
            yield Label("", id="range-estimate", markup=False)
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
        self.query_one("#estimates").display = False

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

    @property
    def estimate_button(self) -> Button:
        return self.query_one("#estimate-range", Button)

    @property
    def preview_estimate_label(self) -> Label:
        return self.query_one("#estimate", Label)

    @property
    def range_estimate_label(self) -> Label:
        return self.query_one("#range-estimate", Label)

    def set_summary(self, text: str) -> None:
        self.query_one("#summary", Label).update(outside(text))

    def testing(self) -> None:
        self.query_one("#test-status", Label).update("Testing: connecting, checking the table, reading a preview...")
        self.test_button.disabled = True
        self.preview.loading = True
        self.query_one("#estimates").display = False

    def show_failure(self, message: str) -> None:
        self.test_button.disabled = False
        self.preview.loading = False
        self.query_one("#estimates").display = False
        self.query_one("#test-status", Label).update("Test failed")
        error_box = self.query_one("#test-error", Static)
        error_box.update(outside_lines(message))
        error_box.display = True
        self.query_one("#results").display = False
        self.activate_button.disabled = True

    def show_result(self, result: ConnectionTestResult, verdicts: Sequence[RowVerdict]) -> None:
        assert result.preview is not None and result.shape is not None
        self.test_button.disabled = False
        self.preview.loading = False
        warnings = f" Warning: {'; '.join(result.warnings)}" if result.warnings else ""
        self.query_one("#test-status", Label).update(
            outside(
                f"Test passed: {result.pending_rows:,} row(s) in the table; newest {len(result.preview.rows)} shown.{warnings}"
            )
        )
        self.query_one("#test-error").display = False
        self.query_one("#results").display = True
        columns = [FitColumn("VALID?", 6, flex=True)]
        columns += [FitColumn(column.upper(), 8, flex=column.lower() != "updated_at") for column in result.preview.columns]
        preview = self.preview
        preview.set_columns(columns)
        self.objects = []
        colours = palette(self.app)
        for row, row_verdict in zip(result.preview.rows, verdicts, strict=True):
            if row_verdict.object is None:
                verdict = outside(f"no: {row_verdict.problem}", style=colours.get("text-error", ""))
                self.objects.append(f"This row is not sent: {row_verdict.problem}")
            else:
                verdict = Text("yes", style=colours.get("text-success", ""))
                body = json.dumps(row_verdict.object.body, indent=2, default=str)
                self.objects.append(f"Braze {row_verdict.object.array} object:\n{body}")
            preview.add_row(verdict, *(_cell(value) for value in row))
        self.show_object(0)
        self.activate_button.disabled = False

    # what sending would cost ------------------------------------------------------------------
    def show_estimate(self, preview_rows: int, data_points: int, unchanged: int | None) -> None:
        """The preview rows' estimate; ``unchanged`` None when every attribute is sent (no change filter).

        The whole-range estimate is offered again (an earlier one belonged to an earlier test).
        """
        unchanged_text = f" ({unchanged:,} unchanged)" if unchanged is not None else ""
        self._show_estimates(
            f"Sending these {preview_rows:,} preview rows now would spend {data_points:,} data points{unchanged_text}."
        )
        self.estimate_button.display = True

    def show_no_data_points(self) -> None:
        """Deletes spend no data points: nothing to estimate."""
        self._show_estimates("Deletes spend no data points: deleting users costs none, whatever the number of rows.")
        self.estimate_button.display = False

    def _show_estimates(self, preview_text: str) -> None:
        self.query_one("#estimates").display = True
        self.preview_estimate_label.update(preview_text)
        self.range_estimate_label.update("")
        self.range_estimate_label.display = False
        self.range_estimate_label.remove_class("-failed")
        self.range_estimate_label.tooltip = None
        self.estimate_button.disabled = False
        self.estimate_button.loading = False

    def estimating(self) -> None:
        self.estimate_button.disabled = True
        self.estimate_button.loading = True  # busy is visible while the dry run reads the range
        self.range_estimate_label.remove_class("-failed")
        self.range_estimate_label.tooltip = None
        self.range_estimate_label.display = True
        self.range_estimate_label.update("Estimating the whole pending range: a dry run reads every row and sends nothing...")

    def estimate_progressed(self, progress: Progress) -> None:
        if not self.estimate_button.loading:
            return  # a late report of an estimate that has ended
        total = f"/{progress.total:,}" if progress.total else ""
        self.range_estimate_label.update(
            f"Estimating the whole pending range: {progress.done:,}{total} rows read, "
            f"{progress.data_points:,} data points so far..."
        )

    def show_range_estimate(self, record: RunRecord, sends_changed_only: bool) -> None:
        self.estimate_button.loading = False
        self.estimate_button.disabled = False
        if record.status in (RunStatus.ERROR, RunStatus.CANCELLED, RunStatus.INTERRUPTED):
            self.show_range_estimate_failed(record.error or f"the dry run ended {record.status}")
            return
        unchanged = f" ({record.rows_unchanged:,} unchanged)" if sends_changed_only else ""
        invalid = f"; {record.rows_failed:,} row(s) not valid" if record.rows_failed else ""
        self.range_estimate_label.update(
            f"The whole pending range, {record.rows_read:,} rows, would spend {record.data_points:,} data points"
            f"{unchanged}{invalid}."
        )

    def show_range_estimate_failed(self, reason: str) -> None:
        self.estimate_button.loading = False
        self.estimate_button.disabled = False
        self.range_estimate_label.display = True
        self.range_estimate_label.add_class("-failed")
        one_line = " ".join(reason.split())  # one line, whatever the error's shape; all of it in the tooltip
        self.range_estimate_label.update(outside(f"Whole-range estimate failed: {one_line}"))
        self.range_estimate_label.tooltip = outside(one_line)

    def show_object(self, index: int) -> None:
        if 0 <= index < len(self.objects):
            self.query_one("#braze-object", Static).update(outside_lines(self.objects[index]))

    # events -----------------------------------------------------------------------------------
    @on(FitTable.RowHighlighted, "#preview")
    def _row_highlighted(self, event: FitTable.RowHighlighted) -> None:
        self.show_object(event.cursor_row)

    @on(Button.Pressed, "#run-test")
    def _run(self) -> None:
        self.post_message(self.RunTest())

    @on(Button.Pressed, "#estimate-range")
    def _estimate_range(self) -> None:
        self.post_message(self.EstimateRange())

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
