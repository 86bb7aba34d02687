"""Sync frequencies: the accepted forms and their parsed shape.

Accepted (case-insensitive, spaces folded):
``every 15 minutes``, ``every 30 minutes``, ``hourly at :MM``, ``every N hours``
(N = 1, 2, 3, 4, 6, 8, 12), ``daily at HH:MM``, ``weekly on mon,thu at HH:MM``,
``monthly on day D at HH:MM`` (D = 1..28) and ``monthly on last day at HH:MM``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule

from cdi_tui.errors import CdiError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOUR_STEPS = (1, 2, 3, 4, 6, 8, 12)
ACCEPTED_FORMS = (
    "every 15 minutes",
    "every 30 minutes",
    "hourly at :MM",
    "every N hours (N = 1, 2, 3, 4, 6, 8 or 12)",
    "daily at HH:MM",
    "weekly on mon,thu at HH:MM (any weekdays)",
    "monthly on day D at HH:MM (D = 1..28)",
    "monthly on last day at HH:MM",
)


class ScheduleError(CdiError, ValueError):
    """A frequency that is not one of the accepted forms."""


@dataclass(frozen=True)
class Frequency:
    """A parsed frequency.

    kind is one of ``minutes``, ``hourly``, ``hours``, ``daily``, ``weekly``, ``monthly``.
    ``step`` is the minute or hour step, ``weekdays`` 0=Monday..6=Sunday, ``day`` the day of
    month (``-1`` for the last day).
    """

    kind: str
    step: int = 0
    hour: int = 0
    minute: int = 0
    weekdays: tuple[int, ...] = ()
    day: int = 0

    @property
    def spec(self) -> str:
        """The canonical text of this frequency."""
        clock = f"{self.hour:02d}:{self.minute:02d}"
        if self.kind == "minutes":
            return f"every {self.step} minutes"
        if self.kind == "hourly":
            return f"hourly at :{self.minute:02d}"
        if self.kind == "hours":
            return f"every {self.step} hours" if self.step != 1 else "every 1 hours"
        if self.kind == "daily":
            return f"daily at {clock}"
        if self.kind == "weekly":
            return f"weekly on {','.join(WEEKDAYS[day] for day in self.weekdays)} at {clock}"
        if self.day == -1:
            return f"monthly on last day at {clock}"
        return f"monthly on day {self.day} at {clock}"


def _error(text: str) -> ScheduleError:
    return ScheduleError(f"unknown frequency '{text}'; accepted forms: " + "; ".join(ACCEPTED_FORMS))


def _clock(text: str, original: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match:
        raise _error(original)
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ScheduleError(f"'{text}' is not a time of day (HH:MM, 00:00 to 23:59)")
    return hour, minute


def parse_frequency(text: str) -> Frequency:
    """Parse one of the accepted frequency forms.

    Raises:
        ScheduleError: naming the accepted forms when the text is none of them.
    """
    original = text
    spec = " ".join(text.strip().lower().split())
    if spec in ("every 15 minutes", "every 30 minutes"):
        return Frequency("minutes", step=int(spec.split()[1]))
    match = re.fullmatch(r"hourly at :(\d{2})", spec)
    if match:
        minute = int(match.group(1))
        if minute > 59:
            raise ScheduleError(f"':{match.group(1)}' is not a minute (00 to 59)")
        return Frequency("hourly", minute=minute)
    match = re.fullmatch(r"every (\d+) hours?", spec)
    if match:
        step = int(match.group(1))
        if step not in HOUR_STEPS:
            raise ScheduleError(f"every N hours takes N = 1, 2, 3, 4, 6, 8 or 12, not {step}")
        return Frequency("hours", step=step)
    match = re.fullmatch(r"daily at (\S+)", spec)
    if match:
        hour, minute = _clock(match.group(1), original)
        return Frequency("daily", hour=hour, minute=minute)
    match = re.fullmatch(r"weekly on ([a-z, ]+?) at (\S+)", spec)
    if match:
        names = [name.strip() for name in match.group(1).split(",") if name.strip()]
        if not names or any(name not in WEEKDAYS for name in names):
            raise ScheduleError(f"weekdays are written {','.join(WEEKDAYS)}; got '{match.group(1)}'")
        hour, minute = _clock(match.group(2), original)
        days = tuple(sorted({WEEKDAYS.index(name) for name in names}))
        return Frequency("weekly", hour=hour, minute=minute, weekdays=days)
    match = re.fullmatch(r"monthly on day (\d+) at (\S+)", spec)
    if match:
        day = int(match.group(1))
        if not 1 <= day <= 28:
            raise ScheduleError(f"monthly on day D takes D = 1..28 (use 'last day' for month ends), not {day}")
        hour, minute = _clock(match.group(2), original)
        return Frequency("monthly", hour=hour, minute=minute, day=day)
    match = re.fullmatch(r"monthly on last day at (\S+)", spec)
    if match:
        hour, minute = _clock(match.group(1), original)
        return Frequency("monthly", hour=hour, minute=minute, day=-1)
    raise _error(original)


def _rule(frequency: Frequency, start: datetime) -> rrule.rrule:
    """The wall-clock (or, for minute steps, UTC) times of a frequency as a dateutil rrule."""
    common: dict[str, Any] = {"dtstart": start, "bysecond": 0, "cache": False}
    if frequency.kind == "minutes":
        return rrule.rrule(rrule.HOURLY, byminute=list(range(0, 60, frequency.step)), **common)
    if frequency.kind == "hourly":
        return rrule.rrule(rrule.HOURLY, byminute=frequency.minute, **common)
    if frequency.kind == "hours":
        return rrule.rrule(rrule.DAILY, byhour=list(range(0, 24, frequency.step)), byminute=0, **common)
    clock = {"byhour": frequency.hour, "byminute": frequency.minute}
    if frequency.kind == "daily":
        return rrule.rrule(rrule.DAILY, **clock, **common)
    if frequency.kind == "weekly":
        return rrule.rrule(rrule.WEEKLY, byweekday=list(frequency.weekdays), **clock, **common)
    return rrule.rrule(rrule.MONTHLY, bymonthday=frequency.day, **clock, **common)


def next_runs(spec: str | Frequency, time_zone: str, after: datetime, count: int = 3) -> list[datetime]:
    """The next ``count`` run times strictly after ``after``, as aware datetimes in ``time_zone``.

    Wall-clock forms follow the zone's clock: a time that does not exist that day (spring
    forward) runs as far after the jump as it was after the jump's start (02:30 on New York's
    spring-forward day runs at 03:30); a time that occurs twice (fall back) runs once, at the
    first. ``every 15 minutes`` and ``every 30 minutes`` follow real time (UTC quarter and
    half hours).

    Raises:
        ScheduleError: for a spec that is not one of the accepted forms.
        ZoneInfoNotFoundError: for an unknown time zone.
    """
    frequency = spec if isinstance(spec, Frequency) else parse_frequency(spec)
    zone = ZoneInfo(time_zone)
    if after.tzinfo is None:
        raise ValueError("'after' must carry a time zone")
    results: list[datetime] = []
    if frequency.kind == "minutes":
        start = after.astimezone(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
        for moment in _rule(frequency, start):
            instant = moment.replace(tzinfo=UTC)
            if instant > after:
                results.append(instant.astimezone(zone))
                if len(results) >= count:
                    break
        return results
    # wall-clock forms: walk the zone's local times from a day before, map each to an instant
    local_start = (after.astimezone(zone) - timedelta(days=1)).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    seen: set[datetime] = set()
    for wall in _rule(frequency, local_start):
        instant = wall.replace(tzinfo=zone, fold=0)  # a gap maps to "as far after the jump"; a repeat to the first
        utc = instant.astimezone(UTC)
        if utc <= after or utc in seen:
            continue
        seen.add(utc)
        results.append(utc.astimezone(zone))
        if len(results) >= count:
            break
    return results


def previous_run(spec: str | Frequency, time_zone: str, before: datetime, search_days: int = 62) -> datetime | None:
    """The latest run time at or before ``before`` (None if none in the last ``search_days``)."""
    frequency = spec if isinstance(spec, Frequency) else parse_frequency(spec)
    start = before - timedelta(days=search_days)
    latest = None
    cursor = start
    while True:
        batch = next_runs(frequency, time_zone, cursor, 64)
        if not batch:
            return latest
        for moment in batch:
            if moment > before:
                return latest
            latest = moment
        cursor = batch[-1]
