"""How the app words schedules: the next run of an integration, the next three of a spec."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cdi_tui.config import Integration
from cdi_tui.errors import CdiError
from cdi_tui.schedule import ScheduleError, next_runs
from cdi_tui.tui.looks import TIME_FORMAT

if TYPE_CHECKING:
    from cdi_tui.workspace import Workspace


def workspace_zone(workspace: Workspace) -> str:
    try:
        return workspace.config().time_zone
    except CdiError:  # a broken config is reported where it is used
        return "UTC"


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
