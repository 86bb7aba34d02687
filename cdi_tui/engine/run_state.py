"""What a run knows while it runs: its counts, its phase, how it is stopping, and its progress."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cdi_tui.config import Integration
from cdi_tui.engine.transform import describe_identifier
from cdi_tui.runlog import RowErrorRecord, payload_preview, to_text, utc_now
from cdi_tui.warehouse.timestamps import OutOfRangeTime


@dataclass(frozen=True)
class Progress:
    """A snapshot of a run, for progress panels and bars."""

    run_id: int
    integration: str
    phase: str
    total: int | None
    read: int
    sent: int
    failed: int
    skipped: int
    elapsed: float
    message: str = ""
    in_flight: int = 0  # requests under way to Braze
    unchanged: int = 0  # rows not sent: nothing in them changed since it was delivered
    data_points: int = 0  # attributes set, events and purchases delivered (or, in a dry run, that would be)
    superseded: int = 0  # rows not sent: a newer row of the same user set every value they held
    items_written: int = 0  # catalogs: items Braze accepted to write (created or replaced)
    items_deleted: int = 0  # catalogs: items Braze accepted to delete

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.unchanged + self.superseded

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if not self.total or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


ProgressCallback = Callable[[Progress], None]


@dataclass
class RunState:
    """One run's counts and stop signals, shared by the engine's parts (one thread writes them)."""

    run_id: int
    integration: Integration
    dry_run: bool
    max_rows: int
    cancel: threading.Event
    progress: ProgressCallback | None
    started: float = field(default_factory=time.monotonic)
    phase: str = "connecting"
    total: int | None = None
    read: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    in_flight: int = 0
    unchanged: int = 0
    superseded: int = 0
    data_points: int = 0
    items_written: int = 0
    items_deleted: int = 0
    warnings: list[str] = field(default_factory=list)
    fatal: BaseException | None = None  # ends the run as an error
    stop_reason: str | None = None  # Braze unreachable: ends the run as an error
    limit_hit: bool = False
    stop_sending: threading.Event = field(default_factory=threading.Event)  # wakes waits on the limit and backoffs
    log_failed: BaseException | None = None  # the run log (or the delivered store) cannot be written: record no more
    started_at: datetime = field(default_factory=utc_now)
    last_report: float = 0.0
    # Braze's answers by status code ("transport": none came); requests are answered in the
    # reading thread or the sending loop's, so counted under a lock
    answers: Counter[str] = field(default_factory=Counter)
    _answers_lock: threading.Lock = field(default_factory=threading.Lock)

    def note_answer(self, status: int | None) -> None:
        """Count one answer of Braze (``None``: the request got none: timeout, dropped connection)."""
        key = "transport" if status is None else str(status)
        with self._answers_lock:
            self.answers[key] += 1

    def answers_now(self) -> dict[str, int]:
        with self._answers_lock:
            return dict(self.answers)

    @property
    def name(self) -> str:
        return self.integration.name

    def should_stop(self) -> bool:
        return self.cancel.is_set() or self.fatal is not None or self.stop_reason is not None

    def log_broke(self, error: BaseException) -> None:
        """The run log cannot be written: stop at once; what is in flight finishes unrecorded
        (the watermark on disk is the last one saved, so the next run sends it again)."""
        if self.log_failed is None:
            self.log_failed = error
        self.fail(error)

    def fail(self, error: BaseException) -> None:
        """Record the first fatal error and stop sending."""
        if self.fatal is None:
            self.fatal = error
        self.stop_sending.set()

    def row_error(
        self, updated_at: datetime | str | None, identifier: dict[str, Any] | None, code: str, reason: str, payload: Any
    ) -> RowErrorRecord:
        """The run log's record of one row that was not delivered: the one way to make one."""
        if isinstance(updated_at, OutOfRangeTime):
            moment: str | None = str(updated_at)  # as the warehouse writes it ("infinity", "-infinity", ...)
        else:
            moment = to_text(updated_at) if isinstance(updated_at, datetime) else updated_at
        return RowErrorRecord(
            self.run_id, self.integration.name, moment, describe_identifier(identifier), code, reason, payload_preview(payload)
        )

    # progress ---------------------------------------------------------------------------
    def snapshot(self, message: str = "") -> Progress:
        return Progress(
            self.run_id,
            self.integration.name,
            self.phase,
            self.total,
            self.read,
            self.sent,
            self.failed,
            self.skipped,
            time.monotonic() - self.started,
            message,
            self.in_flight,
            self.unchanged,
            self.data_points,
            self.superseded,
            self.items_written,
            self.items_deleted,
        )

    def set_phase(self, phase: str) -> None:
        if phase != self.phase:
            self.phase = phase
            self.report(force=True)

    def report(self, force: bool = False, message: str = "") -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self.last_report >= 0.1:
            self.last_report = now
            self.progress(self.snapshot(message))
