"""One integration: its runs (overview, rows per run, run history), its settings and its connection
test, each on a tab; the actions in a bar docked at the bottom, always visible.

A draft's bar offers Continue setup and Test; an active or paused integration's, Sync Now and the
rest. The run history follows a sync under way: its row and its bar in the chart grow with the
sync's progress, so the chart, the table and the progress panel agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Label, Select, Static, Switch, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from cdi_tui.config import CHANGED_ONLY_TYPES, Integration
from cdi_tui.enums import DataType, IntegrationState, RunStatus, Trigger
from cdi_tui.errors import CdiError
from cdi_tui.fields import DATA_TYPE_LABELS, INTEGRATION_FIELDS, field_by_key
from cdi_tui.tui.actions import delete_integration, full_resync, pause_or_resume, show_setup_sql, sync_now
from cdi_tui.tui.base import StyledOnMount
from cdi_tui.tui.looks import local_time, palette, state_text, status_text
from cdi_tui.tui.safe import expected
from cdi_tui.tui.schedule_text import integration_zone, next_three_text
from cdi_tui.tui.table_keys import EXPORT_BINDING, FILTER_BINDING, TableKeys
from cdi_tui.tui.widgets.fields import FieldInput, SwitchField, collect
from cdi_tui.tui.widgets.filter_bar import FilterBar
from cdi_tui.tui.widgets.fit_table import FitColumn, FitTable
from cdi_tui.tui.widgets.footer import KeysFooter
from cdi_tui.tui.widgets.frequency import FrequencyPicker
from cdi_tui.tui.widgets.header import WorkspaceHeader, show_braze_workspace
from cdi_tui.tui.widgets.progress_panel import ProgressPanels
from cdi_tui.tui.widgets.run_chart import RunChart
from cdi_tui.tui.widgets.scroll import Scroll
from cdi_tui.tui.widgets.setup.details import CHANGED_ITEMS_LABEL
from cdi_tui.tui.widgets.setup.test_step import TestStep
from cdi_tui.workspace import Progress, RunRecord, WorkspaceError

EDITABLE = ("table", "contact_emails", "notify_row_error_percent")
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
    FitColumn("Superseded", drop=5),
    FitColumn("Data points"),
    FitColumn("Last UPDATED_AT", 10, flex=True, drop=3),
    FitColumn("Started", drop=2),
    FitColumn("Duration", drop=4),
]
TRIGGERS = {Trigger.FULL_RESYNC: "full resync"}
SHORT_SCREEN = 32  # rows: below this the chart gives its room to the run history
DRAFT_BUTTONS = ("continue-setup", "test")
RUNNING_BUTTONS = ("sync", "cancel", "pause", "failed", "resync")


@dataclass
class RunsLoaded(Message):
    records: list[RunRecord]
    zone: str
    data_points_30_days: int


# a catalog's runs: the items written and deleted where the data points are (catalog syncs spend none)
CATALOG_RUN_COLUMNS = [
    replacement
    for column in RUN_COLUMNS
    for replacement in ([FitColumn("Written"), FitColumn("Deleted")] if column.label == "Data points" else [column])
]


def run_columns(data_type: DataType) -> list[FitColumn]:
    """The run history's columns: a catalog's runs show the items written and deleted (they spend no data points)."""
    return CATALOG_RUN_COLUMNS if data_type == DataType.CATALOGS else RUN_COLUMNS


def data_points_cell(record: RunRecord) -> str:
    """The data points a run spent; a dry run's are what it would have spent."""
    return f"{record.data_points:,} (dry)" if record.dry_run else f"{record.data_points:,}"


def spend_text(integration: Integration, data_points: int) -> str:
    """What the integration spent in the last 30 days, as the runs panel's subtitle says it."""
    if integration.data_type == DataType.DELETES:
        return "deletes spend no data points"
    if integration.data_type == DataType.CATALOGS:
        return "catalog syncs spend no data points" + (" · changed items only" if integration.sends_changed_only else "")
    text = f"{data_points:,} data points in the last 30 days"
    return text + (" · changed attributes only" if integration.sends_changed_only else "")


