"""The Textual app: wires the workspace and the sync runner, pushes the dashboard.

Screens own their behaviour; the app only routes sync messages to the progress panels of
the screen on top and shows a toast when a sync ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from cdi_tui.tui.messages import SyncFailed, SyncFinished, SyncProgressed
from cdi_tui.tui.runner import SyncRunner
from cdi_tui.tui.widgets.progress_panel import ProgressPanel, ProgressPanels
from cdi_tui.workspace import Workspace


class CdiApp(App[None]):
    TITLE = "cdi-tui"
    SUB_TITLE = "Braze Cloud Data Ingestion for Redshift"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("f2", "credentials", "Credentials"),
    ]

    SCHEDULE_CHECK_SECONDS = 30.0

    def __init__(
        self,
        workspace: Workspace,
        *,
        demo: bool = False,
        clock: Callable[[], datetime] | None = None,
        run_schedules: bool = True,
    ) -> None:
        super().__init__()
        self.run_schedules = run_schedules
        self.workspace = workspace
        self.clock = clock or (lambda: datetime.now(UTC))
        self.demo = demo
        self.runner = SyncRunner(self)
        if demo:
            self.sub_title = "demo: local stand-ins for Redshift and Braze"

    def on_mount(self) -> None:
        from cdi_tui.tui.screens.dashboard import DashboardScreen

        self.push_screen(DashboardScreen())
        if self.run_schedules:
            self.set_interval(self.SCHEDULE_CHECK_SECONDS, self.check_schedules)
            self.call_later(self.check_schedules)

    def check_schedules(self) -> None:
        """Start the scheduled syncs that are due (while the app is open)."""
        from cdi_tui.engine.sync import SyncOptions
        from cdi_tui.scheduler import claim, due_runs

        try:
            due = due_runs(self.workspace.config(), self.workspace.runlog, self.clock())
        except Exception:
            return  # a broken config is reported where it is used; schedules wait
        for run in due:
            if self.runner.is_running(run.integration) or not claim(self.workspace.runlog, run):
                continue
            self.runner.start(run.integration, SyncOptions(trigger="scheduled"))

    # actions ------------------------------------------------------------------------------
    def action_help(self) -> None:
        from cdi_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_credentials(self) -> None:
        from cdi_tui.tui.screens.credentials import CredentialsScreen

        if not isinstance(self.screen, CredentialsScreen):
            self.push_screen(CredentialsScreen())

    def action_new_integration(self) -> None:
        from cdi_tui.tui.screens.wizard import NewIntegrationScreen

        self.push_screen(NewIntegrationScreen())

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New integration", "Create an integration with the guided setup", self.action_new_integration)
        yield SystemCommand(
            "Credentials and Braze settings", "Saved Redshift credentials, the Braze key", self.action_credentials
        )
        yield SystemCommand("Help", "Keys and what each screen does", self.action_help)

    # sync messages ------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        from cdi_tui.tui.screens.modals import ErrorModal

        self.push_screen(ErrorModal(title, message))

    def on_sync_progressed(self, message: SyncProgressed) -> None:
        progress = message.progress
        self.runner.latest[progress.integration] = progress
        for panels in self.screen.query(ProgressPanels):
            panels.show(progress.integration, progress)

    def _sync_ended(self, name: str) -> None:
        self.runner.forget(name)
        for panels in self.screen.query(ProgressPanels):
            panels.remove_panel(name)
        refresh = getattr(self.screen, "refresh_data", None)
        if refresh is not None:
            refresh()

    def on_sync_finished(self, message: SyncFinished) -> None:
        record = message.record
        self._sync_ended(message.integration)
        text = (
            f"{message.integration}: {record.status}. Read {record.rows_read:,}, sent {record.rows_sent:,}, "
            f"failed {record.rows_failed:,}" + (f". {record.error}" if record.error else "")
        )
        severity = {"success": "information", "partial": "warning"}.get(record.status, "error")
        self.notify(text, title=f"Sync #{record.id} finished", severity=severity, timeout=8)  # type: ignore[arg-type]

    def on_sync_failed(self, message: SyncFailed) -> None:
        self._sync_ended(message.integration)
        self.show_error(f"Sync of {message.integration} did not run", message.message)

    def on_progress_panel_cancel_requested(self, message: ProgressPanel.CancelRequested) -> None:
        if self.runner.cancel(message.integration):
            self.notify(f"Cancelling {message.integration}: requests in flight finish first", timeout=4)
