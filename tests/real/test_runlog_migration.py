"""A run log written before the watermark columns: migrated when opened, nothing shown changes.

Until then a run's watermarks were stored as the text people read ("TIME (N at that time)");
now they are two columns each. The old file is made here as that code made it: its schema,
copied below as it was, and its rows as it wrote them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from forked_cli import run_cdi
from helpers import SyncEnv, at

from cdi_tui.runlog import RunLog, RunLogUnavailable, Watermark

# the schema of the run log before the watermark columns, as it was
SCHEMA_WITH_TEXT_WATERMARKS = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration TEXT NOT NULL,
    trigger TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    full_resync INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    rows_total INTEGER,
    rows_read INTEGER NOT NULL DEFAULT 0,
    rows_sent INTEGER NOT NULL DEFAULT 0,
    rows_failed INTEGER NOT NULL DEFAULT 0,
    rows_skipped INTEGER NOT NULL DEFAULT 0,
    rows_retried INTEGER NOT NULL DEFAULT 0,
    watermark_before TEXT,
    watermark_after TEXT,
    error TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    pid INTEGER,
    notification TEXT,
    data_points INTEGER NOT NULL DEFAULT 0,
    rows_unchanged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_integration ON runs (integration, id);
CREATE TABLE IF NOT EXISTS row_errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    integration TEXT NOT NULL,
    updated_at TEXT,
    identifier TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload_preview TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS row_errors_by_run ON row_errors (run_id, id);
CREATE TABLE IF NOT EXISTS watermarks (
    integration TEXT PRIMARY KEY,
    updated_at TEXT NOT NULL,
    rows_at_updated_at INTEGER NOT NULL,
    saved_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS retry_rows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration TEXT NOT NULL,
    updated_at TEXT,
    identifier TEXT NOT NULL,
    array_name TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS retry_rows_by_integration ON retry_rows (integration, id);
CREATE TABLE IF NOT EXISTS integration_state (
    integration TEXT PRIMARY KEY,
    tested_at TEXT,
    tested_fingerprint TEXT,
    last_scheduled_at TEXT
);
CREATE TABLE IF NOT EXISTS reported_null_rows (
    integration TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (integration, fingerprint)
);
"""

# three runs of 'people' as that code recorded them: a first sync, a scheduled one with a
# failed row, and a dry run (which leaves no watermark after it)
OLD_RUNS = [
    {
        "integration": "people", "trigger": "manual", "dry_run": 0, "full_resync": 0,
        "started_at": "2026-03-01T12:10:00.000000+00:00", "ended_at": "2026-03-01T12:10:02.500000+00:00",
        "status": "success", "rows_total": 5, "rows_read": 5, "rows_sent": 5, "rows_failed": 0, "rows_skipped": 0,
        "rows_retried": 0, "watermark_before": None, "watermark_after": "2026-03-01T12:00:05.000000+00:00 (3 at that time)",
        "error": None, "warnings": "[]", "pid": 4242, "notification": None, "data_points": 5, "rows_unchanged": 0,
    },
    {
        "integration": "people", "trigger": "scheduled", "dry_run": 0, "full_resync": 0,
        "started_at": "2026-03-01T12:20:00.000000+00:00", "ended_at": "2026-03-01T12:20:01.250000+00:00",
        "status": "partial", "rows_total": 4, "rows_read": 4, "rows_sent": 3, "rows_failed": 1, "rows_skipped": 0,
        "rows_retried": 0, "watermark_before": "2026-03-01T12:00:05.000000+00:00 (3 at that time)",
        "watermark_after": "2026-03-01T12:00:09.000000+00:00 (1 at that time)", "error": None,
        "warnings": '["a warning of that run"]', "pid": 4243,
        "notification": "emailed ops@example.com (25.0% of the rows failed (alert above 10%))", "data_points": 3,
        "rows_unchanged": 1,
    },
    {
        "integration": "people", "trigger": "manual", "dry_run": 1, "full_resync": 0,
        "started_at": "2026-03-01T12:30:00.000000+00:00", "ended_at": "2026-03-01T12:30:00.750000+00:00",
        "status": "success", "rows_total": 0, "rows_read": 0, "rows_sent": 0, "rows_failed": 0, "rows_skipped": 0,
        "rows_retried": 0, "watermark_before": "2026-03-01T12:00:09.000000+00:00 (1 at that time)", "watermark_after": None,
        "error": None, "warnings": "[]", "pid": 4244, "notification": None, "data_points": 0, "rows_unchanged": 0,
    },
]  # fmt: skip