def with_progress(record: RunRecord, progress: Progress) -> RunRecord:
    """A running run's record with the counts of its latest progress (the run log has older ones)."""
    return replace(
        record,
        rows_total=progress.total,
        rows_read=max(record.rows_read, progress.read),
        rows_sent=progress.sent,
        rows_failed=progress.failed,
        rows_skipped=progress.skipped,
        rows_unchanged=progress.unchanged,
        rows_superseded=progress.superseded,
        data_points=progress.data_points,
        items_written=progress.items_written,
        items_deleted=progress.items_deleted,
    )


class IntegrationScreen(TableKeys, StyledOnMount, Screen[None]):
    HELP = (
        "One integration. Runs: its overview, rows per run and run history with the rows left unchanged and the "
        "data points each spent (Enter on a run shows its failed rows). Settings: what it syncs and when. "
        "Test: the connection test with a preview marked valid or not, the Braze object of each row, and "
        "what sending would spend. A draft continues its setup from here."
    )
    DEFAULT_CSS = """
    IntegrationScreen {
        #tabs { height: 1fr; }
        #runs-tab { height: 1fr; }
        #overview { height: auto; }
        #chart-panel { height: auto; }
        #runs-panel { height: 1fr; min-height: 5; }
        #settings-scroll { height: 1fr; padding: 0 1; }
        #data-type-fixed { margin-top: 1; }
        .switch-row { height: auto; }
        .switch-row > Label { padding: 1 1; }
        &.-short #chart-panel { display: none; }
    }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("s", "sync_now", "Sync Now", id="sync", tooltip="A manual sync; scheduled runs do not move"),
        Binding("n", "continue_setup", "Continue setup", id="continue-setup", tooltip="A draft: back to its guided setup"),
        Binding("t", "test", "Test", id="test", tooltip="Connection test, preview with VALID?, what sending would spend"),
        Binding("f", "failed_rows", "Failed rows", id="failed", tooltip="The selected run's failed rows, each in full"),
        FILTER_BINDING,
        Binding("e", "export", "Export", id="export", show=False, tooltip=EXPORT_BINDING.tooltip),
        Binding("c", "cancel_sync", "Cancel sync", id="cancel", show=False, tooltip="Requests in flight finish; recorded"),
        Binding("p", "pause_resume", "Pause/Resume", id="pause", show=False, tooltip="Paused: no scheduled runs"),
        Binding("1", "show_tab('runs-tab')", "Runs tab", id="tab-runs", show=False, tooltip="Overview and run history"),
        Binding("2", "show_tab('settings-tab')", "Settings tab", id="settings", show=False, tooltip="What it syncs, and when"),
        Binding("3", "show_tab('test-tab')", "Test tab", id="tab-test", show=False, tooltip="The connection test"),
        Binding("ctrl+s", "save", "Save", id="save", tooltip="Save the settings (on the Settings tab)"),
        Binding("ctrl+l", "setup_sql", "Setup SQL", id="setup-sql", show=False, tooltip="The SQL to run in Redshift first"),
        Binding("ctrl+r", "full_resync", "Full resync", id="resync", show=False, tooltip="Send every row again (asks first)"),
        Binding("ctrl+d", "delete", "Delete", id="delete", show=False, tooltip="Asks first; a new one of its name starts afresh"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.integration_name = name
        self._records: list[RunRecord] = []
        self._zone = "UTC"
        self._catalogs = False  # the run history shows a catalog's columns
        self._is_draft: bool | None = None  # known once the screen has read the integration
        self.braze_workspace: str | None = None  # the integration's Braze workspace (the header names it)

    def compose(self) -> ComposeResult:
        # set before the widgets exist: set at the first resize, it restyled all of them (0.1-0.2 s)
        self.set_class(self.app.size.height < SHORT_SCREEN, "-short")
        config = self.workspace.config()
        integration = self.workspace.integration(self.integration_name, config)
        fixed = self.workspace.data_type_fixed_reason(self.integration_name, config)
        self.braze_workspace = integration.workspace
        yield WorkspaceHeader()
        with TabbedContent(id="tabs"):
            with TabPane("Runs", id="runs-tab"):
                overview = Static("", id="overview", classes="panel")
                overview.border_title = self.integration_name
                yield overview
                chart = Vertical(RunChart(id="chart"), id="chart-panel", classes="panel")
                chart.border_title = "Rows per run"
                yield chart
                with Vertical(id="runs-panel", classes="panel flush") as runs:
                    runs.border_title = "Runs"
                    self._catalogs = integration.data_type == DataType.CATALOGS
                    table = FitTable(run_columns(integration.data_type), id="runs")
                    yield FilterBar(table, id="runs-filter")
                    yield table
            with TabPane("Settings", id="settings-tab"):
                with Scroll(id="settings-scroll"):
                    if fixed is None:
                        yield FieldInput(
                            field_by_key(INTEGRATION_FIELDS, "data_type"),
                            integration.data_type,
                            choice_labels={str(key): label for key, label in DATA_TYPE_LABELS.items()},
                            compact=True,
                        )
                    else:
                        yield Label(
                            f"Data type: {DATA_TYPE_LABELS[integration.data_type]} (fixed since activation)",
                            id="data-type-fixed",
                            classes="field-label",
                        )
                    if len(config.workspaces) > 1:  # which Braze workspace it syncs to (another needs a new test)
                        workspace_spec = replace(
                            field_by_key(INTEGRATION_FIELDS, "workspace"), choices=tuple(sorted(config.workspaces))
                        )
                        yield FieldInput(workspace_spec, integration.workspace, compact=True)
                    yield Label("Frequency", classes="field-label")
                    yield FrequencyPicker(
                        integration.frequency,
                        config.zone_of(integration),
                        self.cdi.clock,
                        id="frequency",
                        scheduled=integration.state == IntegrationState.ACTIVE,
                    )
                    credential_spec = replace(
                        field_by_key(INTEGRATION_FIELDS, "credential"), choices=tuple(sorted(config.credentials))
                    )
                    yield FieldInput(credential_spec, integration.credential, compact=True)
                    for key in EDITABLE:
                        value = getattr(integration, key)
                        if key == "contact_emails":
                            value = ", ".join(value)
                        yield FieldInput(field_by_key(INTEGRATION_FIELDS, key), "" if value is None else value, compact=True)
                    if integration.data_type in CHANGED_ONLY_TYPES or fixed is None:  # attributes or catalogs, or may become so
                        yield SwitchField(
                            field_by_key(INTEGRATION_FIELDS, "send_changed_only"),
                            integration.sends_changed_only if integration.data_type in CHANGED_ONLY_TYPES else True,
                            switch_id="switch-send_changed_only",
                            hint=CHANGED_ONLY_HINT,
                        )
                    if integration.data_type == DataType.CATALOGS or fixed is None:  # catalogs, or may become so
                        catalog = FieldInput(
                            field_by_key(INTEGRATION_FIELDS, "catalog"),
                            integration.catalog,
                            placeholder=f"default: {integration.name}",
                            compact=True,
                        )
                        catalog.display = integration.data_type == DataType.CATALOGS
                        yield catalog
                    if integration.data_type == DataType.DELETES or fixed is None:  # deletes, or may become so
                        prioritization = FieldInput(
                            field_by_key(INTEGRATION_FIELDS, "delete_prioritization"),
                            ",".join(integration.prioritization),
                            compact=True,
                        )
                        prioritization.display = integration.data_type == DataType.DELETES
                        yield prioritization
                    for key, label in SWITCHES:
                        with Horizontal(classes="switch-row"):
                            yield Switch(getattr(integration, key), id=f"switch-{key}")
                            yield Label(label)
                with Horizontal(classes="button-bar step-bar", id="settings-bar"):
                    yield Button("Save settings", variant="primary", id="save", compact=True)
                    yield Label("A new credential, table or data type needs a new test.", classes="hint")
            with TabPane("Test", id="test-tab"):
                yield TestStep(in_setup=False, integration_name=self.integration_name, id="integration-test")
        with Horizontal(classes="button-bar", id="actions"):
            yield Button("Continue setup", variant="primary", id="continue-setup", compact=True)
            yield Button("Test", id="test", compact=True)
            yield Button("Sync Now", variant="primary", id="sync", compact=True)
            yield Button("Cancel", id="cancel", compact=True)
            yield Button("Pause/Resume", id="pause", compact=True)
            yield Button("Failed rows", id="failed", compact=True)
            yield Button("Full resync", id="resync", compact=True)
            yield Button("Delete", variant="error", id="delete", compact=True)
        yield ProgressPanels(id="panels")
        yield KeysFooter(compact=True, show_command_palette=False)

    # typed accessors ----------------------------------------------------------------------------
    @property
    def runs_table(self) -> FitTable:
        return self.query_one("#runs", FitTable)

    @property
    def test_step(self) -> TestStep:
        return self.query_one("#integration-test", TestStep)

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#tabs", TabbedContent)

    def table_in_view(self) -> tuple[FitTable, FilterBar, str] | None:
        if self.tabs.active != "runs-tab":
            return None
        return self.runs_table, self.query_one("#runs-filter", FilterBar), f"runs of {self.integration_name}"

    def on_mount(self) -> None:
        self.sub_title = self.integration_name
        self.watch(self.cdi, "running", self._state_changed, init=False)
        self.watch(self.cdi, "config_version", self._state_changed, init=False)
        self.watch(self.cdi, "progress", self._progress_changed, init=False)
        self._data_type_changed()
        self.refresh_data()
        self.runs_table.focus()

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_SCREEN, "-short")

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        self.refresh_data()

    def _state_changed(self, *_args: object) -> None:
        if self.is_attached:
            self.refresh_data()

    def _integration(self) -> Integration | None:
        try:
            return self.workspace.integration(self.integration_name)
        except WorkspaceError:
            return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide what does not apply: a draft continues its setup (it cannot sync yet); Save is the Settings tab's."""
        if self._is_draft is None:
            return True
        draft = self._is_draft
        if action == "continue_setup":
            return draft
        if action in ("sync_now", "cancel_sync", "pause_resume", "full_resync"):
            return not draft
        if action == "save":
            return self.tabs.active == "settings-tab" if self.is_mounted else False
        return True

    def refresh_data(self) -> None:
        workspace = self.workspace
        integration = self._integration()
        if integration is None:
            if self.is_current:
                self.dismiss(None)
            return
        zone = integration_zone(workspace, self.integration_name)
        show_braze_workspace(self, integration.workspace)
        self.query_one("#frequency", FrequencyPicker).set_zone(zone)
        running = self.cdi.runner.is_running(self.integration_name)
        tested = workspace.is_tested(self.integration_name)
        overview = Text("State ")
        overview.append_text(state_text(self.app, "running" if running else integration.state, 0 if running else None))
        if not tested:
            overview.append("  (needs a connection test: t)", style=palette(self.app).get("text-warning"))
        overview.append(f"\n{DATA_TYPE_LABELS[integration.data_type]} from {integration.table} via {integration.credential}")
        overview.append(f"\n{integration.frequency}: ")
        if integration.state == IntegrationState.ACTIVE:
            overview.append(next_three_text(integration.frequency, zone, self.cdi.clock()))
        else:
            overview.append(f"no scheduled runs while {integration.state}")
        self.query_one("#overview", Static).update(overview)
        self.query_one("#frequency", FrequencyPicker).set_scheduled(integration.state == IntegrationState.ACTIVE)
        draft = self._is_draft = integration.state == IntegrationState.DRAFT
        for button_id in DRAFT_BUTTONS:
            self.query_one(f"#{button_id}", Button).display = draft
        for button_id in RUNNING_BUTTONS:
            self.query_one(f"#{button_id}", Button).display = not draft
        self.refresh_bindings()
        if self._catalogs != (integration.data_type == DataType.CATALOGS):  # a draft's data type changed
            self._catalogs = integration.data_type == DataType.CATALOGS
            self.runs_table.set_columns(run_columns(integration.data_type))
        self.runs_table.loading = True  # busy is visible while the run history is read
        self._load_runs(zone, self.cdi.clock())

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def _load_runs(self, zone: str, now: datetime) -> None:
        records = self.workspace.runs(self.integration_name, 50)
        spent = self.workspace.data_points_since(self.integration_name, days=30, now=now)
        self.post_message(RunsLoaded(records, zone, spent))

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        self._zone = message.zone
        table = self.runs_table
        table.loading = False
        cursor = table.cursor_row
        table.clear()
        latest = self.cdi.progress.get(self.integration_name)
        self._records = [
            with_progress(record, latest) if latest is not None and record.id == latest.run_id else record
            for record in message.records
        ]
        for record in self._records:
            table.add_row(*self._run_cells(record), key=str(record.id))
        if self._records:
            table.move_cursor(row=min(max(cursor, 0), table.row_count - 1))
        self.query_one("#runs-filter", FilterBar).refresh_count()
        runs_panel = self.query_one("#runs-panel")
        runs_panel.border_title = f"Runs ({len(self._records)})"
        integration = self._integration()
        if integration is None:
            return  # deleted meanwhile: refresh_data leaves the screen
        runs_panel.border_subtitle = spend_text(integration, message.data_points_30_days)
        self._draw_chart()

    def _run_cells(self, record: RunRecord) -> list[str | Text]:
        zone = self._zone
        watermark = record.end_watermark or record.start_watermark
        trigger = TRIGGERS.get(record.trigger, record.trigger)
        if record.full_resync and record.trigger != Trigger.FULL_RESYNC:
            trigger += " (full)"
        catalogs = self._catalogs
        return [
            str(record.id),
            trigger + (" (dry)" if record.dry_run else ""),
            status_text(self.app, record.status),
            f"{record.rows_read:,}",
            f"{record.rows_sent:,}",
            f"{record.rows_failed:,}",
            f"{record.rows_unchanged:,}",
            f"{record.rows_superseded:,}",
            *([f"{record.items_written:,}", f"{record.items_deleted:,}"] if catalogs else [data_points_cell(record)]),
            local_time(watermark.updated_at if watermark else None, zone),
            local_time(record.started_at, zone),
            f"{record.duration_seconds:.1f}s" if record.duration_seconds is not None else "-",
        ]

    def _draw_chart(self) -> None:
        self.query_one("#chart", RunChart).runs = [(record.rows_read, record.status) for record in reversed(self._records)]

    def _progress_changed(self, progress: dict[str, Progress]) -> None:
        """The run under way grows in the table and the chart as its progress panel does."""
        latest = progress.get(self.integration_name)
        if latest is None or not self.is_attached:
            return
        for index, record in enumerate(self._records):
            if record.id == latest.run_id and record.status == RunStatus.RUNNING:
                self._records[index] = with_progress(record, latest)
                self.runs_table.update_row(str(record.id), *self._run_cells(self._records[index]))
                self._draw_chart()
                return

    def selected_run(self) -> int | None:
        table = self.runs_table
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(str(row_key.value))

    # settings -------------------------------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        self.tabs.active = tab
        if tab == "settings-tab":
            self.query_one("#frequency .freq-kind").focus()
        elif tab == "runs-tab":
            self.runs_table.focus()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()

    @on(Select.Changed, "#field-data_type Select")
    def _data_type_changed(self) -> None:
        chosen = self._chosen_data_type()
        for switch in self.query("#field-send_changed_only").results(SwitchField):
            switch.display = chosen in CHANGED_ONLY_TYPES
            if chosen == DataType.CATALOGS:
                switch.relabel(CHANGED_ITEMS_LABEL, "an item unchanged since it was delivered is not sent; off forgets them")
            else:
                switch.relabel(switch.spec.label, CHANGED_ONLY_HINT)
        for field in self.query("#field-delete_prioritization"):
            field.display = chosen == DataType.DELETES
        for field in self.query("#field-catalog"):
            field.display = chosen == DataType.CATALOGS

    @on(Select.Changed, "#field-workspace Select")
    def _workspace_changed(self, event: Select.Changed) -> None:
        """The next runs as they would be in the workspace chosen (saved, it needs a new test)."""
        try:
            settings = self.workspace.config().workspaces.get(str(event.value))
        except CdiError:
            return
        if settings is not None:
            self.query_one("#frequency", FrequencyPicker).set_zone(settings.time_zone)

    def _chosen_data_type(self) -> DataType | None:
        fields = self.query("#field-data_type").results(FieldInput)
        field = next(iter(fields), None)
        if field is None:
            integration = self._integration()
            return integration.data_type if integration else None
        return DataType(field.raw) if field.raw else None

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self.cdi.refused_in_read_only("Saving settings"):
            return
        fields = list(self.query(FieldInput).results(FieldInput))
        values = collect(fields)
        if values is None:
            self.tabs.active = "settings-tab"
            return
        values["contact_emails"] = tuple(values["contact_emails"] or ())
        values["frequency"] = self.query_one("#frequency", FrequencyPicker).value
        for key, _label in SWITCHES:
            values[key] = self.query_one(f"#switch-{key}", Switch).value
        data_type = values.get("data_type") or self._chosen_data_type()
        switches = list(self.query("#field-send_changed_only").results(SwitchField))
        values["send_changed_only"] = switches[0].value if switches and data_type in CHANGED_ONLY_TYPES else None
        if data_type != DataType.DELETES:
            values["delete_prioritization"] = None  # deletes by email or phone only
        if data_type != DataType.CATALOGS:
            values["catalog"] = None
        workspace = self.workspace
        try:
            before = workspace.integration(self.integration_name)
            after = workspace.update_integration(self.integration_name, **values)
        except CdiError as error:
            self.cdi.show_error("The settings were not saved", str(error))
            return
        if not workspace.is_tested(self.integration_name):
            self.test_step.reset()  # an earlier result was for another connection, table or data type
        if before.workspace != after.workspace:
            self.notify(
                f"Saved. It syncs to Braze workspace {after.workspace} now: test it again (t) before it can sync",
                severity="warning",
            )
        elif before.state != IntegrationState.DRAFT and after.state == IntegrationState.DRAFT:
            self.notify("Saved. The connection or table changed: test it again (t) before it can sync", severity="warning")
        elif before.data_type != after.data_type:
            self.notify(f"Saved as {DATA_TYPE_LABELS[after.data_type]}: test it again (t) before activating", timeout=5)
        elif before.sends_changed_only != after.sends_changed_only:
            what = "items" if after.data_type == DataType.CATALOGS else "attributes"
            self.notify(
                f"Saved. Only changed {what} are sent from now on; the next run sends each once, to know what Braze has"
                if after.sends_changed_only
                else f"Saved. Every {what[:-1]} of each row is sent from the next run",
                timeout=5,
            )
        else:
            self.notify("Settings saved", timeout=3)
        self.cdi.config_changed()

    # the connection test ----------------------------------------------------------------------
    def action_test(self) -> None:
        """The Test tab, and a test at once (unless one is under way)."""
        if self.cdi.refused_in_read_only("A connection test"):
            self.tabs.active = "test-tab"
            return
        self.tabs.active = "test-tab"
        self.test_step.run_test()

    @on(Button.Pressed, "#test")
    def _test_pressed(self) -> None:
        self.action_test()

    @on(TestStep.Tested)
    def _tested(self) -> None:
        self.refresh_data()

    @on(TestStep.SetupSql)
    def action_setup_sql(self) -> None:
        show_setup_sql(self.cdi, self.integration_name)

    @on(TestStep.Finish)
    def _activate(self, message: TestStep.Finish) -> None:
        if not message.activate or self.cdi.refused_in_read_only("Activating"):
            return
        try:
            self.workspace.activate(self.integration_name)
        except CdiError as error:
            self.cdi.show_error(f"{self.integration_name} cannot be activated", str(error))
            return
        self.notify(f"{self.integration_name} is active; its first sync is due now", timeout=5)
        self.cdi.config_changed()

    @on(Button.Pressed, "#continue-setup")
    def action_continue_setup(self) -> None:
        from cdi_tui.tui.screens.wizard import NewIntegrationScreen

        integration = self._integration()
        if integration is None or integration.state != IntegrationState.DRAFT:
            return
        if self.cdi.refused_in_read_only("Continuing the setup"):
            return
        self.app.push_screen(NewIntegrationScreen(draft=self.integration_name))

    # actions --------------------------------------------------------------------------------
    @on(Button.Pressed, "#sync")
    def action_sync_now(self) -> None:
        sync_now(self.cdi, self.integration_name)

    @on(Button.Pressed, "#cancel")
    def action_cancel_sync(self) -> None:
        if not self.cdi.runner.cancel(self.integration_name):
            self.cdi.toast(f"{self.integration_name}:cancel", "No sync of this integration is running", timeout=3)

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
            self.cdi.toast(f"{self.integration_name}:runs", "No runs yet", timeout=3)
            return
        from cdi_tui.tui.screens.failed_rows import FailedRowsScreen

        self.app.push_screen(FailedRowsScreen(run_id))

    def on_data_table_row_selected(self, event: FitTable.RowSelected) -> None:
        if event.data_table.id == "runs":
            self.action_failed_rows()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "runs":
            self.runs_table.loading = False
            self.cdi.show_error("The run history could not be read", str(expected(event.worker.error)))
