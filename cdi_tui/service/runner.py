"""The runs ``serve`` starts, each in a thread of its own: scheduled slots and API triggers.

The scheduler loop keeps ticking while runs go on (a run of an hour must not look like a
stuck loop), and two integrations may sync at once; one integration never runs twice at once
(this process knows its own runs, and the run lock covers every other process). Each run opens
a workspace of its own and closes it when it ends, so nothing holds the run log open between
runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cdi_tui.enums import Trigger
from cdi_tui.errors import CdiError

if TYPE_CHECKING:
    from cdi_tui.workspace import Progress, RunRecord, Workspace

log = logging.getLogger("cdi_tui.serve")

START_WAIT_SECONDS = 15.0  # an API trigger answers once its run is recorded (so a poll sees it), or after this


@dataclass
class RunningSync:
    name: str
    trigger: Trigger
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    run_id: int | None = None
    recorded: threading.Event = field(default_factory=threading.Event)  # the run is in the run log (or it never started)
    refused: str | None = None  # why it never started (another run in progress, refused)
    busy: bool = False  # refused because another run of it was under way
    thread: threading.Thread | None = None


class StartRefused(CdiError):
    """A run could not start; ``busy`` when another run of the integration is under way (expected: the
    trigger API answers 429 or the reason)."""

    def __init__(self, message: str, busy: bool = False) -> None:
        super().__init__(message)
        self.busy = busy


class SyncRunner:
    """Starts runs in threads and knows which are under way.

    Args:
        open_workspace: opens a workspace (each run gets its own, closed when it ends).
        stop: set when the service stops: every run under way is cancelled (requests in flight finish).
        on_end: called in the run's thread with the integration, its record (None if it never
            started) and the reason it did not.
    """

    def __init__(
        self,
        open_workspace: Callable[[], Workspace],
        stop: threading.Event,
        on_end: Callable[[str, RunRecord | None, str | None], None],
    ) -> None:
        self._open = open_workspace
        self._stop = stop
        self._on_end = on_end
        self._lock = threading.Lock()
        self._running: dict[str, RunningSync] = {}

    def is_running(self, name: str) -> bool:
        with self._lock:
            return name in self._running

    def running(self) -> list[RunningSync]:
        with self._lock:
            return sorted(self._running.values(), key=lambda item: item.name)

    def start(self, name: str, trigger: Trigger, wait: bool = False) -> RunningSync:
        """Start a run of ``name``; with ``wait``, return once it is recorded (or refused).

        Raises:
            StartRefused: a run of it is under way in this process (``busy``), or, with ``wait``,
                the run was refused before it started.
        """
        with self._lock:
            if name in self._running:
                raise StartRefused("Another job is in progress", busy=True)
            job = RunningSync(name, trigger)
            self._running[name] = job
        job.thread = threading.Thread(target=self._run, args=(job,), name=f"cdi-tui-sync-{name}", daemon=True)
        job.thread.start()
        if wait:
            job.recorded.wait(START_WAIT_SECONDS)
            if job.refused is not None:
                raise StartRefused(job.refused, busy=job.busy)
        return job

    def _run(self, job: RunningSync) -> None:
        from cdi_tui.workspace import RunInProgress, SyncOptions, SyncRefused, WorkspaceError

        def on_progress(progress: Progress) -> None:
            if job.run_id is None:
                job.run_id = progress.run_id
                job.recorded.set()

        record: RunRecord | None = None
        workspace: Workspace | None = None
        try:
            workspace = self._open()
            record = workspace.sync(job.name, SyncOptions(trigger=job.trigger), on_progress, self._stop)
        except RunInProgress:
            job.refused, job.busy = "Another job is in progress", True
        except (SyncRefused, WorkspaceError) as error:
            job.refused = str(error)
        except Exception as error:  # a bug: the run is recorded as an error by the engine; the service goes on
            log.exception("run of %s ended unexpectedly", job.name, extra={"integration": job.name})
            job.refused = f"{type(error).__name__}: {error}"
        finally:
            if workspace is not None:
                workspace.close()
            with self._lock:
                self._running.pop(job.name, None)
            job.recorded.set()
        try:
            self._on_end(job.name, record, job.refused)
        except Exception:
            log.exception("reporting the end of %s's run failed", job.name)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the runs under way (after ``stop`` was set, they finish their requests in flight)."""
        for job in self.running():
            if job.thread is not None:
                job.thread.join(timeout)
