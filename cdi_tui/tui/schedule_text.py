"""How the app words schedules: the next run of an integration, the next three of a spec."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cdi_tui.config import Integration
from cdi_tui.schedule import ScheduleError, next_runs


def workspace_zone(workspace: Any) -> str:
    try:
        braze = workspace.config().braze
    except Exception:
        return "UTC"
    return braze.time_zone if braze is not None else "UTC"


def next_run_text(workspace: Any, integration: Integration, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if workspace.runlog.last_run(integration.name) is None:
        return "now (first sync)"
    try:
        [moment] = next_runs(integration.frequency, workspace_zone(workspace), now, 1)
    except (ScheduleError, ValueError):
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def next_three_text(spec: str, zone: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    try:
        runs = next_runs(spec, zone, now, 3)
    except (ScheduleError, ValueError) as error:
        return str(error)
    return "Next runs: " + ", ".join(moment.strftime("%a %Y-%m-%d %H:%M %Z") for moment in runs)
