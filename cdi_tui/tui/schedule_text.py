"""How the app words schedules: the next run of an integration, the next three of a spec."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cdi_tui.config import Integration
from cdi_tui.schedule import ScheduleError, next_runs
from cdi_tui.tui.looks import TIME_FORMAT


def workspace_zone(workspace: Any) -> str:
    try:
        braze = workspace.config().braze
    except Exception:
        return "UTC"
    return braze.time_zone if braze is not None else "UTC"


def next_run_text(integration: Integration, has_run: bool, zone: str, now: datetime) -> str:
    """The next run of an active integration (the first sync is due at once)."""
    if not has_run:
        return "now (first sync)"
    try:
        [moment] = next_runs(integration.frequency, zone, now, 1)
    except (ScheduleError, ValueError):
        return "-"
    return moment.strftime(TIME_FORMAT)


def next_three_text(spec: str, zone: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    try:
        runs = next_runs(spec, zone, now, 3)
    except (ScheduleError, ValueError) as error:
        return str(error)
    return "Next runs: " + ", ".join(moment.strftime(f"%a {TIME_FORMAT}") for moment in runs)
