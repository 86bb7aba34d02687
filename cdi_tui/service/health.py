"""``GET /healthz``: is the service doing its job? (Airflow's health endpoint: each component
with its last heartbeat, unhealthy after a stated time.)

Two components: the scheduler loop, healthy while it ticked within two intervals (at least
:data:`MIN_STALE_SECONDS`, so a short interval does not flap), and the run log, healthy while a
write to it goes through. Unhealthy answers carry the reason; systemd's watchdog is fed only
while healthy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MIN_STALE_SECONDS = 5.0


class Heartbeat:
    """When the scheduler loop last ticked; thread-safe.

    Args:
        interval: seconds between the loop's checks.
        clock: monotonic seconds (tests move it).
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._last_wall: float | None = None

    @property
    def limit_seconds(self) -> float:
        return max(2 * self.interval, MIN_STALE_SECONDS)

    def tick(self) -> None:
        with self._lock:
            self._last = self._clock()
            self._last_wall = time.time()

    def last_tick_epoch(self) -> float | None:
        with self._lock:
            return self._last_wall

    def problem(self) -> str | None:
        """Why the loop counts as stuck, or None."""
        with self._lock:
            last = self._last
        if last is None:
            return "the scheduler loop has not ticked yet"
        age = self._clock() - last
        if age > self.limit_seconds:
            return f"the scheduler loop last ticked {age:.1f} s ago (limit {self.limit_seconds:g} s: two intervals)"
        return None

    def component(self) -> dict[str, Any]:
        with self._lock:
            last, wall = self._last, self._last_wall
        problem = self.problem()
        return {
            "status": "unhealthy" if problem else "healthy",
            "latest_heartbeat": None if wall is None else datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds"),
            "seconds_since_heartbeat": None if last is None else round(self._clock() - last, 3),
            "limit_seconds": self.limit_seconds,
            **({"reason": problem} if problem else {}),
        }


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    body: dict[str, Any]


def health_report(heartbeat: Heartbeat, run_log_problem: Callable[[], str | None], running: list[str]) -> HealthReport:
    """The answer of ``/healthz``: 200 with this body while healthy, 503 (with ``reason``) otherwise."""
    scheduler = heartbeat.component()
    log_problem = run_log_problem()
    run_log: dict[str, Any] = {"status": "unhealthy" if log_problem else "healthy"}
    if log_problem:
        run_log["reason"] = log_problem
    reasons = [problem for problem in (scheduler.get("reason"), log_problem) if problem]
    body: dict[str, Any] = {
        "status": "unhealthy" if reasons else "healthy",
        "scheduler": scheduler,
        "run_log": run_log,
        "syncs_running": running,
    }
    if reasons:
        body["reason"] = "; ".join(reasons)
    return HealthReport(not reasons, body)
