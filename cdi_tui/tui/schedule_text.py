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


def workspace_zone(workspace: Workspace, braze_workspace: str | None = None) -> str:
    """The time zone of a Braze workspace (default: the main one); times on its screens are in it."""
    try:
        config = workspace.config()
    except CdiError:  # a broken config is reported where it is used
        return "UTC"
    settings = config.workspaces.get(braze_workspace or config.main_workspace)
    return settings.time_zone if settings is not None else config.time_zone


def integration_zone(workspace: Workspace, name: str) -> str:
    """The time zone of an integration's Braze workspace: its schedule runs, and its times show, in it."""
    try:
        config = workspace.config()
        return config.zone_of(config.integrations.get(name))
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
