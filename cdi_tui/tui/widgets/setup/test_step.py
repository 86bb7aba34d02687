"""The connection test of a saved integration: the setup's step 3 and the integration screen's Test tab.

It tests (connection, table check, a preview marked valid or not, the Braze object of each row,
the SSH host key question when a bastion shows an unknown key) and says what sending would
cost: the preview rows' data points, and on request the whole pending range's (a dry run).
Its workers only post messages; this widget turns them into its own parts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from cdi_tui.checks import ConnectionTestResult
from cdi_tui.config import Integration
from cdi_tui.enums import DataType, IntegrationState, RunStatus
from cdi_tui.errors import CdiError
from cdi_tui.tui.base import CdiMixin
from cdi_tui.tui.looks import palette
from cdi_tui.tui.messages import ConnectionTested, RangeEstimated, RangeEstimateProgressed
from cdi_tui.tui.safe import expected, outside, outside_lines
from cdi_tui.tui.widgets.fit_table import FitColumn, FitTable
from cdi_tui.tui.widgets.scroll import Scroll
from cdi_tui.tui.wording import app_words, mentions_setup_sql
from cdi_tui.warehouse.errors import WarehouseError
from cdi_tui.warehouse.tunnel import HostKeyError
from cdi_tui.workspace import Progress, RowVerdict, RunRecord, WorkspaceError


class TestStep(CdiMixin, Vertical):
    """The connection test of ``integration_name``; posts ``Back`` and ``Finish`` (save as draft or
    activate) in the setup, ``Tested`` after each test, and ``SetupSql`` when the Setup SQL is asked for.

    ``in_setup`` False (the integration screen): no Back or Save as draft; Activate shows for drafts.
    """

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

    class Back(Message):
        """Back to step 2."""

    class Finish(Message):
        def __init__(self, activate: bool) -> None:
            super().__init__()
            self.activate = activate

    class Tested(Message):
        """A connection test ended (passed or not)."""

        def __init__(self, integration: str, ok: bool) -> None:
            super().__init__()
            self.integration = integration
            self.ok = ok

    class SetupSql(Message):
        """Show the Setup SQL (the screen knows what to show it for)."""

    def __init__(self, *, in_setup: bool = True, integration_name: str | None = None, id: str = "step-test") -> None:
        super().__init__(id=id)
        self.in_setup = in_setup
        self.integration_name = integration_name
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
        # narrow from the start when the terminal is (the first resize then changes nothing to restyle)
        with Horizontal(id="results", classes="-narrow" if self.app.size.width < 110 else ""):
            with Vertical(id="preview-panel", classes="panel flush") as panel:
                panel.border_title = "Preview: newest rows"
                yield FitTable([], id="preview")
            with Scroll(id="object-panel", classes="panel") as panel:
                panel.border_title = "Braze object of the selected row"
                yield Static("", id="braze-object", markup=False)
        with Horizontal(classes="button-bar step-bar"):
            if self.in_setup:
                yield Button("Back", id="back-3", compact=True)
            yield Button("Test connection", id="run-test", compact=True)
            if self.in_setup:
                yield Button("Save as draft", id="save-draft", compact=True)
            else:
                yield Button("Setup SQL", id="test-setup-sql", compact=True)
            yield Button("Activate", variant="primary", id="activate", disabled=True, compact=True)

    def on_mount(self) -> None:
        self.query_one("#test-error").display = False
        self.query_one("#estimates").display = False
        if not self.in_setup:
            self.activate_button.display = self._is_draft()

    def _is_draft(self) -> bool:
        try:
            return self.workspace.integration(self.integration_name or "").state == IntegrationState.DRAFT
        except WorkspaceError:
            return False

    def reset(self, summary: str | None = None) -> None:
        """Not tested (yet, or again: the draft changed since its test)."""
        if summary is not None:
            self.set_summary(summary)
        self.query_one("#test-status", Label).update("Not tested yet: press Test connection")
        self.query_one("#test-error").display = False
        self.query_one("#estimates").display = False
        self.query_one("#results").display = True
        self.preview.set_columns([])
        self.query_one("#braze-object", Static).update("")
        self.activate_button.disabled = True
        if not self.in_setup:
            self.activate_button.display = self._is_draft()

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

    def run_test(self) -> None:
        """Test now: connect, check the table, read a preview (in a worker; the result comes as a message)."""
        if self.integration_name is None or self.test_button.disabled:
            return
        self.testing()
        self._test(self.integration_name)

    @work(thread=True, exclusive=True, group="test", exit_on_error=False)
    def _test(self, name: str) -> None:
        try:
            result = self.workspace.test_integration(name)
        except WarehouseError as error:  # what the test itself could not turn into a result
            result = ConnectionTestResult(ok=False, error=error)
        self.post_message(ConnectionTested(name, result))

    def testing(self) -> None:
        self.query_one("#test-status", Label).update("Testing: connecting, checking the table, reading a preview...")
        self.test_button.disabled = True
        self.preview.loading = True
        self.query_one("#estimates").display = False

    def on_connection_tested(self, message: ConnectionTested) -> None:
        message.stop()
        self.show_test(message.integration or self.integration_name or "", message.result)

    def show_test(self, name: str, result: ConnectionTestResult) -> None:
        """Show a test's outcome: the preview and estimate, or the failure (and the host key question)."""
        self.post_message(self.Tested(name, result.ok))
        if not result.ok:
            assert result.error is not None
            text = app_words(f"{result.error.message}.\n\nWhat to try: {result.error.fix}")
            self.show_failure(text)
            if result.preview is not None and result.shape is not None:  # a catalog's fields: the VALID? column names them
                self._show_failed_preview(name, result)
            if isinstance(result.error, HostKeyError):
                self._offer_host_key(name, result.error)  # the question says it all: no error dialog on top
            else:
                action = ("Setup SQL", self._ask_setup_sql) if mentions_setup_sql(text) else None
                self.cdi.show_error("Connection test failed", text, action)
            return
        try:
            integration = self.workspace.integration(name)
        except CdiError as error:
            self.show_failure(str(error))
            return
        verdicts = self.workspace.preview_verdicts(
            result, integration.data_type, integration.update_existing_only, integration.prioritization
        )
        self.show_result(result, verdicts)
        self._show_preview_estimate(integration, result)

    def _show_failed_preview(self, name: str, result: ConnectionTestResult) -> None:
        """A test that read its preview and failed on it (rows with fields the catalog lacks): the
        rows stay in view, marked, and nothing may be activated."""
        try:
            integration = self.workspace.integration(name)
        except WorkspaceError:
            return
        verdicts = self.workspace.preview_verdicts(
            result, integration.data_type, integration.update_existing_only, integration.prioritization
        )
        self.show_result(result, verdicts)
        self.query_one("#test-status", Label).update("Test failed: the rows marked below hold fields the catalog lacks")
        self.query_one("#test-error").display = True
        self.activate_button.disabled = True

    def _show_preview_estimate(self, integration: Integration, result: ConnectionTestResult) -> None:
        """What sending the preview rows now would spend (unchanged values cost nothing)."""
        if integration.data_type == DataType.DELETES:
            self.show_no_data_points()
            return
        assert result.shape is not None and result.preview is not None
        data_points, unchanged = self.workspace.preview_estimate(integration, result.shape, result.preview.rows)
        if integration.data_type == DataType.CATALOGS:
            self.show_no_data_points(catalog_unchanged=unchanged if integration.sends_changed_only else None)
            return
        self.show_estimate(len(result.preview.rows), data_points, unchanged if integration.sends_changed_only else None)

    def _offer_host_key(self, name: str, error: HostKeyError) -> None:
        """Ask whether to trust the bastion's host key shown; accepted, test again."""
        from cdi_tui.tui.screens.modals import ConfirmModal, FingerprintModal

        integration = self.workspace.integration(name)
        credential = self.workspace.config().credentials[integration.credential]
        changed = error.kind == "ssh_host_key_changed"
        question = (
            f"{error.message}.\n\nCheck the fingerprint with the bastion's administrator. Trust this host key "
            f"{error.shown_fingerprint} for {credential.ssh_host}?"
        )

        def answered(accept: bool | None) -> None:
            if not accept:
                return
            try:
                self.workspace.accept_host_key(credential.name, error.shown_fingerprint)
            except CdiError as refusal:
                self.cdi.show_error("The host key was not accepted", str(refusal))
                return
            self.cdi.config_changed()
            self.notify(f"Host key {error.shown_fingerprint} accepted for {credential.name}", timeout=4)
            self.run_test()

        if changed:  # a key that differs from the trusted one: only with its fingerprint typed, as the CLI asks
            self.app.push_screen(FingerprintModal(question, error.shown_fingerprint), answered)
            return
        self.app.push_screen(
            ConfirmModal(question, "Trust this key", danger=False, cancel_label="Do not connect", title="Unknown SSH host key"),
            answered,
        )

    # the whole pending range --------------------------------------------------------------------
    def estimate_range(self) -> None:
        if self.integration_name is None:
            return
        self.estimating()
        self._estimate(self.integration_name)

    @work(thread=True, exclusive=True, group="estimate", exit_on_error=False)
    def _estimate(self, name: str) -> None:
        cancel = get_current_worker().cancelled_event  # leaving the screen stops the dry run

        def report(progress: Progress) -> None:
            self.post_message(RangeEstimateProgressed(progress))

        try:
            record = self.workspace.estimate(name, report, cancel)
        except CdiError as error:  # reported in one line beside the button (a bug fails the worker: the crash report)
            self.post_message(RangeEstimated(name, None, str(error) or type(error).__name__))
        else:
            self.post_message(RangeEstimated(name, record))

    def on_range_estimate_progressed(self, message: RangeEstimateProgressed) -> None:
        message.stop()
        self.estimate_progressed(message.progress)

    def on_range_estimated(self, message: RangeEstimated) -> None:
        message.stop()
        if message.record is None:
            self.show_range_estimate_failed(app_words(message.error or "unknown error"))
            return
        try:
            integration = self.workspace.integration(message.integration)
        except CdiError as error:
            self.show_range_estimate_failed(str(error))
            return
        self.show_range_estimate(message.record, integration.sends_changed_only)

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
        if not self.in_setup:
            self.activate_button.display = self._is_draft()

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

    def show_no_data_points(self, catalog_unchanged: int | None = None) -> None:
        """Deletes and catalog syncs spend no data points: nothing to estimate (a catalog's dry run
        still says how many items would be sent)."""
        if catalog_unchanged is None and not self._catalog():
            self._show_estimates("Deletes spend no data points: deleting users costs none, whatever the number of rows.")
            self.estimate_button.display = False
            return
        unchanged = f" ({catalog_unchanged:,} of these preview items unchanged: not sent again)" if catalog_unchanged else ""
        self._show_estimates(f"Catalog syncs spend no data points: Braze bills catalogs by their storage.{unchanged}")
        self.estimate_button.display = True

    def _catalog(self) -> bool:
        try:
            return self.workspace.integration(self.integration_name or "").data_type == DataType.CATALOGS
        except WorkspaceError:
            return False

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
        if self._catalog():
            self.range_estimate_label.update(
                f"The whole pending range, {record.rows_read:,} rows, would send {record.rows_skipped:,} item row(s)"
                f"{unchanged}{invalid}; no data points."
            )
            return
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
        self.run_test()

    @on(Button.Pressed, "#estimate-range")
    def _estimate_range(self) -> None:
        self.estimate_range()

    @on(Button.Pressed, "#test-setup-sql")
    def _ask_setup_sql(self) -> None:
        self.post_message(self.SetupSql())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A test or estimate that broke outside its own accounting: say so, and allow another try."""
        if event.state != WorkerState.ERROR or event.worker.group not in ("test", "estimate"):
            return
        event.stop()
        message = str(expected(event.worker.error))  # a bug goes on to the crash report
        if event.worker.group == "estimate":
            self.show_range_estimate_failed(app_words(message))
            return
        self.test_button.disabled = False
        self.preview.loading = False
        self.cdi.show_error("The connection test did not run", message)

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
