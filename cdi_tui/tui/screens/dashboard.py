"""The dashboard: every integration, its state and last run; keys to act on them.

With several Braze workspaces the integrations are grouped by workspace (a Workspace column),
and ``w`` shows one workspace at a time (every one, then each in turn); the header names the
workspace in view. With no integration yet it is a setup checklist (Braze key, a credential, a
first integration).
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from cdi_tui.config import Config, Integration
from cdi_tui.enums import IntegrationState
from cdi_tui.errors import CdiError
from cdi_tui.tui.base import StyledOnMount
from cdi_tui.tui.looks import local_time, palette, state_text, status_text
from cdi_tui.tui.schedule_text import next_run_text
from cdi_tui.tui.table_keys import EXPORT_BINDING, FILTER_BINDING, TableKeys
from cdi_tui.tui.widgets.filter_bar import FilterBar
from cdi_tui.tui.widgets.fit_table import FitColumn, FitTable
from cdi_tui.tui.widgets.footer import KeysFooter
from cdi_tui.tui.widgets.header import WorkspaceHeader, show_braze_workspace
from cdi_tui.tui.widgets.progress_panel import ProgressPanels
from cdi_tui.workspace import Progress, RunRecord

# narrow, the table leaves out Type, then the source table, then the frequency; a name too
# long loses its middle (``demo-att…-large``), so two names alike stay told apart
COLUMNS = [
    FitColumn("Name", 12, flex=True, weight=3, cut="middle"),
    FitColumn("Source table", 10, flex=True, weight=2, drop=2),
    FitColumn("Type", drop=3),
    FitColumn("State"),
    FitColumn("Frequency", 8, flex=True, drop=1),
    FitColumn("Last run", 9, flex=True),
    FitColumn("Next run", 11, flex=True),
]


# with several Braze workspaces: which one each integration syncs to (rows grouped by it); left out
# first on a narrow screen, when the header names the workspace in view
WORKSPACE_COLUMNS = [COLUMNS[0], FitColumn("Workspace", 6, flex=True, drop=4), *COLUMNS[1:]]


def describe_last_run(app: object, record: RunRecord | None, zone: str) -> Text:
    """The last real run's status (coloured by meaning), then its time: cut short, the status stays."""
    if record is None:
        return Text("never")
    text = status_text(app, record.status)  # type: ignore[arg-type]
    text.append(" " + local_time(record.started_at, zone))
    return text


