"""A frequency chosen with controls (never typed), with the next three runs as confirmation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Select, SelectionList

from cdi_tui.fields import DEFAULT_FREQUENCY
from cdi_tui.schedule import WEEKDAYS, Frequency, ScheduleError, parse_frequency
from cdi_tui.tui.schedule_text import next_three_text

KINDS = (
    ("Every 15 minutes", "15min"),
    ("Every 30 minutes", "30min"),
    ("Hourly", "hourly"),
    ("Every N hours", "hours"),
    ("Daily", "daily"),
    ("Weekly", "weekly"),
    ("Monthly, on a day", "monthly"),
    ("Monthly, on the last day", "monthly_last"),
)
# which controls each kind uses
CONTROLS = {
    "15min": (),
    "30min": (),
    "hourly": ("minute",),
    "hours": ("step",),
    "daily": ("hour", "minute"),
    "weekly": ("hour", "minute", "weekdays"),
    "monthly": ("day", "hour", "minute"),
    "monthly_last": ("hour", "minute"),
}


def frequency_spec(kind: str, minute: int, hour: int, step: int, weekdays: list[int], day: int) -> str:
    """The frequency text for the controls' values (one of the accepted forms)."""
    clock = f"{hour:02d}:{minute:02d}"
    if kind == "15min":
        return "every 15 minutes"
    if kind == "30min":
        return "every 30 minutes"
    if kind == "hourly":
        return f"hourly at :{minute:02d}"
    if kind == "hours":
        return f"every {step} hours"
    if kind == "daily":
        return f"daily at {clock}"
    if kind == "weekly":
        days = ",".join(WEEKDAYS[index] for index in sorted(weekdays)) or "mon"
        return f"weekly on {days} at {clock}"
    if kind == "monthly":
        return f"monthly on day {day} at {clock}"
    return f"monthly on last day at {clock}"


def _kind_of(frequency: Frequency) -> str:
    if frequency.kind == "minutes":
        return "15min" if frequency.step == 15 else "30min"
    if frequency.kind == "monthly":
        return "monthly_last" if frequency.day == -1 else "monthly"
    return frequency.kind


class FrequencyPicker(Vertical):
    """``value`` is the frequency text; the next three runs show in ``zone`` below the controls."""

    DEFAULT_CSS = """
    FrequencyPicker { height: auto; }
    FrequencyPicker .frequency-row { height: auto; }
    FrequencyPicker .frequency-row > Select { width: 24; margin-right: 1; }
    FrequencyPicker .frequency-row > .freq-hour, FrequencyPicker .frequency-row > .freq-minute { width: 11; }
    FrequencyPicker .frequency-row > .freq-day { width: 14; }
    FrequencyPicker SelectionList { height: auto; max-height: 9; width: 30; }
    FrequencyPicker .next-runs { width: 1fr; height: auto; color: $foreground-muted; }
    """

    def __init__(
        self, spec: str, zone: str, clock: Callable[[], datetime], *, id: str | None = None, scheduled: bool = True
    ) -> None:
        super().__init__(id=id)
        self.scheduled = scheduled  # a paused or draft integration lists no next runs
        try:
            frequency = parse_frequency(spec)
        except ScheduleError:
            frequency = parse_frequency(DEFAULT_FREQUENCY)
        self.initial = frequency
        self.zone = zone
        self.clock = clock

    def compose(self) -> ComposeResult:
        initial = self.initial
        with Horizontal(classes="frequency-row"):
            yield Select(KINDS, value=_kind_of(initial), allow_blank=False, classes="freq-kind", compact=True)
            yield Select(
                [(f"every {n} hours", n) for n in (1, 2, 3, 4, 6, 8, 12)],
                value=initial.step if initial.kind == "hours" else 6,
                allow_blank=False,
                classes="freq-step",
                compact=True,
            )
            yield Select(
                [(f"{h:02d}", h) for h in range(24)], value=initial.hour, allow_blank=False, classes="freq-hour", compact=True
            )
            yield Select(
                [(f":{m:02d}", m) for m in range(60)],
                value=initial.minute,
                allow_blank=False,
                classes="freq-minute",
                compact=True,
            )
            yield Select(
                [(f"day {d}", d) for d in range(1, 29)],
                value=initial.day if initial.day > 0 else 1,
                allow_blank=False,
                classes="freq-day",
                compact=True,
            )
        weekdays = set(initial.weekdays) or {0}
        yield SelectionList[int](
            *[(name, index, index in weekdays) for index, name in enumerate(WEEKDAYS)], classes="freq-weekdays"
        )
        yield Label("", classes="next-runs", markup=False)  # a reason may quote what was typed

    def on_mount(self) -> None:
        self._changed()

    def _number(self, name: str) -> int:
        value = self.query_one(f".freq-{name}", Select).value
        return int(value) if isinstance(value, int) else 0

    @property
    def value(self) -> str:
        return frequency_spec(
            str(self.query_one(".freq-kind", Select).value),
            self._number("minute"),
            self._number("hour"),
            self._number("step"),
            list(self.query_one(".freq-weekdays", SelectionList).selected),
            self._number("day"),
        )

    def set_kind(self, kind: str) -> None:
        self.query_one(".freq-kind", Select).value = kind

    def set_number(self, name: str, value: int) -> None:
        self.query_one(f".freq-{name}", Select).value = value

    @on(Select.Changed)
    @on(SelectionList.SelectedChanged)
    def _changed(self) -> None:
        used = CONTROLS[str(self.query_one(".freq-kind", Select).value)]
        for name in ("step", "hour", "minute", "day", "weekdays"):
            self.query_one(f".freq-{name}").display = name in used
        if not self.scheduled:
            self.query_one(".next-runs", Label).update("No scheduled runs while it is not active")
            return
        self.query_one(".next-runs", Label).update(next_three_text(self.value, self.zone, self.clock()))

    def set_scheduled(self, scheduled: bool) -> None:
        self.scheduled = scheduled
        self._changed()

    def set_zone(self, zone: str) -> None:
        """The next runs in another time zone (another Braze workspace was chosen)."""
        if zone != self.zone:
            self.zone = zone
            self._changed()
