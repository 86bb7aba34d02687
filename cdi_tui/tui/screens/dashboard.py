"""The dashboard: every integration, its state and last run; keys to act on them."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from cdi_tui.config import Config, Integration
from cdi_tui.fields import DATA_TYPE_LABELS
from cdi_tui.runlog import RunRecord
from cdi_tui.tui.base import CdiMixin
from cdi_tui.tui.schedule_text import next_run_text
from cdi_tui.tui.widgets.progress_panel import ProgressPanels

EMPTY_TEXT = (
    "No integrations yet.\n\n"
    "Press [b]n[/b] to create your first one: connect to Redshift, pick the source table,\n"
    "choose what to sync and how often, test the connection, and activate.\n\n"
    "Press [b]F2[/b] for saved credentials and the Braze settings, [b]?[/b] for help."
)


def describe_last_run(record: RunRecord | None, zone: str = "UTC") -> str:
    if record is None:
        return "never"
    when = record.started_at.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M")
    return f"{when} {record.status} {record.rows_sent:,}/{record.rows_failed:,}"


class DashboardScreen(CdiMixin, Screen[None]):
    CSS_PATH = "dashboard.tcss"
    BINDINGS = [
        Binding("n", "new", "New"),
        Binding("enter", "open", "Open", show=False),
        Binding("o", "open", "Open"),
        Binding("s", "sync_now", "Sync Now"),
        Binding("p", "pause_resume", "Pause/Resume"),
        Binding("delete,d", "delete", "Delete"),
        Binding("r", "refresh_data", "Refresh", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="body"):
            yield Static(EMPTY_TEXT, id="empty")
            table: DataTable[str] = DataTable(id="integrations", cursor_type="row", zebra_stripes=True)
            yield table
            yield ProgressPanels(id="panels")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#integrations", DataTable)
        table.add_columns("Name", "Source table", "Data type", "State", "Frequency", "Last run (sent/failed)", "Next run")
        self.refresh_data()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    # data ---------------------------------------------------------------------------------
    def _config(self) -> Config | None:
        try:
            return self.workspace.config()
        except Exception as error:
            self.cdi.show_error("The config file cannot be used", str(error))
            return None

    def refresh_data(self) -> None:
        config = self._config()
        table = self.query_one("#integrations", DataTable)
        cursor = table.cursor_row
        table.clear()
        integrations = sorted(config.integrations.values(), key=lambda item: item.name) if config else []
        runlog = self.workspace.runlog
        zone = config.braze.time_zone if config is not None and config.braze is not None else "UTC"
        now = self.cdi.clock()
        for item in integrations:
            last = runlog.last_run(item.name)  # one query a row, shared by both run columns
            table.add_row(
                item.name,
                item.table,
                DATA_TYPE_LABELS[item.data_type],
                self._state_label(item),
                item.frequency,
                describe_last_run(last, zone),
                next_run_text(item, last is not None, zone, now) if item.state == "active" else "-",
                key=item.name,
            )
        self.query_one("#empty").display = not integrations
        table.display = bool(integrations)
        if integrations:
            table.move_cursor(row=min(cursor, len(integrations) - 1))
            table.focus()

    def _state_label(self, item: Integration) -> str:
        if self.cdi.runner.is_running(item.name):
            return "Running"
        return item.state.capitalize()

    def selected(self) -> str | None:
        table = self.query_one("#integrations", DataTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value)

    # actions ------------------------------------------------------------------------------
    def action_new(self) -> None:
        self.cdi.action_new_integration()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        name = self.selected()
        if name is None:
            return
        from cdi_tui.tui.screens.integration import IntegrationScreen

        self.app.push_screen(IntegrationScreen(name))

    def action_refresh_data(self) -> None:
        self.refresh_data()

    def action_sync_now(self) -> None:
        name = self.selected()
        if name is None:
            return
        from cdi_tui.tui.actions import sync_now

        sync_now(self.cdi, name)
        self.refresh_data()

    def action_pause_resume(self) -> None:
        name = self.selected()
        if name is None:
            return
        from cdi_tui.tui.actions import pause_or_resume

        pause_or_resume(self.cdi, name)
        self.refresh_data()

    def action_delete(self) -> None:
        name = self.selected()
        if name is None:
            return
        from cdi_tui.tui.actions import delete_integration

        delete_integration(self.cdi, name, self.refresh_data)
