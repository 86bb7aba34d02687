"""One integration: overview, rows per run and run history on one tab, its settings on another;
the actions in a bar docked at the bottom, always visible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Label, Static, Switch, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from cdi_tui.config import Integration
from cdi_tui.enums import DataType, IntegrationState, Trigger
from cdi_tui.fields import DATA_TYPE_LABELS, INTEGRATION_FIELDS, field_by_key
from cdi_tui.tui.actions import delete_integration, full_resync, pause_or_resume, sync_now
from cdi_tui.tui.base import CdiMixin
from cdi_tui.tui.looks import local_time, palette, state_text, status_text
from cdi_tui.tui.schedule_text import next_three_text, workspace_zone
from cdi_tui.tui.widgets.fields import FieldInput, SwitchField, collect
from cdi_tui.tui.widgets.fit_table import FitColumn, FitTable
from cdi_tui.tui.widgets.frequency import FrequencyPicker
from cdi_tui.tui.widgets.header import WorkspaceHeader
from cdi_tui.tui.widgets.progress_panel import ProgressPanels
from cdi_tui.tui.widgets.run_chart import RunChart
from cdi_tui.workspace import RunRecord, WorkspaceError

EDITABLE = ("credential", "table", "contact_emails", "notify_row_error_percent")
SWITCHES = (
    ("update_existing_only", "Update existing users only"),
    ("notify_success", "Email on every success"),
    ("notify_no_rows", "Email when a run finds no new rows"),
)
CHANGED_ONLY_HINT = "values unchanged since they were delivered are not sent; off forgets what was delivered"
# narrow, the table leaves out Duration, then Last UPDATED_AT, Started and Read: what ran (its
# trigger, a dry run's included) and what it sent, failed, left unchanged and spent stay in view
RUN_COLUMNS = [
    FitColumn("Run"),
    FitColumn("Trigger", 6, flex=True),
    FitColumn("Status"),
    FitColumn("Read", drop=1),
    FitColumn("Sent"),
    FitColumn("Failed"),
    FitColumn("Unchanged"),
    FitColumn("Data points"),
    FitColumn("Last UPDATED_AT", 10, flex=True, drop=3),
    FitColumn("Started", drop=2),
    FitColumn("Duration", drop=4),
]
TRIGGERS = {Trigger.FULL_RESYNC: "full resync"}


@dataclass
class RunsLoaded(Message):
    records: list[RunRecord]
    zone: str
    data_points_30_days: int


def data_points_cell(record: RunRecord) -> str:
    """The data points a run spent; a dry run's are what it would have spent."""
    return f"{record.data_points:,} (dry)" if record.dry_run else f"{record.data_points:,}"


def spend_text(integration: Integration, data_points: int) -> str:
    """What the integration spent in the last 30 days, as the runs panel's subtitle says it."""
    if integration.data_type == DataType.DELETES:
        return "deletes spend no data points"
    text = f"{data_points:,} data points in the last 30 days"
    return text + (" · changed attributes only" if integration.sends_changed_only else "")


