"""Faults the sync engine itself ends cleanly: a run log that fills up mid-run, and rows stamped
after year 9999. The parts outside the engine are tested in tests/test_faults.py.

Real components: redshift-connector -> PostgreSQL, httpx -> the Braze stand-in, the home on a
tmpfs of its own that really fills up (the tests run as root).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import FAST, SyncEnv, at, fill_disk

from cdi_tui.standins.braze import FaultPlan

pytestmark = pytest.mark.real

TOTAL_ROWS = 20_000


@pytest.fixture
def env(env_on_small_disk: SyncEnv) -> SyncEnv:
    """These runs keep their run log on a small disk of their own."""
    return env_on_small_disk


@pytest.mark.serial  # timing: measured alone, not beside other tests
def test_the_engine_returns_an_error_record_when_the_run_log_fills_mid_run(env: SyncEnv, tmpfs: Path) -> None:
    from cdi_tui.runlog import RunLogUnavailable

    env.create_integration("big")
    env.fill("big", TOTAL_ROWS)
    env.braze.set_faults(FaultPlan(latency_seconds=0.01))
    fill_disk(tmpfs, leave_bytes=160 * 1024)
    try:
        record = env.sync("big", FAST)
    except RunLogUnavailable as error:
        pytest.fail(f"SyncEngine.run raised instead of returning the run's record: {error}")
    assert record.status == "error" and record.error is not None and "disk is full" in record.error
    # it stopped at once: at most the requests in flight went out after the first failed save
    assert len(env.braze.objects("attributes")) - record.rows_sent <= (16 + 2 * 16) * 75


def test_rows_stamped_infinity_are_reported_once_as_row_errors_and_not_promised_for_later(env: SyncEnv) -> None:
    env.create_integration("late")
    env.insert(
        "late",
        [
            {"updated_at": at(1), "external_id": "u1", "payload": {"n": 1}},
            {"updated_at": "infinity", "external_id": "never", "payload": {"n": 0}},
            {"updated_at": "10000-01-01 00:00:00+00", "external_id": "far", "payload": {"n": 0}},
        ],
    )
    first = env.sync("late")
    assert (first.rows_sent, first.rows_failed) == (1, 2)
    errors = env.runlog.row_errors(first.id)
    assert {error.identifier for error in errors} == {"external_id=never", "external_id=far"}
    assert {error.code for error in errors} == {"updated_at_out_of_range"}
    assert not any("once that time has come" in warning for warning in first.warnings)
    second = env.sync("late")
    assert (second.status, second.rows_failed) == ("success", 0)
