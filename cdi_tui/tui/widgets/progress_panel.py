"""Progress panels: one per running sync, with phase, bar, rate, counts, times and Cancel."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Label, ProgressBar

from cdi_tui.engine.sync import Progress


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ProgressPanel(Vertical):
    """The live state of one sync."""

    class CancelRequested(Message):
        def __init__(self, integration: str) -> None:
            super().__init__()
            self.integration = integration

    def __init__(self, integration: str) -> None:
        super().__init__(classes="progress-panel")
        self.integration = integration
        self.border_title = f"Sync: {integration}"

    def compose(self) -> ComposeResult:
        with Horizontal(classes="panel-top"):
            yield Label("starting", classes="phase")
            yield ProgressBar(total=None, show_eta=False, classes="bar")
            yield Button("Cancel", variant="error", classes="cancel", compact=True)
        yield Label("", classes="counts")

    _progress: Progress | None = None
    _ready = False

    def on_mount(self) -> None:
        self._ready = True
        if self._progress is not None:
            self.update_progress(self._progress)

    def update_progress(self, progress: Progress) -> None:
        self._progress = progress
        if not self._ready:
            return  # shown once mounted
        self.query_one(".phase", Label).update(progress.phase)
        bar = self.query_one(ProgressBar)
        bar.update(total=progress.total if progress.total else None, progress=progress.done)
        self.query_one(".counts", Label).update(
            f"{progress.done:,}/{progress.total or 0:,} rows  {progress.rate:,.0f} rows/s  "
            f"sent {progress.sent:,}  failed {progress.failed:,}  skipped {progress.skipped:,}  "
            f"elapsed {_duration(progress.elapsed)}  ETA {_duration(progress.eta_seconds)}"
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        event.button.disabled = True
        self.query_one(".phase", Label).update("cancelling")
        self.post_message(self.CancelRequested(self.integration))


class ProgressPanels(Vertical):
    """All running syncs; shows itself only while one runs."""

    def on_mount(self) -> None:
        self.display = False
        runner = getattr(self.app, "runner", None)
        if runner is not None:
            for name in runner.running:
                self.show(name, runner.latest.get(name))

    def show(self, integration: str, progress: Progress | None) -> None:
        panels = [panel for panel in self.query(ProgressPanel) if panel.integration == integration]
        if panels:
            panel = panels[0]
        else:
            panel = ProgressPanel(integration)
            self.mount(panel)
        self.display = True
        if progress is not None:
            panel.update_progress(progress)

    def remove_panel(self, integration: str) -> None:
        for panel in self.query(ProgressPanel):
            if panel.integration == integration:
                panel.remove()
        if not [panel for panel in self.query(ProgressPanel) if panel.integration != integration]:
            self.display = False
