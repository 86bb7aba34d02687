"""Schedule arithmetic in the workspace time zone, DST shifts included."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime

import pytest
from forked_cli import run_cdi

from cdi_tui.schedule import next_runs, previous_run


def iso(spec: str, zone: str, after: datetime, count: int = 3) -> list[str]:
    return [moment.isoformat() for moment in next_runs(spec, zone, after, count)]


@pytest.mark.parametrize(
    ("spec", "zone", "after", "expected"),
    [
        # real-time quarter and half hours, whatever the zone's offset
        ("every 15 minutes", "Asia/Kathmandu", datetime(2026, 3, 1, 10, 7, tzinfo=UTC), ["2026-03-01T16:00:00+05:45", "2026-03-01T16:15:00+05:45"]),
        ("every 30 minutes", "UTC", datetime(2026, 3, 1, 10, 30, tzinfo=UTC), ["2026-03-01T11:00:00+00:00", "2026-03-01T11:30:00+00:00"]),
        # New York spring forward (2026-03-08 02:00 -> 03:00): 02:30 runs at 03:30
        ("daily at 02:30", "America/New_York", datetime(2026, 3, 7, 12, tzinfo=UTC),
         ["2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"]),
        ("hourly at :05", "America/New_York", datetime(2026, 3, 8, 5, tzinfo=UTC),
         ["2026-03-08T00:05:00-05:00", "2026-03-08T01:05:00-05:00", "2026-03-08T03:05:00-04:00", "2026-03-08T04:05:00-04:00"]),
        # New York fall back (2026-11-01 02:00 -> 01:00): 01:30 happens twice and runs once, at the first
        ("daily at 01:30", "America/New_York", datetime(2026, 11, 1, 4, tzinfo=UTC),
         ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
        # Berlin spring forward (2026-03-29 02:00 -> 03:00) and fall back (2026-10-25 03:00 -> 02:00)
        ("daily at 02:15", "Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC),
         ["2026-03-29T03:15:00+02:00", "2026-03-30T02:15:00+02:00"]),
        ("daily at 02:30", "Europe/Berlin", datetime(2026, 10, 24, 12, tzinfo=UTC),
         ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
        ("every 6 hours", "Europe/Berlin", datetime(2026, 3, 28, 23, tzinfo=UTC),
         ["2026-03-29T06:00:00+02:00", "2026-03-29T12:00:00+02:00", "2026-03-29T18:00:00+02:00", "2026-03-30T00:00:00+02:00"]),
        # Lord Howe's half-hour shift: 02:00 -> 02:30 on 2026-10-04; 02:00 -> 01:30 on 2026-04-05
        ("daily at 02:15", "Australia/Lord_Howe", datetime(2026, 10, 3, tzinfo=UTC),
         ["2026-10-04T02:45:00+11:00", "2026-10-05T02:15:00+11:00"]),
        ("daily at 01:45", "Australia/Lord_Howe", datetime(2026, 4, 4, tzinfo=UTC),
         ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"]),
        # month ends and leap years
        ("monthly on last day at 23:00", "UTC", datetime(2027, 1, 31, 23, tzinfo=UTC),
         ["2027-02-28T23:00:00+00:00", "2027-03-31T23:00:00+00:00", "2027-04-30T23:00:00+00:00"]),
        ("monthly on last day at 12:00", "Europe/Berlin", datetime(2028, 2, 1, tzinfo=UTC),
         ["2028-02-29T12:00:00+01:00", "2028-03-31T12:00:00+02:00"]),
        ("monthly on day 28 at 00:00", "UTC", datetime(2028, 1, 29, tzinfo=UTC), ["2028-02-28T00:00:00+00:00", "2028-03-28T00:00:00+00:00"]),
        ("weekly on thu,mon at 09:00", "America/New_York", datetime(2026, 3, 1, tzinfo=UTC),
         ["2026-03-02T09:00:00-05:00", "2026-03-05T09:00:00-05:00", "2026-03-09T09:00:00-04:00"]),
    ],
)  # fmt: skip
def test_next_runs(spec: str, zone: str, after: datetime, expected: list[str]) -> None:
    assert iso(spec, zone, after, len(expected)) == expected


def test_runs_are_strictly_after_the_given_instant() -> None:
    slot = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    assert iso("daily at 02:30", "UTC", slot, 1) == ["2026-03-02T02:30:00+00:00"]


def test_previous_run_finds_the_latest_slot() -> None:
    now = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    assert previous_run("daily at 02:30", "UTC", now) == datetime(2026, 3, 5, 2, 30, tzinfo=UTC)
    assert previous_run("weekly on mon at 09:00", "UTC", now) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDI_TUI_HOME": os.environ.get("TMPDIR", "/tmp") + "/cdi-next-runs-home"}
    return run_cdi(args, env=env, timeout=60)


def test_the_next_runs_command_prints_iso_8601_with_the_offset_in_force() -> None:
    result = run("next-runs", "daily at 02:30", "--time-zone", "America/New_York", "--after", "2026-03-07T12:00:00Z")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"]
    five = run("next-runs", "every 30 minutes", "--time-zone", "UTC", "--after", "2026-03-01T00:00:00+00:00", "--count", "5")
    assert len(five.stdout.splitlines()) == 5


@pytest.mark.parametrize(
    ("args", "words"),
    [(["every 5 minutes"], "accepted forms"), (["daily at 02:30", "--time-zone", "Mars/Base"], "unknown time zone")],
)
def test_bad_specs_and_zones_get_a_one_line_error(args: list[str], words: str) -> None:
    result = run("next-runs", *args)
    assert result.returncode == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
