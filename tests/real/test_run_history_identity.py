"""Which runs count: a dry run (an estimate) is never a run for schedules or "Last run", and a
removed integration's runs do not pass to a new integration of the same name.

No stand-in is needed: the rules live in the run log and the scheduler, read through the workspace.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cdi_tui.checks import integration_fingerprint
from cdi_tui.config import BrazeSettings, Credential, Integration
from cdi_tui.enums import RunStatus, Trigger
from cdi_tui.paths import app_paths
from cdi_tui.runlog import RunLog
from cdi_tui.secret_store import MemoryCredentials
from cdi_tui.workspace import Workspace

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    workspace = Workspace(app_paths(tmp_path / "home"), MemoryCredentials())
    workspace.set_braze(BrazeSettings(endpoint="US-03"), "key")
    workspace.add_credential(Credential(name="prod", host="h.example.com", database="dev", user="u"), "pw")
    return workspace


def add_tested(workspace: Workspace, name: str = "people", frequency: str = "daily at 02:00") -> None:
    workspace.add_integration(
        Integration(
            name=name,
            credential="prod",
            table="ingestion.people",
            data_type="attributes",
            frequency=frequency,
            contact_emails=("crm@example.com",),
        )
    )
    config = workspace.config()
    runlog = RunLog(workspace.paths.run_log)
    runlog.record_test(name, integration_fingerprint(config.credentials["prod"], config.integrations[name]))
    runlog.close()


def record_run(workspace: Workspace, name: str, *, dry_run: bool, status: RunStatus = RunStatus.PARTIAL) -> int:
    runlog = RunLog(workspace.paths.run_log)
    run_id = runlog.start_run(name, Trigger.MANUAL, dry_run, False, None, 1)
    runlog.update_run(run_id, status=status, ended_at=NOW - timedelta(minutes=5), rows_read=10, rows_failed=1)
    runlog.close()
    return run_id


def test_an_estimate_before_activation_leaves_the_first_sync_due_at_once(workspace: Workspace) -> None:
    add_tested(workspace)
    record_run(workspace, "people", dry_run=True)  # "Estimate whole range", or cdi-tui estimate
    workspace.activate("people")
    [due] = workspace.due_runs(NOW)
    assert (due.integration, due.reason) == ("people", "first sync after activation")


def test_a_dry_run_is_never_the_last_run(workspace: Workspace) -> None:
    add_tested(workspace)
    record_run(workspace, "people", dry_run=True)
    assert workspace.last_run("people") is None
    assert [run.dry_run for run in workspace.runs("people")] == [True]  # still listed, marked dry
    real = record_run(workspace, "people", dry_run=False)
    record_run(workspace, "people", dry_run=True)
    last = workspace.last_run("people")
    assert last is not None and last.id == real


def test_a_new_integration_of_a_removed_ones_name_starts_with_no_history(workspace: Workspace) -> None:
    add_tested(workspace)
    workspace.activate("people")
    old_run = record_run(workspace, "people", dry_run=False)
    workspace.remove_integration("people")
    add_tested(workspace)
    workspace.activate("people")
    assert workspace.runs("people") == []
    assert workspace.last_run("people") is None
    assert workspace.data_points_since("people", 30, NOW) == 0
    [due] = workspace.due_runs(NOW)
    assert due.reason == "first sync after activation"
    kept = workspace.run(old_run)  # the old run is still there by its id (cdi-tui errors RUN_ID)
    assert kept is not None and kept.integration == "people"


# the runs table before ``retired``, as the previous cdi-tui made it
RUNS_BEFORE_RETIRED = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, integration TEXT NOT NULL, trigger TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0, full_resync INTEGER NOT NULL DEFAULT 0, started_at TEXT NOT NULL,
    ended_at TEXT, status TEXT NOT NULL, rows_total INTEGER, rows_read INTEGER NOT NULL DEFAULT 0,
    rows_sent INTEGER NOT NULL DEFAULT 0, rows_failed INTEGER NOT NULL DEFAULT 0, rows_skipped INTEGER NOT NULL DEFAULT 0,
    rows_retried INTEGER NOT NULL DEFAULT 0, watermark_before_at TEXT, watermark_before_rows INTEGER,
    watermark_after_at TEXT, watermark_after_rows INTEGER, error TEXT, warnings TEXT NOT NULL DEFAULT '[]',
    pid INTEGER, notification TEXT, data_points INTEGER NOT NULL DEFAULT 0, rows_unchanged INTEGER NOT NULL DEFAULT 0
);
INSERT INTO runs (integration, trigger, started_at, ended_at, status, rows_read)
VALUES ('people', 'manual', '2026-03-01T00:00:00+00:00', '2026-03-01T00:01:00+00:00', 'success', 7);
"""


def old_run_log(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(RUNS_BEFORE_RETIRED)
    conn.close()


def test_a_run_log_from_before_retired_runs_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    old_run_log(path)
    runlog = RunLog(path)
    assert [run.rows_read for run in runlog.runs("people")] == [7]
    runlog.forget_integration("people")
    assert runlog.runs("people") == [] and runlog.run(1) is not None
    runlog.close()


def test_a_run_log_from_before_retired_runs_reads_as_it_is_when_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    old_run_log(path)
    runlog = RunLog(path, read_only=True)
    last = runlog.last_run("people")
    assert last is not None and last.rows_read == 7
    assert runlog.first_run_started("people") == datetime(2026, 3, 1, tzinfo=UTC)
    runlog.close()
