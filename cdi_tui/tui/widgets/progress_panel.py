"""Progress panels: one panel that lists every running sync (two lines each) with Cancel.

The panels watch the app's ``running`` and ``progress`` reactives; nothing polls them.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Label, ProgressBar

from cdi_tui.tui.base import CdiMixin
from cdi_tui.tui.widgets.scroll import Scroll
from cdi_tui.workspace import Progress


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def counts_text(progress: Progress, rate: float | None = None, items: bool = False) -> str:
    """Two lines: how far and how fast (now: ``rate``, else the run's average) with the data points
    spent (``items``: a catalog's items written and deleted instead: it spends none); then where
    the rows went."""
    speed = progress.rate if rate is None else rate
    spent = (
        f"{progress.items_written:,} written · {progress.items_deleted:,} deleted"
        if items
        else f"{progress.data_points:,} data points"
    )
    return (
        f"{progress.done:,}/{progress.total or 0:,} rows · {speed:,.0f}/s · {duration_text(progress.elapsed)} · "
        f"{spent}\n"
        f"sent {progress.sent:,} · unchanged {progress.unchanged:,} · failed {progress.failed:,} · "
        f"skipped {progress.skipped:,}" + (f" · superseded {progress.superseded:,}" if progress.superseded else "")
    )


class ProgressPanel(Vertical):
    """The live state of one sync."""

    DEFAULT_CSS = """
    ProgressPanel {
        height: auto;
        .panel-top { height: 1; }
        .name { width: 22; text-style: bold; }
        .phase { width: 11; color: $text-accent; }
        .bar { width: 1fr; }
        .bar Bar { width: 1fr; }
        .eta { width: 10; margin-left: 1; }
        .counts { color: $foreground-muted; padding-left: 2; width: 1fr; }
        Button { margin-left: 1; }
    }
    """

    class CancelRequested(Message):
        def __init__(self, integration: str) -> None:
            super().__init__()
            self.integration = integration

    def __init__(self, integration: str) -> None:
        super().__init__(classes="progress-panel")
        self.integration = integration
        self.items = False  # a catalog's sync: items written and deleted instead of data points

    def compose(self) -> ComposeResult:
        with Horizontal(classes="panel-top"):
            yield Label(self.integration, classes="name", markup=False)
            yield Label("starting", classes="phase")
            yield ProgressBar(total=None, show_eta=False, classes="bar")
            yield Label("ETA --:--", classes="eta")
            yield Button("Cancel", variant="error", classes="cancel", compact=True)
        yield Label("", classes="counts")

    def on_mount(self) -> None:
        from cdi_tui.enums import DataType
        from cdi_tui.workspace import WorkspaceError

        workspace = getattr(self.app, "workspace", None)  # None: a panel shown outside the app (its tests)
        try:
            self.items = workspace is not None and workspace.integration(self.integration).data_type == DataType.CATALOGS
        except WorkspaceError:  # removed meanwhile
            self.items = False
        latest = getattr(self.app, "progress", {}).get(self.integration)
        if latest is not None:
            self.update_progress(latest)

    def update_progress(self, progress: Progress) -> None:
        button = next(iter(self.query(".cancel").results(Button)), None)
        if button is None:  # not composed yet (on_mount shows the latest), or removed as its sync ended
            return
        if not button.disabled:
            self.query_one(".phase", Label).update(progress.phase)
        self.query_one(ProgressBar).update(total=progress.total if progress.total else None, progress=progress.done)
        window = getattr(self.app, "rates", {}).get(self.integration)
        # the ETA once the recent rate is steady: never from a start that includes connecting and counting
        eta = window.eta(progress.total, progress.done) if window is not None else None
        self.query_one(".eta", Label).update(f"ETA {duration_text(eta)}")
        self.query_one(".counts", Label).update(counts_text(progress, window.rate if window is not None else None, self.items))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        event.button.disabled = True
        self.query_one(".phase", Label).update("cancelling")
        self.post_message(self.CancelRequested(self.integration))


class ProgressPanels(CdiMixin, Scroll):
    """Every running sync of the app; shows itself only while one runs."""

    DEFAULT_CSS = """
    ProgressPanels {
        height: auto;
        max-height: 50%;
        border: round $primary 60%;
        border-title-color: $text-primary;
        padding: 0 1;
        &:focus-within { border: round $primary; }
        &.-empty { display: none; }
    }
    """

    def on_mount(self) -> None:
        self.add_class("-empty")
        self.watch(self.cdi, "running", self._running_changed)
        self.watch(self.cdi, "progress", self._progress_changed)

    def panel(self, integration: str) -> ProgressPanel | None:
        for panel in self.query(ProgressPanel):
            if panel.integration == integration:
                return panel
        return None

    def _running_changed(self, running: frozenset[str]) -> None:
        for panel in list(self.query(ProgressPanel)):
            if panel.integration not in running:
                panel.remove()
        for name in sorted(running):
            if self.panel(name) is None:
                self.mount(ProgressPanel(name))
        self.set_class(not running, "-empty")
        self.border_title = f"Syncs running ({len(running)})"
        self._progress_changed(self.cdi.progress)

    def _progress_changed(self, progress: dict[str, Progress]) -> None:
        for name, latest in progress.items():
            panel = self.panel(name)
            if panel is not None:
                panel.update_progress(latest)