class IntegrationScreen(CdiMixin, Screen[None]):
    HELP = (
        "One integration: its runs with the rows left unchanged and the data points each spent, the last 30 days' "
        "data points below them (Enter on a run shows its failed rows), its settings, and what you can do with it."
    )
    DEFAULT_CSS = """
    IntegrationScreen {
        #tabs { height: 1fr; }
        #runs-tab { height: 1fr; }
        #overview { height: auto; }
        #chart-panel { height: auto; }
        #runs-panel { height: 1fr; }
        #settings-scroll { height: 1fr; padding: 0 1; }
        .switch-row { height: auto; }
        .switch-row > Label { padding: 1 1; }
    }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("s", "sync_now", "Sync Now", id="sync", tooltip="A manual sync; scheduled runs do not move"),
        Binding("c", "cancel_sync", "Cancel", id="cancel", tooltip="Requests in flight finish; the run is recorded"),
        Binding("p", "pause_resume", "Pause/Resume", id="pause"),
        Binding("f", "failed_rows", "Failed rows", id="failed", tooltip="Failed rows of the selected run"),
        Binding("ctrl+r", "full_resync", "Full resync", id="resync", tooltip="Send every row again (asks first)"),
        Binding("ctrl+d", "delete", "Delete", id="delete", tooltip="Asks first; a new integration of the same name starts afresh"),
        Binding("e", "edit_settings", "Settings", id="settings", tooltip="Frequency, credential, table, contacts"),
        Binding("ctrl+s", "save", "Save settings", show=False, id="save"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.integration_name = name

    def compose(self) -> ComposeResult:
        integration = self.workspace.integration(self.integration_name)
        yield WorkspaceHeader()
        with TabbedContent(id="tabs"):
            with TabPane("Runs", id="runs-tab"):
                overview = Static("", id="overview", classes="panel")
                overview.border_title = self.integration_name
                yield overview
                chart = Vertical(RunChart(id="chart"), id="chart-panel", classes="panel")
                chart.border_title = "Rows per run"
                yield chart
                runs = Vertical(FitTable(RUN_COLUMNS, id="runs"), id="runs-panel", classes="panel flush")
                runs.border_title = "Runs"
                yield runs
            with TabPane("Settings", id="settings-tab"):
                with VerticalScroll(id="settings-scroll"):
                    yield Label(f"Data type: {DATA_TYPE_LABELS[integration.data_type]} (fixed)", classes="field-label")
                    yield Label("Frequency", classes="field-label")
                    yield FrequencyPicker(
                        integration.frequency,
                        workspace_zone(self.workspace),
                        self.cdi.clock,
                        id="frequency",
                        scheduled=integration.state == IntegrationState.ACTIVE,
                    )
                    for key in EDITABLE:
                        value = getattr(integration, key)
                        if key == "contact_emails":
                            value = ", ".join(value)
                        yield FieldInput(field_by_key(INTEGRATION_FIELDS, key), "" if value is None else value)
                    if integration.data_type == DataType.ATTRIBUTES:
                        yield SwitchField(
                            field_by_key(INTEGRATION_FIELDS, "send_changed_only"),
                            integration.sends_changed_only,
                            switch_id="switch-send_changed_only",
                            hint=CHANGED_ONLY_HINT,
                        )
                    for key, label in SWITCHES:
                        with Horizontal(classes="switch-row"):
                            yield Switch(getattr(integration, key), id=f"switch-{key}")
                            yield Label(label)
                with Horizontal(classes="button-bar step-bar", id="settings-bar"):
                    yield Button("Save settings", variant="primary", id="save", compact=True)
                    yield Label("A new credential or table sends it back to Draft until tested again.", classes="hint")
        with Horizontal(classes="button-bar", id="actions"):
            yield Button("Sync Now", variant="primary", id="sync", compact=True)
            yield Button("Cancel", id="cancel", compact=True)
            yield Button("Pause/Resume", id="pause", compact=True)
            yield Button("Failed rows", id="failed", compact=True)
            yield Button("Full resync", id="resync", compact=True)
            yield Button("Delete", variant="error", id="delete", compact=True)
        yield ProgressPanels(id="panels")
        yield Footer()

    @property
    def runs_table(self) -> FitTable:
        return self.query_one("#runs", FitTable)

    def on_mount(self) -> None:
        self.sub_title = f"Integration {self.integration_name}"
        self.watch(self.cdi, "running", self._state_changed, init=False)
        self.watch(self.cdi, "config_version", self._state_changed, init=False)
        self.refresh_data()
        self.runs_table.focus()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def _state_changed(self, *_args: object) -> None:
        if self.is_attached:
            self.refresh_data()

    def refresh_data(self) -> None:
        workspace = self.workspace
        try:
            integration = workspace.integration(self.integration_name)
        except WorkspaceError:
            if self.is_current:
                self.dismiss(None)
            return
        zone = workspace_zone(workspace)
        running = self.cdi.runner.is_running(self.integration_name)
        tested = workspace.is_tested(self.integration_name)
        overview = Text("State ")
        overview.append_text(state_text(self.app, "running" if running else integration.state, 0 if running else None))
        if not tested:
            overview.append("  (needs a connection test)", style=palette(self.app).get("text-warning"))
        overview.append(f"\n{DATA_TYPE_LABELS[integration.data_type]} from {integration.table} via {integration.credential}")
        overview.append(f"\n{integration.frequency}: ")
        if integration.state == IntegrationState.ACTIVE:
            overview.append(next_three_text(integration.frequency, zone, self.cdi.clock()))
        else:
            overview.append(f"no scheduled runs while {integration.state}")
        self.query_one("#overview", Static).update(overview)
        self.query_one("#frequency", FrequencyPicker).set_scheduled(integration.state == IntegrationState.ACTIVE)
        self.runs_table.loading = True  # busy is visible while the run history is read
        self._load_runs(zone, self.cdi.clock())

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def _load_runs(self, zone: str, now: datetime) -> None:
        records = self.workspace.runs(self.integration_name, 50)
        spent = self.workspace.data_points_since(self.integration_name, days=30, now=now)
        self.post_message(RunsLoaded(records, zone, spent))

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        records, zone = message.records, message.zone
        table = self.runs_table
        table.loading = False
        cursor = table.cursor_row
        table.clear()
        for record in records:
            watermark = record.end_watermark or record.start_watermark
            trigger = TRIGGERS.get(record.trigger, record.trigger)
            if record.full_resync and record.trigger != Trigger.FULL_RESYNC:
                trigger += " (full)"
            table.add_row(
                str(record.id),
                trigger + (" (dry)" if record.dry_run else ""),
                status_text(self.app, record.status),
                f"{record.rows_read:,}",
                f"{record.rows_sent:,}",
                f"{record.rows_failed:,}",
                f"{record.rows_unchanged:,}",
                data_points_cell(record),
                local_time(watermark.updated_at if watermark else None, zone),
                local_time(record.started_at, zone),
                f"{record.duration_seconds:.1f}s" if record.duration_seconds is not None else "-",
                key=str(record.id),
            )
        if records:
            table.move_cursor(row=min(max(cursor, 0), len(records) - 1))
        runs_panel = self.query_one("#runs-panel")
        runs_panel.border_title = f"Runs ({len(records)})"
        try:
            integration = self.workspace.integration(self.integration_name)
        except WorkspaceError:
            return  # deleted meanwhile: refresh_data leaves the screen
        runs_panel.border_subtitle = spend_text(integration, message.data_points_30_days)
        self.query_one("#chart", RunChart).runs = [(record.rows_read, record.status) for record in reversed(records)]

    def selected_run(self) -> int | None:
        table = self.runs_table
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(str(row_key.value))

    # settings -------------------------------------------------------------------------------
    def action_edit_settings(self) -> None:
        self.query_one("#tabs", TabbedContent).active = "settings-tab"
        self.query_one("#frequency .freq-kind").focus()

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        values = collect(list(self.query(FieldInput).results(FieldInput)))
        if values is None:
            self.query_one("#tabs", TabbedContent).active = "settings-tab"
            return
        values["contact_emails"] = tuple(values["contact_emails"] or ())
        values["frequency"] = self.query_one("#frequency", FrequencyPicker).value
        for key, _label in SWITCHES:
            values[key] = self.query_one(f"#switch-{key}", Switch).value
        for switch in self.query(SwitchField).results(SwitchField):
            values[switch.spec.key] = switch.value
        workspace = self.workspace
        try:
            before = workspace.integration(self.integration_name)
            after = workspace.update_integration(self.integration_name, **values)
        except Exception as error:
            self.cdi.show_error("The settings were not saved", str(error))
            return
        if before.state != IntegrationState.DRAFT and after.state == IntegrationState.DRAFT:
            self.notify("Saved. The connection or table changed: test it again before it can sync", severity="warning")
        elif before.sends_changed_only != after.sends_changed_only:
            self.notify(
                "Saved. Only changed attributes are sent from now on; the next run sends each value once, to know what Braze has"
                if after.sends_changed_only
                else "Saved. Every attribute of each row is sent from the next run",
                timeout=5,
            )
        else:
            self.notify("Settings saved", timeout=3)
        self.cdi.config_changed()

    # actions --------------------------------------------------------------------------------
    @on(Button.Pressed, "#sync")
    def action_sync_now(self) -> None:
        sync_now(self.cdi, self.integration_name)

    @on(Button.Pressed, "#cancel")
    def action_cancel_sync(self) -> None:
        if not self.cdi.runner.cancel(self.integration_name):
            self.notify("No sync of this integration is running", timeout=3)

    @on(Button.Pressed, "#pause")
    def action_pause_resume(self) -> None:
        pause_or_resume(self.cdi, self.integration_name)

    @on(Button.Pressed, "#resync")
    def action_full_resync(self) -> None:
        full_resync(self.cdi, self.integration_name)

    @on(Button.Pressed, "#delete")
    def action_delete(self) -> None:
        delete_integration(self.cdi, self.integration_name, self._after_delete)

    def _after_delete(self) -> None:
        if self.is_current:
            self.dismiss(None)

    @on(Button.Pressed, "#failed")
    def action_failed_rows(self) -> None:
        run_id = self.selected_run()
        if run_id is None:
            self.notify("No runs yet", timeout=3)
            return
        from cdi_tui.tui.screens.failed_rows import FailedRowsScreen

        self.app.push_screen(FailedRowsScreen(run_id))

    def on_data_table_row_selected(self, event: FitTable.RowSelected) -> None:
        if event.data_table.id == "runs":
            self.action_failed_rows()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "runs":
            self.runs_table.loading = False
            self.cdi.show_error("The run history could not be read", str(event.worker.error))
