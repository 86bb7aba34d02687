"""How the app words and colours values: one time format, states and statuses by meaning."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import App
from textual.color import Color, ColorParseError

from cdi_tui.enums import IntegrationState, RunStatus

TIME_FORMAT = "%Y-%m-%d %H:%M"  # one format everywhere, in the workspace zone (the header names it)
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

STATE_COLOURS: dict[str, str] = {
    IntegrationState.ACTIVE: "success",
    IntegrationState.PAUSED: "warning",
    IntegrationState.DRAFT: "secondary",
    "running": "primary",  # a sync under way
}
STATUS_COLOURS: dict[str, str] = {
    RunStatus.SUCCESS: "success",
    RunStatus.PARTIAL: "warning",
    RunStatus.ERROR: "error",
    RunStatus.CANCELLED: "secondary",
    RunStatus.LIMIT_EXCEEDED: "warning",
    RunStatus.INTERRUPTED: "error",
    RunStatus.RUNNING: "primary",
}


def local_time(moment: datetime | None, zone: str) -> str:
    """A moment in the workspace zone, as every screen shows it ("-" when there is none)."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(zone)).strftime(TIME_FORMAT)


def local_time_text(text: str | None, zone: str) -> str:
    """An ISO-8601 timestamp kept as text (a failed row's UPDATED_AT) in the one format; other text as is."""
    if not text:
        return "-"
    try:
        return local_time(datetime.fromisoformat(text.strip()), zone)
    except ValueError:
        return text


class Palette:
    """The current theme's colours as Rich colours (alpha blended over the background)."""

    def __init__(self, app: App[Any]) -> None:
        self.variables = app.theme_variables
        self.background = Color.parse(self.variables.get("background", "#000000"))

    def get(self, name: str, fallback: str = "default") -> str:
        value = self.variables.get(name)
        if not value:
            return fallback
        try:
            colour = Color.parse(value)
        except ColorParseError:
            return fallback
        if colour.a < 1:
            colour = self.background + colour
        return colour.hex6


def palette(app: App[Any]) -> Palette:
    return Palette(app)


def _colour(app: App[object], meaning: str) -> str:
    return palette(app).get(meaning)


def state_text(app: App[object], state: str, spin: int | None = None) -> Text:
    """An integration's state, coloured by meaning; a running sync spins."""
    label = state.capitalize()
    if spin is not None:
        label = f"{SPINNER[spin % len(SPINNER)]} Running"
        state = "running"
    return Text(f"● {label}" if spin is None else label, style=f"bold {_colour(app, STATE_COLOURS.get(state, 'foreground'))}")


def status_text(app: App[object], status: str) -> Text:
    return Text(status, style=_colour(app, STATUS_COLOURS.get(status, "foreground")))


def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` cells with an ellipsis."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"