# what `cdi-tui runs people --json` printed for them, newest first
OLD_RUNS_JSON: list[dict[str, Any]] = [
    {
        "run_id": 3, "integration": "people", "trigger": "manual", "dry_run": True, "full_resync": False,
        "started_at": "2026-03-01T12:30:00.000000+00:00", "ended_at": "2026-03-01T12:30:00.750000+00:00",
        "duration_seconds": 0.75, "status": "success", "rows_total": 0, "rows_read": 0, "rows_sent": 0, "rows_failed": 0,
        "rows_skipped": 0, "rows_retried": 0, "watermark_before": "2026-03-01T12:00:09.000000+00:00 (1 at that time)",
        "watermark_after": None, "error": None, "warnings": [], "notification": None, "data_points": 0, "rows_unchanged": 0,
    },
    {
        "run_id": 2, "integration": "people", "trigger": "scheduled", "dry_run": False, "full_resync": False,
        "started_at": "2026-03-01T12:20:00.000000+00:00", "ended_at": "2026-03-01T12:20:01.250000+00:00",
        "duration_seconds": 1.25, "status": "partial", "rows_total": 4, "rows_read": 4, "rows_sent": 3, "rows_failed": 1,
        "rows_skipped": 0, "rows_retried": 0, "watermark_before": "2026-03-01T12:00:05.000000+00:00 (3 at that time)",
        "watermark_after": "2026-03-01T12:00:09.000000+00:00 (1 at that time)", "error": None,
        "warnings": ["a warning of that run"],
        "notification": "emailed ops@example.com (25.0% of the rows failed (alert above 10%))", "data_points": 3,
        "rows_unchanged": 1,
    },
    {
        "run_id": 1, "integration": "people", "trigger": "manual", "dry_run": False, "full_resync": False,
        "started_at": "2026-03-01T12:10:00.000000+00:00", "ended_at": "2026-03-01T12:10:02.500000+00:00",
        "duration_seconds": 2.5, "status": "success", "rows_total": 5, "rows_read": 5, "rows_sent": 5, "rows_failed": 0,
        "rows_skipped": 0, "rows_retried": 0, "watermark_before": None,
        "watermark_after": "2026-03-01T12:00:05.000000+00:00 (3 at that time)", "error": None, "warnings": [],
        "notification": None, "data_points": 5, "rows_unchanged": 0,
    },
]  # fmt: skip

# what it prints for them now: the same, in the same order, and the count added since
# (rows_superseded, items_written, items_deleted: none in runs from before they existed; braze_answers:
# none recorded before it existed)
RUNS_JSON_NOW: list[dict[str, Any]] = [
    {**run, "rows_superseded": 0, "items_written": 0, "items_deleted": 0, "braze_answers": {}} for run in OLD_RUNS_JSON
]

# the watermarks of those runs, newest first: (before, after)
OLD_RUN_WATERMARKS = [
    (Watermark(at(9), 1), None),
    (Watermark(at(5), 3), Watermark(at(9), 1)),
    (None, Watermark(at(5), 3)),
]