class DashboardScreen(TableKeys, StyledOnMount, Screen[None]):
    HELP = "Every integration with its state, last run and next run. Select one to act on it; Enter opens it."
    DEFAULT_CSS = """
    DashboardScreen {
        #body { height: 1fr; }
        #checklist { margin: 1 2; height: auto; }
        #integrations-panel { height: 1fr; }
        #integrations { height: 1fr; background: $surface; }
    }
    """
    BINDINGS = [
        Binding("n", "new", "New", id="new", tooltip="Create an integration with the guided setup"),
        Binding("o", "open", "Open", id="open", show=False, tooltip="Settings, runs, test; Enter opens too"),
        Binding("s", "sync_now", "Sync Now", id="sync", tooltip="A manual sync; scheduled runs do not move"),
        Binding("p", "pause_resume", "Pause/Resume", id="pause", tooltip="Paused integrations do not run on schedule"),
        FILTER_BINDING,
        Binding("f2", "app.credentials", "Credentials", id="credentials", tooltip="Credentials, Braze, SMTP"),
        Binding("e", "export", "Export", id="export", show=False, tooltip=EXPORT_BINDING.tooltip),
        Binding(
            "delete,d", "delete", "Delete", id="delete", show=False, tooltip="Asks first; a new one of its name starts afresh"
        ),
        Binding("r", "refresh_data", "Refresh", id="refresh", show=False, tooltip="Read the config and run log again"),
        Binding(
            "w", "next_workspace", "Workspace", id="workspace", show=False,
            tooltip="Show one Braze workspace's integrations, then the next; then every workspace's again",
        ),
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.braze_workspace: str | None = None  # the workspace shown (None: every one); the header names it

    def compose(self) -> ComposeResult:
        yield WorkspaceHeader()
        with Vertical(id="body"):
            checklist = Static("", id="checklist", classes="panel roomy")
            checklist.border_title = "Get started"
            yield checklist
            with Vertical(id="integrations-panel", classes="panel flush"):
                table = FitTable(COLUMNS, id="integrations")
                yield FilterBar(table, id="integrations-filter")
                yield table
        yield ProgressPanels(id="panels")
        yield KeysFooter(compact=True, show_command_palette=False)

    @property
    def integrations_table(self) -> FitTable:
        return self.query_one("#integrations", FitTable)

    def table_in_view(self) -> tuple[FitTable, FilterBar, str] | None:
        return self.integrations_table, self.query_one("#integrations-filter", FilterBar), "integrations"

    def on_mount(self) -> None:
        self.sub_title = "Dashboard"
        self.watch(self.cdi, "running", self._state_changed, init=False)
        self.watch(self.cdi, "config_version", self._state_changed, init=False)
        self.watch(self.cdi, "progress", self._progress_changed, init=False)
        self._spin = 0
        self.refresh_data()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        self.refresh_data()

    def _state_changed(self, *_args: object) -> None:
        self.refresh_data()

    def _progress_changed(self, progress: dict[str, Progress]) -> None:
        """A running sync's state cell spins while its progress moves."""
        self._spin += 1
        table = self.integrations_table
        state_column = table.ordered_columns[table.shown_labels.index("State")].key  # a narrow table leaves columns out
        for name in progress:
            if name in table.rows:
                table.update_cell(name, state_column, state_text(self.app, "running", self._spin))

    # data ---------------------------------------------------------------------------------
    def _config(self) -> Config | None:
        try:
            return self.workspace.config()
        except CdiError as error:
            self.cdi.show_error("The config file cannot be used", str(error))
            return None

    def refresh_data(self) -> None:
        config = self._config()
        table = self.integrations_table
        cursor = table.cursor_row
        table.clear()
        several = config is not None and len(config.workspaces) > 1
        if config is not None and self.braze_workspace is not None and self.braze_workspace not in config.workspaces:
            show_braze_workspace(self, None)  # the workspace shown was removed meanwhile
        columns = WORKSPACE_COLUMNS if several else COLUMNS
        if table.fit_columns is not columns:
            table.set_columns(columns)
        everything = sorted(config.integrations.values(), key=lambda item: (item.workspace, item.name)) if config else []
        integrations = [item for item in everything if self.braze_workspace in (None, item.workspace)]
        now = self.cdi.clock()
        for item in integrations:
            assert config is not None
            zone = config.zone_of(item)  # times in each integration's workspace's zone
            last = self.workspace.last_run(item.name)  # one query a row, shared by both run columns
            next_run = next_run_text(item, last is not None, zone, now) if item.state == IntegrationState.ACTIVE else "-"
            table.add_row(
                item.name,
                *([item.workspace] if several else []),
                item.table,
                item.data_type,
                self._state(item),
                item.frequency,
                describe_last_run(self.app, last, zone),
                next_run,
                key=item.name,
            )
        shown = f" · workspace {self.braze_workspace} of {len(everything)} (w: next)" if self.braze_workspace else ""
        self.query_one("#integrations-panel").border_title = f"Integrations ({len(integrations)}){shown}"
        self.query_one("#integrations-filter", FilterBar).refresh_count()
        self.query_one("#checklist").display = not everything
        self.query_one("#integrations-panel").display = bool(everything)
        if not everything:
            self._show_checklist(config)
        elif integrations:  # (a workspace with none: the table is empty, w shows the next)
            table.move_cursor(row=min(cursor, len(integrations) - 1))
            if not isinstance(self.focused, FitTable):
                table.focus()

    def _show_checklist(self, config: Config | None) -> None:
        has_key = config is not None and any(self.cdi.key_states.get(name, "missing") != "missing" for name in config.workspaces)
        has_credential = bool(config and config.credentials)
        steps = [
            (has_key, "The Braze workspace and its REST API key", "F2"),
            (has_credential, "A Redshift credential (or make one in the setup)", "F2"),
            (False, "Your first integration", "n"),
        ]
        text = Text("No integrations yet. To sync your first table:\n\n")
        colours = palette(self.app)
        for done, label, key in steps:
            text.append(" ✔ " if done else " ○ ", style=colours.get("success" if done else "foreground-muted", ""))
            text.append(label, style="strike" if done else "")
            text.append(f"  press {key}\n", style=f"bold {colours.get('accent', '')}")
        text.append("\n? shows the keys of every screen; ctrl+p the command palette.", style=colours.get("foreground-muted", ""))
        self.query_one("#checklist", Static).update(text)

    def _state(self, item: Integration) -> Text:
        if self.cdi.runner.is_running(item.name):
            return state_text(self.app, "running", self._spin)
        return state_text(self.app, item.state)

    def selected(self) -> str | None:
        table = self.integrations_table
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value)

    # actions ------------------------------------------------------------------------------
    def action_new(self) -> None:
        self.cdi.action_new_integration()

    def on_data_table_row_selected(self, event: FitTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        name = self.selected()
        if name is not None:
            self.cdi.action_open_integration(name)

    def action_refresh_data(self) -> None:
        self.refresh_data()

    def action_next_workspace(self) -> None:
        """Every workspace's integrations, then one workspace's, then the next's, then every one's again."""
        config = self._config()
        names = sorted(config.workspaces) if config is not None else []
        if len(names) < 2:
            self.cdi.toast("workspace", "There is one Braze workspace: every integration is shown", timeout=3)
            return
        order: list[str | None] = [None, *names]
        current = order.index(self.braze_workspace) if self.braze_workspace in order else 0
        show_braze_workspace(self, order[(current + 1) % len(order)])
        self.refresh_data()

    def action_sync_now(self) -> None:
        name = self.selected()
        if name is None:
            return
        from cdi_tui.tui.actions import sync_now

        sync_now(self.cdi, name)

    def action_pause_resume(self) -> None:
        name = self.selected()
        if name is None:
            return
        from cdi_tui.tui.actions import pause_or_resume

        pause_or_resume(self.cdi, name)

    def action_delete(self) -> None:
        name = self.selected()
        if name is None:
            return
        from cdi_tui.tui.actions import delete_integration

        delete_integration(self.cdi, name, lambda: None)
