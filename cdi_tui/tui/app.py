"""The Textual app: wires the workspace, the sync runner and the theme; pushes the dashboard.

Screens own their behaviour. The app keeps the state screens watch (syncs running, their
progress, a counter bumped when the config changes, whether the Braze key was checked) as
reactives, and shows a toast when a sync ends.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import Notification, Notify, SeverityLevel
from textual.reactive import var
from textual.screen import Screen
from textual.widget import Widget

from cdi_tui.display import safe_text
from cdi_tui.enums import RunStatus, Trigger
from cdi_tui.errors import CdiError
from cdi_tui.tui.messages import ConfigChanged, KeyChecked, SyncFailed, SyncFinished, SyncProgressed
from cdi_tui.tui.preferences import PreferencesStore
from cdi_tui.tui.rate import RateWindow
from cdi_tui.tui.runner import SyncRunner
from cdi_tui.tui.safe import failure_line, plain_lines
from cdi_tui.tui.theme import DARK, LIGHT, THEMES
from cdi_tui.tui.widgets.progress_panel import ProgressPanel
from cdi_tui.tui.widgets.scroll import restyle_alone
from cdi_tui.workspace import Progress, Workspace


@dataclass(frozen=True)
class WorkspaceSummary:
    """One Braze workspace as the header names it."""

    instance: str = "Braze not set up"
    time_zone: str = "UTC"


class CdiApp(App[None]):
    TITLE = "cdi-tui"
    SUB_TITLE = ""
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit", tooltip="Syncs under way are cancelled and recorded"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Keys of this screen, your keymap's included"),
        # shown in the dashboard's footer; on other screens in ? only (footers fit 80 columns)
        Binding("f2", "credentials", "Credentials", id="credentials", show=False, tooltip="Credentials, Braze, SMTP"),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False, id="theme", tooltip="Switch light and dark"),
    ]

    SCHEDULE_CHECK_SECONDS = 30.0
    PROGRESS_SHOWN_EVERY = 0.25  # seconds: the panels redraw 4 times a second, whatever the engine reports

    running: var[frozenset[str]] = var(frozenset())
    """Integrations with a sync under way in this app."""
    progress: var[dict[str, Progress]] = var(dict, always_update=True)
    """The latest progress of each running sync."""
    config_version: var[int] = var(0)
    """Bumped whenever the app (or the demo's background work) changes the config."""
    key_states: var[dict[str, str]] = var(dict, always_update=True)
    """Each Braze workspace's key: missing, stored (not checked), checked or failed."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        demo: bool = False,
        clock: Callable[[], datetime] | None = None,
        run_schedules: bool = True,
        keymap: dict[str, str] | None = None,
        open_integration: str | None = None,
        check_key: bool = False,
    ) -> None:
        """
        Args:
            keymap: binding ids to keys (``[keys]`` of the config, checked by :func:`~cdi_tui.tui.keymap.checked_keymap`).
            open_integration: start on this integration's screen (``cdi-tui open NAME``), the dashboard below it.
            check_key: check the stored Braze key once at start (spends no data points), so the header can say so.
        """
        super().__init__()
        self.user_keymap = dict(keymap or {})
        self.open_at_start = open_integration
        self.check_key_at_start = check_key
        self.run_schedules = run_schedules
        self.workspace = workspace
        self.clock = clock or (lambda: datetime.now(UTC))
        self.demo = demo
        self.read_only = workspace.read_only  # why nothing may change (--read-only), or None
        self.runner = SyncRunner(self)
        self.preferences = PreferencesStore(workspace.paths.config_dir / "app.toml")
        self.workspace_summaries: dict[str, WorkspaceSummary] = {}  # each Braze workspace, by name
        self.main_workspace = "default"  # the workspace meant when a screen names none
        self._sync_toasts: dict[str, Notification] = {}
        self.rates: dict[str, RateWindow] = {}  # each running sync's recent rate (its ETA waits for it to be steady)
        self._unshown: dict[str, Progress] = {}  # progress received since the panels last redrew
        self._progress_shown_at = 0.0
        self._focused_panels: weakref.WeakSet[Widget] = weakref.WeakSet()  # the panels marked panel-focused
        self.crash_notes: list[str] = []  # printed after the terminal is restored
        for theme in THEMES:
            self.register_theme(theme)
        remembered = self.preferences.load().theme
        self.theme = remembered if remembered in self.available_themes else DARK

    def refused_in_read_only(self, what: str) -> bool:
        """In read-only mode, say in one line that ``what`` is not done, and return True."""
        if self.read_only is None:
            return False
        self.toast(
            "read-only", f"{what} is not done: read-only ({self.read_only}); nothing is changed or synced", severity="warning"
        )
        return True

    def on_mount(self) -> None:
        from cdi_tui.tui.screens.dashboard import DashboardScreen
        from cdi_tui.tui.widgets.header import key_state

        self._summarise()
        self.key_states = {name: key_state(self.workspace, name) for name in self.workspace_summaries}
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        self.push_screen(DashboardScreen())
        if self.open_at_start is not None:
            self.action_open_integration(self.open_at_start)
        for name, state in self.key_states.items():
            if self.check_key_at_start and state == "stored":
                self._check_key_at_start(name)
        if self.run_schedules and self.read_only is None:
            self.set_interval(self.SCHEDULE_CHECK_SECONDS, self.check_schedules)
            self.call_later(self.check_schedules)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._mark_panels_with_focus(event.widget)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self._mark_panels_with_focus(event.widget)

    def _mark_panels_with_focus(self, widget: Any) -> None:
        """Give each ``.panel`` of the widget's screen the class ``panel-focused`` while the
        screen's focused widget is inside it (what ``:focus-within`` would match)."""
        if not widget.is_attached:
            return
        screen = widget.screen
        focused = screen.focused
        ancestors = focused.ancestors_with_self if focused is not None else []
        inside = {node for node in ancestors if isinstance(node, Widget) and node.has_class("panel")}
        # the panels marked before: only this method marks them (no query of the whole screen at each Tab)
        marked = {panel for panel in self._focused_panels if panel.is_attached and panel.screen is screen}
        changed = list(inside ^ marked)
        for panel in changed:
            if panel in inside:
                self._focused_panels.add(panel)
            else:
                self._focused_panels.discard(panel)
            panel.set_class(panel in inside, "panel-focused", update=False)
        restyle_alone(changed)  # the class changes the panel's border only: not every widget inside

    def _remember_theme(self, theme: Any) -> None:
        if self.read_only is None:  # read-only writes no file, the app's preferences included
            self.preferences.update(theme=theme.name)

    @property
    def key_state(self) -> str:
        """The main workspace's key (see :attr:`key_states`)."""
        return self.key_states.get(self.main_workspace, "missing")

    @key_state.setter
    def key_state(self, state: str) -> None:
        self.set_key_state(self.main_workspace, state)

    def set_key_state(self, braze_workspace: str, state: str) -> None:
        self.key_states = {**self.key_states, braze_workspace: state}

    def _summarise(self) -> None:
        try:
            config = self.workspace.config()
        except CdiError:  # a broken config is reported where it is used
            self.workspace_summaries = {}
            return
        self.main_workspace = config.main_workspace
        summaries = {}
        for name, braze in sorted(config.workspaces.items()):
            instance = braze.endpoint if "://" not in braze.endpoint else braze.endpoint.split("://", 1)[1]
            summaries[name] = WorkspaceSummary(instance, braze.time_zone)
        self.workspace_summaries = summaries

    def config_changed(self) -> None:
        """Tell the screens that watch ``config_version`` to read the config again."""
        from cdi_tui.tui.widgets.header import key_state

        self._summarise()
        known = {name: self.key_states.get(name) or key_state(self.workspace, name) for name in self.workspace_summaries}
        if known != self.key_states:
            self.key_states = known
        self.config_version += 1

    def on_config_changed(self, message: ConfigChanged) -> None:
        self.config_changed()

    def _handle_exception(self, error: Exception) -> None:
        """Stopping on an error: keep the setup's draft first, so nothing typed is lost silently."""
        from cdi_tui.tui.screens.wizard import NewIntegrationScreen

        self.crash_notes.append(f"the app stopped on an error: {type(error).__name__}: {failure_line(error)}")
        for screen in self.screen_stack:
            if isinstance(screen, NewIntegrationScreen):
                try:
                    kept = screen.save_on_crash()
                except Exception:  # the crash handler itself: the error being handled matters more
                    kept = None
                self.crash_notes.append(
                    f"the setup's draft was kept as '{kept}'" if kept else "the setup open at the time had nothing to keep"
                )
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        """The crash report, without the local variables Textual's own shows.

        Textual prints the traceback with every frame's locals, and a frame may hold a secret
        (a Braze key, a password being saved). The frames and the error say where it broke;
        the values stay in the process.
        """
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(Segments(self.console.render(traceback, self.console.options)))
        self._close_messages_no_wait()

    def check_schedules(self) -> None:
        """Start the scheduled syncs that are due (while the app is open)."""
        from cdi_tui.workspace import SyncOptions

        try:
            for decision in self.workspace.take_due_runs(self.clock(), running=self.runner.is_running):
                if decision.skipped is None:
                    self.runner.start(decision.due.integration, SyncOptions(trigger=Trigger.SCHEDULED))
        except CdiError:
            return  # a broken config or run log is reported where it is used; schedules wait

    # actions ------------------------------------------------------------------------------
    async def action_quit(self) -> None:
        """Quit; syncs under way are cancelled (requests in flight finish, each run is recorded)."""
        for name in self.runner.running:
            self.runner.cancel(name)
        self.exit()

    def action_help(self) -> None:
        from cdi_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_credentials(self) -> None:
        from cdi_tui.tui.screens.credentials import CredentialsScreen

        if not isinstance(self.screen, CredentialsScreen):
            self.push_screen(CredentialsScreen())

    def action_new_integration(self) -> None:
        from cdi_tui.tui.screens.wizard import NewIntegrationScreen

        if not self.refused_in_read_only("A new integration"):
            self.push_screen(NewIntegrationScreen())

    def action_open_integration(self, name: str) -> None:
        from cdi_tui.tui.screens.integration import IntegrationScreen

        self.push_screen(IntegrationScreen(name))

    def action_sync_integration(self, name: str) -> None:
        from cdi_tui.tui.actions import sync_now

        sync_now(self, name)

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield SystemCommand("New integration", "Create an integration with the guided setup", self.action_new_integration)
        try:
            names = sorted(self.workspace.config().integrations)
        except CdiError:
            names = []
        for name in names:
            yield SystemCommand(
                f"Open {name}", "Settings, run history, failed rows", lambda name=name: self.action_open_integration(name)
            )
        for name in names:
            yield SystemCommand(
                f"Sync now: {name}",
                "Start a manual sync (scheduled runs do not move)",
                lambda name=name: self.action_sync_integration(name),
            )
        yield SystemCommand(
            "Credentials and Braze settings", "Saved Redshift credentials, the Braze key, SMTP", self.action_credentials
        )
        yield SystemCommand("Theme: switch light / dark", "cdi-tui's own theme, remembered", self.action_toggle_theme)
        yield SystemCommand("Help", "Keys of this screen", self.action_help)
        # the app's own commands only: Textual's stock themes, Keys and Maximize are not cdi-tui's
        yield SystemCommand("Quit", "Syncs under way are cancelled and recorded", self.action_quit)

    @work(thread=True, group="key-check")
    def _check_key_at_start(self, braze_workspace: str) -> None:
        """A workspace's stored key, checked once (no data points spent): the header then says whether it works.

        A bug (an error the product does not expect) stops the app with its crash report.
        """
        from cdi_tui.braze.client import BrazeAuthError

        try:
            self.workspace.check_braze_key(braze_workspace)
        except BrazeAuthError:
            self.post_message(KeyChecked("failed", braze_workspace))
            return
        except CdiError:
            return  # Braze could not be reached, or the key cannot be read: it stays "not checked"
        self.post_message(KeyChecked("checked", braze_workspace))

    def on_key_checked(self, message: KeyChecked) -> None:
        self.set_key_state(message.braze_workspace, message.state)

    # sync messages ------------------------------------------------------------------------
    def show_error(self, title: str, message: str, action: tuple[str, Callable[[], None]] | None = None) -> None:
        """A failure in a modal, in the app's words (an action the app has is named, not a command);
        ``action`` adds a button beside Close, e.g. the Setup SQL the message advises."""
        from cdi_tui.tui.screens.modals import ErrorModal
        from cdi_tui.tui.wording import app_words

        self.push_screen(ErrorModal(title, app_words(message), action))

    def sync_started(self, name: str) -> None:
        self.rates[name] = RateWindow()
        self.running = self.running | {name}

    def on_sync_progressed(self, message: SyncProgressed) -> None:
        progress = message.progress
        if progress.integration not in self.running:
            return  # a late message of a sync that has ended
        self.rates.setdefault(progress.integration, RateWindow()).add(progress.elapsed, progress.done)
        # redrawing every panel on every report costs the sync's thread CPU (one interpreter):
        # the latest progress is shown a few times a second, the first and the last at once
        pending = bool(self._unshown)
        self._unshown[progress.integration] = progress
        wait = self._progress_shown_at + self.PROGRESS_SHOWN_EVERY - time.monotonic()
        if wait <= 0:
            self._show_progress()
        elif not pending:
            self.set_timer(wait, self._show_progress)

    def _show_progress(self) -> None:
        unshown = {name: progress for name, progress in self._unshown.items() if name in self.running}
        self._unshown.clear()
        self._progress_shown_at = time.monotonic()
        if unshown:
            self.progress = {**self.progress, **unshown}

    def _sync_ended(self, name: str) -> None:
        self.runner.forget(name)
        self.rates.pop(name, None)
        self._unshown.pop(name, None)
        self.progress = {key: value for key, value in self.progress.items() if key != name}
        self.running = self.running - {name}

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast. Its text is shown as it is: never markup (it may quote a table name or a
        server's message), control characters escaped; ``markup`` is accepted and ignored."""
        super().notify(plain_lines(message), title=safe_text(title), severity=severity, timeout=timeout, markup=False)

    def toast(self, key: str, text: str, title: str = "", severity: str = "information", timeout: float = 4) -> None:
        """One toast per ``key`` (an integration, "read-only"): a newer one replaces the older, so
        pressing a key again never piles the same toast up over the screen."""
        previous = self._sync_toasts.pop(key, None)
        if previous is not None:
            with contextlib.suppress(KeyError):
                self._unnotify(previous)
        notification = Notification(plain_lines(text), safe_text(title), severity, timeout, markup=False)  # type: ignore[arg-type]
        self.post_message(Notify(notification))
        self._sync_toasts[key] = notification

    def on_sync_finished(self, message: SyncFinished) -> None:
        record = message.record
        self._sync_ended(message.integration)
        if record.trigger == Trigger.SCHEDULED and record.status in (RunStatus.SUCCESS, RunStatus.PARTIAL):
            return  # scheduled runs that went through show on the dashboard, not in a pile of toasts
        from cdi_tui.tui.wording import app_words

        text = f"{record.status}: read {record.rows_read:,}, sent {record.rows_sent:,}, failed {record.rows_failed:,}" + (
            f". {app_words(record.error)}" if record.error else ""
        )
        severity = {RunStatus.SUCCESS: "information", RunStatus.PARTIAL: "warning", RunStatus.CANCELLED: "warning"}.get(
            record.status, "error"
        )
        self.toast(message.integration, text, f"{message.integration}: sync #{record.id}", severity, 6)

    def on_sync_failed(self, message: SyncFailed) -> None:
        self._sync_ended(message.integration)
        self.show_error(f"Sync of {message.integration} did not run", message.message)

    def on_progress_panel_cancel_requested(self, message: ProgressPanel.CancelRequested) -> None:
        if self.runner.cancel(message.integration):
            self.notify(f"Cancelling {message.integration}: requests in flight finish first", timeout=4)
