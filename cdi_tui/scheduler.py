"""Which integrations are due, and claiming a scheduled slot so it runs once.

Rules:
- Only active integrations run on schedule; paused and draft ones never do.
- An active integration that has never run is due at once (its first sync starts right
  after activation).
- Otherwise it is due when a scheduled time has passed since its last scheduled run (or,
  before any, since its first run). A missed stretch (the machine was off) runs once, not
  once per missed slot.
- Sync Now never moves scheduled runs: only scheduled runs record a slot.
- The app, cron (``run-due``) and ``serve`` may all look at once: a slot is claimed in the
  run log atomically before its run starts, and the engine's lock keeps runs of one
  integration from overlapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cdi_tui.config import Config, Integration
from cdi_tui.enums import IntegrationState
from cdi_tui.runlog import RunLog
from cdi_tui.schedule import ScheduleError, previous_run


@dataclass(frozen=True)
class DueRun:
    integration: str
    slot: datetime  # the scheduled time this run stands for (now, for a first sync)
    reason: str


def due_runs(config: Config, runlog: RunLog, now: datetime) -> list[DueRun]:
    """The active integrations that are due at ``now`` (each schedule in its Braze workspace's time zone)."""
    due: list[DueRun] = []
    for integration in sorted(config.integrations.values(), key=lambda item: item.name):
        run = due_run(integration, runlog, config.zone_of(integration), now)
        if run is not None:
            due.append(run)
    return due


def due_run(integration: Integration, runlog: RunLog, zone: str, now: datetime) -> DueRun | None:
    if integration.state != IntegrationState.ACTIVE:
        return None
    anchor = runlog.last_scheduled(integration.name)
    if anchor is None:
        first = runlog.first_run_started(integration.name)
        if first is None:
            return DueRun(integration.name, now, "first sync after activation")
        anchor = first
    try:
        slot = previous_run(integration.frequency, zone, now)
    except (ScheduleError, ValueError):
        return None
    if slot is None or slot <= anchor:
        return None
    return DueRun(integration.name, slot, f"scheduled for {slot.isoformat()}")


def claim(runlog: RunLog, run: DueRun) -> bool:
    """Record the slot as taken; False when another process took it first."""
    return runlog.claim_slot(run.integration, run.slot)