def write_old_run_log(path: Path) -> None:
    """The run log of 'people' after those three runs, as the code before the columns left it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA_WITH_TEXT_WATERMARKS)
        for run in OLD_RUNS:
            conn.execute(f"INSERT INTO runs ({', '.join(run)}) VALUES ({', '.join('?' * len(run))})", tuple(run.values()))
        conn.execute(
            "INSERT INTO watermarks (integration, updated_at, rows_at_updated_at, saved_at) VALUES (?, ?, ?, ?)",
            ("people", "2026-03-01T12:00:09.000000+00:00", 1, "2026-03-01T12:20:01.200000+00:00"),
        )
    finally:
        conn.close()


def run_columns(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    finally:
        conn.close()


def test_the_watermark_text_reads_back_as_the_watermark_it_was_made_from() -> None:
    watermark = Watermark(at(9), 2)
    assert watermark.as_text() == "2026-03-01T12:00:09.000000+00:00 (2 at that time)"
    assert Watermark.parse(watermark.as_text()) == watermark
    for text in (None, "", "2026-03-01T12:00:09+00:00", "not a time (2 at that time)", "2026-03-01T12:00:09+00:00 (x)"):
        assert Watermark.parse(text) is None


def test_an_old_run_log_is_migrated_on_open_and_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    write_old_run_log(path)
    runlog = RunLog(path)
    try:
        runs = runlog.runs("people")
        assert [(run.start_watermark, run.end_watermark) for run in runs] == OLD_RUN_WATERMARKS
        assert [run.as_json() for run in runs] == RUNS_JSON_NOW
        assert [list(run.as_json()) for run in runs] == [list(run) for run in RUNS_JSON_NOW]  # the keys' order too
        assert runlog.watermark("people") == Watermark(at(9), 1)  # the sync state is untouched
    finally:
        runlog.close()
    assert {"watermark_before_at", "watermark_before_rows", "watermark_after_at", "watermark_after_rows"} <= run_columns(path)

    again = RunLog(path)  # nothing left to migrate: the same runs
    try:
        assert [run.as_json() for run in again.runs("people")] == RUNS_JSON_NOW
    finally:
        again.close()


def test_an_old_run_log_opened_read_only_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    write_old_run_log(path)
    runlog = RunLog(path, read_only=True)
    try:
        runs = runlog.runs("people")
        assert [(run.start_watermark, run.end_watermark) for run in runs] == OLD_RUN_WATERMARKS
        assert [run.as_json() for run in runs] == RUNS_JSON_NOW
    finally:
        runlog.close()
    assert "watermark_after_at" not in run_columns(path)  # nothing was written


def test_an_old_run_log_that_cannot_be_written_now_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    write_old_run_log(path)
    immutable = subprocess.run(["chattr", "+i", str(path)], capture_output=True)  # even root cannot write it
    if immutable.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {immutable.stderr.decode().strip()}")
    try:
        runlog = RunLog(path)
        try:
            assert [(run.start_watermark, run.end_watermark) for run in runlog.runs("people")] == OLD_RUN_WATERMARKS
            with pytest.raises(RunLogUnavailable):
                runlog.record_test("people", "f" * 64)
        finally:
            runlog.close()
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert "watermark_after_at" not in run_columns(path)


def test_a_run_an_older_cdi_tui_writes_after_the_migration_shows_its_watermark(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    write_old_run_log(path)
    RunLog(path).close()  # migrated
    conn = sqlite3.connect(path, isolation_level=None)
    try:  # an older cdi-tui still installed (a cron job) writes its run with the text alone
        conn.execute(
            "INSERT INTO runs (integration, trigger, dry_run, full_resync, started_at, status, watermark_before, watermark_after) "
            "VALUES ('people', 'scheduled', 0, 0, '2026-03-01T13:00:00.000000+00:00', 'success', ?, ?)",
            (Watermark(at(9), 1).as_text(), Watermark(at(20), 2).as_text()),
        )
    finally:
        conn.close()
    runlog = RunLog(path)
    try:
        newest = runlog.runs("people")[0]
        assert (newest.start_watermark, newest.end_watermark) == (Watermark(at(9), 1), Watermark(at(20), 2))
    finally:
        runlog.close()


def runs_json(home: Path, name: str) -> list[dict[str, Any]]:
    result = run_cdi(
        ["runs", name, "--json"],
        env={**os.environ, "CDI_TUI_HOME": str(home)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    runs: list[dict[str, Any]] = json.loads(result.stdout)
    return runs


@pytest.mark.real
def test_after_the_migration_the_next_run_goes_on_from_the_old_watermark(env: SyncEnv) -> None:
    write_old_run_log(env.paths.run_log)  # before the workspace first opens it
    env.create_integration("people")
    env.insert("people", [{"updated_at": at(n), "external_id": f"u{n}", "payload": {"n": n}} for n in range(1, 13)])

    record = env.sync("people")
    assert (record.status, record.rows_read, record.rows_sent) == ("success", 3, 3), record.error
    assert env.external_ids() == ["u10", "u11", "u12"]  # after the watermark the old run log kept
    assert (record.start_watermark, record.end_watermark) == (Watermark(at(9), 1), Watermark(at(12), 1))

    runs = runs_json(env.paths.config_dir, "people")  # the home: config.toml and data/ are in it
    assert runs[1:] == RUNS_JSON_NOW
    assert (runs[0]["run_id"], runs[0]["watermark_before"], runs[0]["watermark_after"]) == (
        4,
        "2026-03-01T12:00:09.000000+00:00 (1 at that time)",
        "2026-03-01T12:00:12.000000+00:00 (1 at that time)",
    )
