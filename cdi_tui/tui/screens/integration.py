"""One integration: its settings, run history (with rows per run), failed rows and actions."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Label, Sparkline, Static, Switch

from cdi_tui.fields import DATA_TYPE_LABELS, INTEGRATION_FIELDS, field_by_key
from cdi_tui.tui.actions import delete_integration, full_resync, pause_or_resume, sync_now
from cdi_tui.tui.base import CdiMixin
from cdi_tui.tui.schedule_text import workspace_zone
from cdi_tui.tui.widgets.fields import FieldInput, collect
from cdi_tui.tui.widgets.frequency import FrequencyPicker
from cdi_tui.tui.widgets.progress_panel import ProgressPanels
from cdi_tui.workspace import WorkspaceError

EDITABLE = ("credential", "table", "contact_emails", "notify_row_error_percent")
SWITCHES = (
    ("update_existing_only", "Update existing users only"),
    ("notify_success", "Email on every success"),
    ("notify_no_rows", "Email when a run finds no new rows"),
)


class IntegrationScreen(CdiMixin, Screen[None]):
    CSS_PATH = "integration.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("s", "sync_now", "Sync Now"),
        Binding("c", "cancel_sync", "Cancel"),
        Binding("p", "pause_resume", "Pause/Resume"),
        Binding("f", "failed_rows", "Failed rows"),
        Binding("ctrl+r", "full_resync", "Full resync"),
        Binding("ctrl+d", "delete", "Delete"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.integration_name = name

    def compose(self) -> ComposeResult:
        integration = self.workspace.integration(self.integration_name)
        yield Header()
        with Horizontal(id="columns"):
            with VerticalScroll(id="settings"):
                yield Label(self.integration_name, id="title")
                yield Label("", id="state")
                yield Label(f"Data type: {DATA_TYPE_LABELS[integration.data_type]} (fixed)", id="data-type")
                yield Label("Frequency", classes="field-label")
                yield FrequencyPicker(integration.frequency, workspace_zone(self.workspace), self.cdi.clock, id="frequency")
                for key in EDITABLE:
                    value = getattr(integration, key)
                    if key == "contact_emails":
                        value = ", ".join(value)
                    if value is None:
                        value = ""
                    yield FieldInput(field_by_key(INTEGRATION_FIELDS, key), value)
                for key, label in SWITCHES:
                    with Horizontal(classes="row"):
                        yield Switch(getattr(integration, key), id=f"switch-{key}")
                        yield Label(label)
                yield Button("Save settings", id="save")
                yield Static("A new credential or table sends the integration back to Draft until tested again.", classes="hint")
            with Vertical(id="history"):
                yield Label("Rows per run (oldest to newest)", classes="section")
                yield Sparkline([], id="sparkline")
                table: DataTable[str] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
                yield table
                with Horizontal(id="actions"):
                    yield Button("Sync Now", variant="primary", id="sync", compact=True)
                    yield Button("Cancel", id="cancel", compact=True)
                    yield Button("Pause/Resume", id="pause", compact=True)
                    yield Button("Failed rows", id="failed", compact=True)
                    yield Button("Full resync", id="resync", compact=True)
                    yield Button("Delete", variant="error", id="delete", compact=True)
        yield ProgressPanels(id="panels")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Integration {self.integration_name}"
        self.query_one("#runs", DataTable).add_columns(
            "Run", "Trigger", "Status", "Read", "Sent", "Failed", "Last UPDATED_AT", "Started", "Duration"
        )
        self.refresh_data()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        workspace = self.workspace
        try:
            integration = workspace.integration(self.integration_name)
        except WorkspaceError:
            self.dismiss(None)
            return
        running = self.cdi.runner.is_running(self.integration_name)
        tested = workspace.is_tested(self.integration_name)
        state = "Running" if running else integration.state.capitalize()
        self.query_one("#state", Label).update(f"State: {state}" + ("" if tested else " (needs a connection test)"))
        records = workspace.runlog.runs(self.integration_name, 50)
        zone = ZoneInfo(workspace_zone(workspace))  # times in the workspace's zone, as schedules are
        table = self.query_one("#runs", DataTable)
        table.clear()
        for record in records:
            watermark = (record.watermark_after or record.watermark_before or "-").split(" ", 1)[0]
            watermark = watermark.replace("T", " ").split(".")[0].split("+")[0]
            table.add_row(
                str(record.id),
                record.trigger + (" (dry)" if record.dry_run else ""),
                record.status,
                f"{record.rows_read:,}",
                f"{record.rows_sent:,}",
                f"{record.rows_failed:,}",
                watermark,
                record.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                f"{record.duration_seconds:.1f}s" if record.duration_seconds is not None else "-",
                key=str(record.id),
            )
        self.query_one("#sparkline", Sparkline).data = [float(record.rows_read) for record in reversed(records)] or [0.0]

    def selected_run(self) -> int | None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(str(row_key.value))

    # settings -------------------------------------------------------------------------------
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        values = collect(list(self.query(FieldInput).results(FieldInput)))
        if values is None:
            return
        values["contact_emails"] = tuple(values["contact_emails"] or ())
        values["frequency"] = self.query_one("#frequency", FrequencyPicker).value
        for key, _label in SWITCHES:
            values[key] = self.query_one(f"#switch-{key}", Switch).value
        workspace = self.workspace
        try:
            before = workspace.integration(self.integration_name)
            after = workspace.update_integration(self.integration_name, **values)
        except Exception as error:
            self.cdi.show_error("The settings were not saved", str(error))
            return
        if before.state != "draft" and after.state == "draft":
            self.notify("Saved. The connection or table changed: test it again before it can sync", severity="warning")
        else:
            self.notify("Settings saved", timeout=3)
        self.refresh_data()

    # actions --------------------------------------------------------------------------------
    @on(Button.Pressed, "#sync")
    def action_sync_now(self) -> None:
        sync_now(self.cdi, self.integration_name)
        self.refresh_data()

    @on(Button.Pressed, "#cancel")
    def action_cancel_sync(self) -> None:
        if not self.cdi.runner.cancel(self.integration_name):
            self.notify("No sync of this integration is running", timeout=3)

    @on(Button.Pressed, "#pause")
    def action_pause_resume(self) -> None:
        pause_or_resume(self.cdi, self.integration_name)
        self.refresh_data()

    @on(Button.Pressed, "#resync")
    def action_full_resync(self) -> None:
        full_resync(self.cdi, self.integration_name)

    @on(Button.Pressed, "#delete")
    def action_delete(self) -> None:
        delete_integration(self.cdi, self.integration_name, self._after_delete)

    def _after_delete(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#failed")
    def action_failed_rows(self) -> None:
        run_id = self.selected_run()
        if run_id is None:
            self.notify("No runs yet", timeout=3)
            return
        from cdi_tui.tui.screens.failed_rows import FailedRowsScreen

        self.app.push_screen(FailedRowsScreen(run_id))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_failed_rows()
