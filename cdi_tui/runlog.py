"""The run log and sync state, in SQLite in the data folder.

Tables:
- ``runs``: one row a run, with its counts, status and watermarks (when it started and ended);
  the runs of a removed integration are kept (``errors RUN_ID`` still reads them) but
  ``retired``, so an integration added later under the same name starts with no history.
- ``row_errors``: each failed row of a run (UPDATED_AT, identifier, reason, payload preview).
- ``watermarks``: per integration, the last synced UPDATED_AT and how many rows carried it.
- ``retry_rows``: objects that failed for transient reasons, sent again by the next run.
- ``integration_state``: when an integration last passed its connection test, and for
  which connection and table (a change needs a new test).
- ``reported_null_rows``: rows with a NULL UPDATED_AT already reported (not reported twice).
- ``alert_state``: per integration and alert rule, whether it is firing and since when (alerts
  are sent on transitions only, and a restart must not send them again).
- ``health_probe``: one row ``cdi-tui serve`` rewrites to prove the run log can still be written.

Row errors are kept 30 days and runs 12 months. Secrets never reach this file.

A run log written by an older cdi-tui is brought to this schema when it is opened for
writing (:func:`_migrate`).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cdi_tui.display import safe_text
from cdi_tui.enums import RunStatus, Trigger
from cdi_tui.errors import CdiError

ROW_ERROR_RETENTION = timedelta(days=30)
RUN_RETENTION = timedelta(days=365)
PAYLOAD_PREVIEW_CHARS = 300

_SCHEMA = """
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
    -- the integration's watermark when the run started and when it ended: the UPDATED_AT
    -- and how many rows at that time were done (both NULL: none)
    watermark_before_at TEXT,
    watermark_before_rows INTEGER,
    watermark_after_at TEXT,
    watermark_after_rows INTEGER,
    error TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    pid INTEGER,
    notification TEXT,
    data_points INTEGER NOT NULL DEFAULT 0,
    rows_unchanged INTEGER NOT NULL DEFAULT 0,
    rows_superseded INTEGER NOT NULL DEFAULT 0,
    -- catalogs: items Braze accepted to write, and to delete
    items_written INTEGER NOT NULL DEFAULT 0,
    items_deleted INTEGER NOT NULL DEFAULT 0,
    -- 1 once its integration was removed: a new integration of the same name starts afresh
    retired INTEGER NOT NULL DEFAULT 0,
    -- Braze's answers to the run's requests, by status code ("transport": no answer), as JSON
    braze_answers TEXT NOT NULL DEFAULT '{}'
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
CREATE TABLE IF NOT EXISTS alert_state (
    integration TEXT NOT NULL,
    rule TEXT NOT NULL,
    firing INTEGER NOT NULL DEFAULT 0,
    since TEXT NOT NULL,
    detail TEXT,
    PRIMARY KEY (integration, rule)
);
CREATE TABLE IF NOT EXISTS health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reported_null_rows (
    integration TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (integration, fingerprint)
);
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


_WATERMARK_TEXT = re.compile(r"(?P<at>\S+) \((?P<rows>\d+) at that time\)")


@dataclass(frozen=True)
class Watermark:
    """All rows before ``updated_at`` are done, and ``rows_at_updated_at`` rows at it."""

    updated_at: datetime
    rows_at_updated_at: int

    def as_text(self) -> str:
        """For people: ``2026-01-01T00:00:00.000000+00:00 (3 at that time)``."""
        return f"{to_text(self.updated_at)} ({self.rows_at_updated_at} at that time)"

    @classmethod
    def parse(cls, text: str | None) -> Watermark | None:
        """The watermark :meth:`as_text` wrote, or None (no text, or text it did not write)."""
        match = _WATERMARK_TEXT.fullmatch(text or "")
        if match is None:
            return None
        try:
            moment = datetime.fromisoformat(match["at"])
        except ValueError:
            return None
        return cls(moment, int(match["rows"]))


@dataclass(frozen=True)
class RunRecord:
    id: int
    integration: str
    trigger: Trigger
    dry_run: bool
    full_resync: bool
    started_at: datetime
    ended_at: datetime | None
    status: RunStatus
    rows_total: int | None
    rows_read: int
    rows_sent: int
    rows_failed: int
    rows_skipped: int
    rows_retried: int
    start_watermark: Watermark | None  # where the run started reading (None: from the first row)
    end_watermark: Watermark | None  # where the watermark stood when it ended (None: a dry run, or none yet)
    error: str | None
    warnings: list[str]
    notification: str | None
    data_points: int = 0  # attributes sent, events and purchases (deletes count none)
    rows_unchanged: int = 0  # rows not sent: every value was already delivered
    rows_superseded: int = 0  # rows not sent: a newer row of the same user set every value they held
    items_written: int = 0  # catalogs: items written (created or replaced)
    items_deleted: int = 0  # catalogs: items deleted
    braze_answers: dict[str, int] = field(default_factory=dict)  # Braze's answers by status code ("transport": none)

    @property
    def braze_requests(self) -> int:
        """Requests the run sent to Braze (each attempt of a retried request counts)."""
        return sum(self.braze_answers.values())

    @property
    def rate_limited(self) -> int:
        """Requests Braze answered 429 (rate limited)."""
        return self.braze_answers.get("429", 0)

    @property
    def watermark_before(self) -> str | None:
        """The start watermark as ``runs --json`` and the emails show it (:meth:`Watermark.as_text`)."""
        return self.start_watermark.as_text() if self.start_watermark else None

    @property
    def watermark_after(self) -> str | None:
        """The end watermark as ``runs --json`` and the emails show it (:meth:`Watermark.as_text`)."""
        return self.end_watermark.as_text() if self.end_watermark else None

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.id,
            "integration": self.integration,
            "trigger": self.trigger,
            "dry_run": self.dry_run,
            "full_resync": self.full_resync,
            "started_at": to_text(self.started_at),
            "ended_at": to_text(self.ended_at),
            "duration_seconds": self.duration_seconds,
            "status": self.status,
            "rows_total": self.rows_total,
            "rows_read": self.rows_read,
            "rows_sent": self.rows_sent,
            "rows_failed": self.rows_failed,
            "rows_skipped": self.rows_skipped,
            "rows_retried": self.rows_retried,
            "watermark_before": self.watermark_before,
            "watermark_after": self.watermark_after,
            "error": self.error,
            "warnings": self.warnings,
            "notification": self.notification,
            "data_points": self.data_points,
            "rows_unchanged": self.rows_unchanged,
            "rows_superseded": self.rows_superseded,
            "items_written": self.items_written,
            "items_deleted": self.items_deleted,
            "braze_answers": dict(self.braze_answers),
        }


@dataclass(frozen=True)
class RowErrorRecord:
    run_id: int
    integration: str
    updated_at: str | None
    identifier: str
    code: str
    reason: str
    payload_preview: str | None


@dataclass(frozen=True)
class RetryRow:
    id: int
    updated_at: str | None
    identifier: str
    array_name: str
    body: dict[str, Any]
    attempts: int


ROW_ERROR_COLUMNS = ("updated_at", "identifier", "code", "reason", "payload_preview")


# a spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), =cmd|...)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A value from the warehouse as a CSV cell a spreadsheet shows and never runs.

    A cell that starts like a formula gets a leading ``'`` (the usual neutraliser, which
    spreadsheets show as text); control characters (escape sequences, line breaks) are written
    as escapes (``\\x1b``), so neither a spreadsheet nor a terminal showing the file obeys them.
    """
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        text = "'" + text
    return safe_text(text)


def write_row_errors_csv(path: Path, rows: list[RowErrorRecord]) -> None:
    """Export failed rows to CSV (a header row, then one row a failed row), mode 0600.

    The file holds warehouse data (identifiers, payloads), so only its owner may read it. It is
    written to a new temporary file beside the target and renamed over it: a symbolic link
    planted at ``path`` is refused, and one planted meanwhile is replaced, never followed.

    Raises:
        OSError: the file cannot be written, or ``path`` is a symbolic link (``ELOOP``); an
            existing regular file is replaced.
    """
    if path.is_symlink():
        raise OSError(errno.ELOOP, "is a symbolic link; it is not followed (give the real file's path)", str(path))
    folder = path.parent if str(path.parent) else Path(".")
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)  # 0600, O_EXCL
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(ROW_ERROR_COLUMNS)
            for row in rows:
                writer.writerow([csv_cell(getattr(row, name)) for name in ROW_ERROR_COLUMNS])
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def payload_preview(payload: Any) -> str | None:
    if payload is None:
        return None
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return text if len(text) <= PAYLOAD_PREVIEW_CHARS else text[: PAYLOAD_PREVIEW_CHARS - 1] + "…"


def _watermark_values(watermark: Watermark | None) -> tuple[str | None, int | None]:
    """A watermark as its two columns (``watermark_*_at``, ``watermark_*_rows``)."""
    if watermark is None:
        return None, None
    return to_text(watermark.updated_at), watermark.rows_at_updated_at


def _run_watermark(row: sqlite3.Row, which: str) -> Watermark | None:
    """A run's watermark ``before`` or ``after`` from its columns (or from its text, in a run log
    written by an older cdi-tui and opened read-only, so not migrated)."""
    keys = row.keys()
    text = row[f"watermark_{which}"] if f"watermark_{which}" in keys else None
    moment = from_text(row[f"watermark_{which}_at"]) if f"watermark_{which}_at" in keys else None
    if moment is None:
        # not migrated (opened read-only), or a run an older cdi-tui wrote after the migration
        return Watermark.parse(text) if text else None
    return Watermark(moment, int(row[f"watermark_{which}_rows"] or 0))


def _answers(text: str | None) -> dict[str, int]:
    """A run's ``braze_answers`` column: status code -> requests (anything else in it is ignored)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(key): int(count) for key, count in value.items() if isinstance(count, int) and not isinstance(count, bool)}


def _run_columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(runs)")}


_COUNT_COLUMNS = ("data_points", "rows_unchanged", "rows_superseded", "retired", "items_written", "items_deleted")
_WATERMARK_COLUMNS = (
    ("watermark_before_at", "TEXT"),
    ("watermark_before_rows", "INTEGER"),
    ("watermark_after_at", "TEXT"),
    ("watermark_after_rows", "INTEGER"),
)


_SETTING_UP = threading.Lock()  # one connection of this process sets a file up at a time


def set_up_connection(conn: sqlite3.Connection, setup: Callable[[sqlite3.Connection], None], seconds: float = 30.0) -> None:
    """Run a new connection's first statements (journal mode, schema, migration), again while
    SQLite says the file is locked, for up to ``seconds``.

    Two connections setting up one new file together (two syncs starting at once, in threads
    or processes) get "database is locked" at once, without SQLite's busy timeout: the switch
    to WAL needs the file to itself. Connections of this process take turns; another
    process's is waited out here.
    """
    deadline = time.monotonic() + seconds
    pause = 0.005
    while True:
        try:
            with _SETTING_UP:
                setup(conn)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


class _NotMigrated(Exception):
    """An older run log could not be migrated: it cannot be written now."""


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring the ``runs`` of a run log written by an older cdi-tui to this schema.

    Each step is done once, by whichever process opens the file first (under the write lock):

    1. ``data_points``, ``rows_unchanged``, ``rows_superseded``, ``retired``, ``items_written``
       and ``items_deleted`` are added, 0 for older runs (a run log written before ``retired``
       cannot tell which runs belonged to a removed integration: they stay with the integration
       of that name); ``braze_answers`` (Braze's answers by status code) is added, empty for
       older runs;
    2. the watermarks, once stored as text (``watermark_before``/``watermark_after``, as
       :meth:`Watermark.as_text` writes them), move to their columns. The text columns stay
       as they were and are no longer read or written.
    """
    wanted = {*_COUNT_COLUMNS, "braze_answers", *(name for name, _type in _WATERMARK_COLUMNS)}
    if wanted <= _run_columns(conn):
        return  # the common case: nothing to do, no write lock taken
    conn.execute("BEGIN IMMEDIATE")
    try:
        present = _run_columns(conn)  # again under the lock: another process may have just done it
        for column in _COUNT_COLUMNS:
            if column not in present:
                conn.execute(f"ALTER TABLE runs ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
        if "braze_answers" not in present:
            conn.execute("ALTER TABLE runs ADD COLUMN braze_answers TEXT NOT NULL DEFAULT '{}'")
        if "watermark_before_at" not in present:
            for column, kind in _WATERMARK_COLUMNS:
                conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
            if {"watermark_before", "watermark_after"} <= present:
                _move_text_watermarks(conn)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def _move_text_watermarks(conn: sqlite3.Connection) -> None:
    """Fill the watermark columns of every run from its watermark text (text that does not read
    as a watermark leaves them empty: they are the run's history, the sync state is elsewhere)."""
    rows = conn.execute(
        "SELECT id, watermark_before, watermark_after FROM runs WHERE watermark_before IS NOT NULL OR watermark_after IS NOT NULL"
    ).fetchall()
    conn.executemany(
        "UPDATE runs SET watermark_before_at = ?, watermark_before_rows = ?, watermark_after_at = ?, watermark_after_rows = ? "
        "WHERE id = ?",
        [
            (*_watermark_values(Watermark.parse(before)), *_watermark_values(Watermark.parse(after)), run_id)
            for run_id, before, after in rows
        ],
    )


class RunLogUnavailable(CdiError, RuntimeError):
    """The run log cannot be read or written (disk full, read-only, folder gone, damaged file).

    ``reason`` is SQLite's own words; the message says what it means and what to do.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(_unavailable_message(path, reason))


def _unavailable_message(path: Path, reason: str) -> str:
    lowered = reason.lower()
    if "full" in lowered:
        advice = f"the disk holding {path.parent} is full; free space there and run again"
    elif "readonly" in lowered or "read-only" in lowered:
        advice = f"{path} is read-only; make it (and its folder) writable, or set CDI_TUI_HOME to a writable folder"
    elif "removed" in lowered:
        advice = (
            f"{path} was deleted or replaced while in use (was {path.parent} removed?); the next run starts a new run log "
            "and syncs every row again (rows may be sent twice, none is lost)"
        )
    elif "unable to open" in lowered:
        advice = f"cannot open {path} (was its folder removed or made unreadable?); check {path.parent}"
    elif "not a database" in lowered or "malformed" in lowered:
        advice = f"{path} is damaged; move it away (run history is lost, integrations start with a full sync)"
    elif "locked" in lowered:
        advice = f"{path} stayed locked by another process for 30 s; try again when it is done"
    else:
        advice = f"check {path.parent} (disk, permissions)"
    return f"the run log cannot be used ({reason}): {advice}"


def _is_storage_error(error: sqlite3.Error) -> bool:
    """SQLite errors that come from the file and its disk, not from a wrong statement."""
    return isinstance(error, sqlite3.OperationalError) or type(error) is sqlite3.DatabaseError


class RunLog:
    """One SQLite file, safe to share between threads of a process and between processes.

    Args:
        path: the SQLite file (created when missing, unless ``read_only``).
        read_only: open without writing anything (a home on a read-only file system); a
            missing file reads as an empty run log.

    Raises:
        RunLogUnavailable: from any method, when the file cannot be opened, read or written.
    """

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        try:
            try:
                self._conn = self._open_read_only(path) if read_only else self._open(path)
            except _NotMigrated:
                # an older run log this process may not write (another user's file, a writer
                # holding it): read it as it is, unmigrated; a write then fails with the reason
                self._conn = self._open_read_only(path)
                self.read_only = read_only = True
        except sqlite3.Error as error:
            if not _is_storage_error(error):
                raise
            raise RunLogUnavailable(path, str(error)) from None
        except OSError as error:
            raise RunLogUnavailable(path, error.strerror or str(error)) from None
        self._identity = None if read_only else self._file_identity()
        # a run log opened read-only before its migration has no ``retired`` column: every run is live
        with self._guard():
            self._live = "retired = 0" if "retired" in _run_columns(self._conn) else "1 = 1"

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_dev, info.st_ino)

    def _check_file(self) -> None:
        """Before a write: the file this connection writes is still the one at ``path``.

        SQLite keeps writing to a file whose folder was deleted, into nothing anyone will read.
        """
        if self._identity is not None and self._file_identity() != self._identity:
            raise RunLogUnavailable(self.path, "the file was removed or replaced while in use")

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        try:
            with contextlib.suppress(OSError):
                path.chmod(0o600)

            def setup(conn: sqlite3.Connection) -> None:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=30000")
                conn.executescript(_SCHEMA)  # tables added since the file was made are created here
                _migrate(conn)

            try:
                set_up_connection(conn, setup, seconds=5.0)
            except sqlite3.OperationalError as error:
                if "readonly" in str(error) or "locked" in str(error):
                    raise _NotMigrated from error
                raise
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _open_read_only(path: Path) -> sqlite3.Connection:
        if not path.exists():
            conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            conn.executescript(_SCHEMA)
            return conn
        from urllib.parse import quote

        # mode=ro reads a live file; on a read-only file system SQLite may still need to create the
        # WAL index, and immutable=1 reads without it (nothing can change the file there)
        for query in ("mode=ro", "mode=ro&immutable=1"):
            conn = sqlite3.connect(
                f"file:{quote(str(path))}?{query}", uri=True, timeout=30, check_same_thread=False, isolation_level=None
            )
            try:
                conn.execute("SELECT COUNT(*) FROM runs").fetchone()
            except sqlite3.Error as error:
                conn.close()
                if query.endswith("immutable=1") or not _is_storage_error(error):
                    raise
                continue
            return conn
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            if not _is_storage_error(error):
                raise
            raise RunLogUnavailable(self.path, str(error)) from None

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._guard():
            self._check_file()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock, self._guard():
            cursor = self._conn.execute(sql, params)
            cursor.row_factory = sqlite3.Row
            return list(cursor.fetchall())

    # runs ----------------------------------------------------------------------------
    def start_run(
        self, integration: str, trigger: Trigger, dry_run: bool, full_resync: bool, watermark: Watermark | None, pid: int
    ) -> int:
        """Record a run as ``running``; ``watermark`` is where it starts. Returns the run's id."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (integration, trigger, dry_run, full_resync, started_at, status, "
                "watermark_before_at, watermark_before_rows, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    integration,
                    trigger,
                    int(dry_run),
                    int(full_resync),
                    to_text(utc_now()),
                    RunStatus.RUNNING,
                    *_watermark_values(watermark),
                    pid,
                ),
            )
            return int(cursor.lastrowid or 0)

    def update_run(self, run_id: int, **fields: Any) -> None:
        """Set columns of a run by name; ``ended_at`` is a datetime, ``warnings`` a list of text,
        ``watermark_after`` a :class:`Watermark` (or its text) or None."""
        if not fields:
            return
        if "warnings" in fields:
            fields["warnings"] = json.dumps(fields["warnings"])
        if "ended_at" in fields:
            fields["ended_at"] = to_text(fields["ended_at"])
        if "braze_answers" in fields:
            fields["braze_answers"] = json.dumps(dict(fields["braze_answers"]), sort_keys=True)
        if "watermark_after" in fields:
            after = fields.pop("watermark_after")
            watermark = Watermark.parse(after) if isinstance(after, str) else after
            fields["watermark_after_at"], fields["watermark_after_rows"] = _watermark_values(watermark)
        assignments = ", ".join(f"{key} = ?" for key in fields)
        with self.transaction() as conn:
            conn.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))

    def mark_interrupted(self, integration: str) -> int:
        """Runs of ``integration`` left ``running`` by a dead process become ``interrupted``.

        Call only while holding the integration's run lock (so no live run is touched).
        """
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, ended_at = COALESCE(ended_at, ?), "
                "error = COALESCE(error, 'the process running this sync stopped before it finished') "
                "WHERE integration = ? AND status = ?",
                (RunStatus.INTERRUPTED, to_text(utc_now()), integration, RunStatus.RUNNING),
            )
            return cursor.rowcount

    def _run_from_row(self, row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            id=row["id"],
            integration=row["integration"],
            trigger=Trigger(row["trigger"]),
            dry_run=bool(row["dry_run"]),
            full_resync=bool(row["full_resync"]),
            started_at=datetime.fromisoformat(row["started_at"]),
            ended_at=from_text(row["ended_at"]),
            status=RunStatus(row["status"]),
            rows_total=row["rows_total"],
            rows_read=row["rows_read"],
            rows_sent=row["rows_sent"],
            rows_failed=row["rows_failed"],
            rows_skipped=row["rows_skipped"],
            rows_retried=row["rows_retried"],
            start_watermark=_run_watermark(row, "before"),
            end_watermark=_run_watermark(row, "after"),
            error=row["error"],
            warnings=json.loads(row["warnings"] or "[]"),
            notification=row["notification"],
            data_points=row["data_points"] if "data_points" in row.keys() else 0,  # noqa: SIM118 (sqlite3.Row)
            rows_unchanged=row["rows_unchanged"] if "rows_unchanged" in row.keys() else 0,  # noqa: SIM118
            rows_superseded=row["rows_superseded"] if "rows_superseded" in row.keys() else 0,  # noqa: SIM118
            items_written=row["items_written"] if "items_written" in row.keys() else 0,  # noqa: SIM118
            items_deleted=row["items_deleted"] if "items_deleted" in row.keys() else 0,  # noqa: SIM118
            braze_answers=_answers(row["braze_answers"]) if "braze_answers" in row.keys() else {},  # noqa: SIM118
        )

    def running_run_of(self, integration: str, pid: int) -> int | None:
        """The newest run of ``integration`` that process ``pid`` started and has not ended."""
        rows = self._query(
            "SELECT id FROM runs WHERE integration = ? AND pid = ? AND status = ? ORDER BY id DESC LIMIT 1",
            (integration, pid, RunStatus.RUNNING),
        )
        return int(rows[0]["id"]) if rows else None

    def run(self, run_id: int) -> RunRecord | None:
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        return self._run_from_row(rows[0]) if rows else None

    def runs(self, integration: str, limit: int = 100) -> list[RunRecord]:
        """The newest runs of the integration now of that name (dry runs included), newest first."""
        rows = self._query(
            f"SELECT * FROM runs WHERE integration = ? AND {self._live} ORDER BY id DESC LIMIT ?", (integration, limit)
        )
        return [self._run_from_row(row) for row in rows]

    def data_points_since(self, integration: str, since: datetime) -> int:
        """Data points spent by the real (not dry) runs of ``integration`` started since ``since``."""
        rows = self._query(
            "SELECT COALESCE(SUM(data_points), 0) AS spent FROM runs "
            f"WHERE integration = ? AND {self._live} AND dry_run = 0 AND started_at >= ?",
            (integration, to_text(since)),
        )
        return int(rows[0]["spent"])

    def last_run(self, integration: str) -> RunRecord | None:
        """The newest real run: a dry run (an estimate) sends nothing, so it is never the "last run"."""
        rows = self._query(
            f"SELECT * FROM runs WHERE integration = ? AND {self._live} AND dry_run = 0 ORDER BY id DESC LIMIT 1", (integration,)
        )
        return self._run_from_row(rows[0]) if rows else None

    # row errors ------------------------------------------------------------------------
    def add_row_errors(self, records: list[RowErrorRecord]) -> None:
        if not records:
            return
        now = to_text(utc_now())
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO row_errors (run_id, integration, updated_at, identifier, code, reason, payload_preview, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.run_id, r.integration, r.updated_at, r.identifier, r.code, r.reason, r.payload_preview, now)
                    for r in records
                ],
            )

    def row_errors(self, run_id: int, search: str | None = None, limit: int | None = None) -> list[RowErrorRecord]:
        sql = "SELECT * FROM row_errors WHERE run_id = ?"
        params: list[Any] = [run_id]
        if search:
            sql += " AND identifier LIKE ? ESCAPE '\\'"
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(f"%{escaped}%")
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            RowErrorRecord(
                row["run_id"],
                row["integration"],
                row["updated_at"],
                row["identifier"],
                row["code"],
                row["reason"],
                row["payload_preview"],
            )
            for row in self._query(sql, tuple(params))
        ]

    # watermarks ------------------------------------------------------------------------
    def watermark(self, integration: str) -> Watermark | None:
        rows = self._query("SELECT * FROM watermarks WHERE integration = ?", (integration,))
        if not rows:
            return None
        moment = from_text(rows[0]["updated_at"])
        assert moment is not None
        return Watermark(moment, int(rows[0]["rows_at_updated_at"]))

    def save_watermark(self, integration: str, watermark: Watermark) -> None:
        """One statement, so its own transaction (saved after every request of a sync: kept cheap)."""
        with self._lock, self._guard():
            self._check_file()
            self._conn.execute(
                "INSERT INTO watermarks (integration, updated_at, rows_at_updated_at, saved_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (integration) DO UPDATE SET updated_at = excluded.updated_at, "
                "rows_at_updated_at = excluded.rows_at_updated_at, saved_at = excluded.saved_at",
                (integration, to_text(watermark.updated_at), watermark.rows_at_updated_at, to_text(utc_now())),
            )

    def reset_sync_state(self, integration: str) -> None:
        """Forget the watermark, the retry list and reported NULL rows (a full resync)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM watermarks WHERE integration = ?", (integration,))
            conn.execute("DELETE FROM retry_rows WHERE integration = ?", (integration,))
            conn.execute("DELETE FROM reported_null_rows WHERE integration = ?", (integration,))

    # retry list ------------------------------------------------------------------------
    def add_retry_rows(self, integration: str, rows: list[tuple[str | None, str, str, dict[str, Any], str, int]]) -> list[int]:
        """Rows: (updated_at, identifier, array, body, reason, attempts). Returns their ids, in order."""
        if not rows:
            return []
        now = to_text(utc_now())
        ids = []
        with self.transaction() as conn:
            for u, i, a, b, r, n in rows:
                cursor = conn.execute(
                    "INSERT INTO retry_rows (integration, updated_at, identifier, array_name, body, reason, attempts, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (integration, u, i, a, json.dumps(b), r, n, now),
                )
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def replace_retry_row(self, row_id: int, updated_at: str | None, body: dict[str, Any], array: str | None = None) -> None:
        """A retry-list entry takes newer values of its user (a later row folded into it); a catalog
        item's entry may also change its request (``array``: written, or deleted)."""
        with self.transaction() as conn:
            conn.execute("UPDATE retry_rows SET updated_at = ?, body = ? WHERE id = ?", (updated_at, json.dumps(body), row_id))
            if array is not None:
                conn.execute("UPDATE retry_rows SET array_name = ? WHERE id = ?", (array, row_id))

    def retry_rows(self, integration: str) -> list[RetryRow]:
        return [
            RetryRow(row["id"], row["updated_at"], row["identifier"], row["array_name"], json.loads(row["body"]), row["attempts"])
            for row in self._query("SELECT * FROM retry_rows WHERE integration = ? ORDER BY id", (integration,))
        ]

    def remove_retry_rows(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.transaction() as conn:
            conn.executemany("DELETE FROM retry_rows WHERE id = ?", [(row_id,) for row_id in ids])

    def bump_retry_attempts(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.transaction() as conn:
            conn.executemany("UPDATE retry_rows SET attempts = attempts + 1 WHERE id = ?", [(row_id,) for row_id in ids])

    # NULL UPDATED_AT rows ----------------------------------------------------------------
    def new_null_row_fingerprints(self, integration: str, fingerprints: list[str]) -> set[str]:
        """Record fingerprints; returns those not reported before."""
        fresh: set[str] = set()
        with self.transaction() as conn:
            for fingerprint in fingerprints:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO reported_null_rows (integration, fingerprint) VALUES (?, ?)",
                    (integration, fingerprint),
                )
                if cursor.rowcount:
                    fresh.add(fingerprint)
        return fresh

    # integration state -------------------------------------------------------------------
    def record_test(self, integration: str, fingerprint: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO integration_state (integration, tested_at, tested_fingerprint) VALUES (?, ?, ?) "
                "ON CONFLICT (integration) DO UPDATE SET tested_at = excluded.tested_at, "
                "tested_fingerprint = excluded.tested_fingerprint",
                (integration, to_text(utc_now()), fingerprint),
            )

    def tested_fingerprint(self, integration: str) -> str | None:
        rows = self._query("SELECT tested_fingerprint FROM integration_state WHERE integration = ?", (integration,))
        return rows[0]["tested_fingerprint"] if rows else None

    def claim_slot(self, integration: str, slot: datetime) -> bool:
        """Atomically move the last scheduled slot to ``slot`` if it is older; True when claimed."""
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO integration_state (integration) VALUES (?)", (integration,))
            cursor = conn.execute(
                "UPDATE integration_state SET last_scheduled_at = ? "
                "WHERE integration = ? AND (last_scheduled_at IS NULL OR last_scheduled_at < ?)",
                (to_text(slot), integration, to_text(slot)),
            )
            return cursor.rowcount == 1

    def first_run_started(self, integration: str) -> datetime | None:
        """When the first real run started: dry runs (estimates) never count for schedules."""
        rows = self._query(
            f"SELECT MIN(started_at) AS first FROM runs WHERE integration = ? AND {self._live} AND dry_run = 0", (integration,)
        )
        return from_text(rows[0]["first"]) if rows and rows[0]["first"] else None

    def last_scheduled(self, integration: str) -> datetime | None:
        rows = self._query("SELECT last_scheduled_at FROM integration_state WHERE integration = ?", (integration,))
        return from_text(rows[0]["last_scheduled_at"]) if rows else None

    def forget_integration(self, integration: str) -> None:
        """The integration was removed: forget its sync state and retire its runs (kept, but no
        integration added later under the same name inherits them)."""
        with self.transaction() as conn:
            for table in ("watermarks", "retry_rows", "integration_state", "reported_null_rows", "alert_state"):
                conn.execute(f"DELETE FROM {table} WHERE integration = ?", (integration,))
            conn.execute("UPDATE runs SET retired = 1 WHERE integration = ?", (integration,))

    # monitoring --------------------------------------------------------------------------
    def monitor_totals(self) -> list[sqlite3.Row]:
        """Per integration and status, the real (not dry) runs: how many, and their counts summed."""
        return self._query(
            "SELECT integration, status, COUNT(*) AS runs, SUM(rows_sent) AS sent, SUM(rows_failed) AS failed, "
            "SUM(rows_unchanged) AS unchanged, SUM(rows_superseded) AS superseded, SUM(rows_skipped) AS skipped, "
            "SUM(rows_read) AS read, SUM(data_points) AS data_points, MAX(CASE WHEN ended_at IS NOT NULL THEN ended_at END) "
            f"AS last_ended FROM runs WHERE {self._live} AND dry_run = 0 GROUP BY integration, status"
        )

    def monitor_answers(self) -> list[sqlite3.Row]:
        """Per integration and status code, Braze's answers to the requests of real runs."""
        with self._lock, self._guard():
            if "braze_answers" not in _run_columns(self._conn):  # an older run log, opened read-only
                return []
        return self._query(
            "SELECT runs.integration AS integration, answers.key AS code, SUM(answers.value) AS requests "
            f"FROM runs, json_each(runs.braze_answers) AS answers WHERE {self._live} AND dry_run = 0 "
            "GROUP BY runs.integration, answers.key"
        )

    def monitor_durations(self) -> list[sqlite3.Row]:
        """Each ended real run's integration and duration, in seconds."""
        return self._query(
            "SELECT integration, (julianday(ended_at) - julianday(started_at)) * 86400.0 AS seconds FROM runs "
            f"WHERE {self._live} AND dry_run = 0 AND ended_at IS NOT NULL"
        )

    def running_runs(self) -> list[RunRecord]:
        """Runs recorded as running (their counts as last saved); a dead process's stay so until the next run."""
        rows = self._query(f"SELECT * FROM runs WHERE {self._live} AND status = ? ORDER BY id", (RunStatus.RUNNING,))
        return [self._run_from_row(row) for row in rows]

    def retry_row_counts(self) -> dict[str, int]:
        """Rows on each integration's retry list."""
        rows = self._query("SELECT integration, COUNT(*) AS waiting FROM retry_rows GROUP BY integration")
        return {row["integration"]: int(row["waiting"]) for row in rows}

    def watermarks(self) -> dict[str, datetime]:
        """Each integration's watermark (the newest UPDATED_AT synced)."""
        rows = self._query("SELECT integration, updated_at FROM watermarks")
        return {row["integration"]: datetime.fromisoformat(row["updated_at"]) for row in rows}

    def last_success(self, integration: str) -> RunRecord | None:
        """The newest real run that ended ``success`` or ``partial`` (the sync went through)."""
        rows = self._query(
            f"SELECT * FROM runs WHERE integration = ? AND {self._live} AND dry_run = 0 AND status IN (?, ?) "
            "ORDER BY id DESC LIMIT 1",
            (integration, RunStatus.SUCCESS, RunStatus.PARTIAL),
        )
        return self._run_from_row(rows[0]) if rows else None

    def probe_write(self) -> None:
        """Write one row and commit: proves the run log (and its disk) takes writes now.

        Raises:
            RunLogUnavailable: it does not (read-only, full, removed), with the reason.
        """
        if self.read_only:
            raise RunLogUnavailable(self.path, "attempt to write a readonly database (opened read-only)")
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO health_probe (id, probed_at) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at",
                (to_text(utc_now()),),
            )

    # alerts --------------------------------------------------------------------------------
    def _has_table(self, name: str) -> bool:
        """A run log written by an older cdi-tui and opened read-only may lack the newer tables."""
        return bool(self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def alert_states(self, integration: str) -> dict[str, tuple[bool, datetime, str | None]]:
        """Per alert rule of the integration: (firing, since when, what it said)."""
        if not self._has_table("alert_state"):
            return {}
        rows = self._query("SELECT rule, firing, since, detail FROM alert_state WHERE integration = ?", (integration,))
        return {row["rule"]: (bool(row["firing"]), datetime.fromisoformat(row["since"]), row["detail"]) for row in rows}

    def firing_alerts(self) -> list[tuple[str, str]]:
        """(integration, rule) of every alert firing now."""
        if not self._has_table("alert_state"):
            return []
        rows = self._query("SELECT integration, rule FROM alert_state WHERE firing = 1 ORDER BY integration, rule")
        return [(row["integration"], row["rule"]) for row in rows]

    def move_alert(self, integration: str, rule: str, firing: bool, detail: str | None, now: datetime) -> bool:
        """Set an alert's state if it is not that already; True for the one caller that moved it.

        Atomic across processes (``serve``, ``run-due``, the app may all look at once), so a
        transition is announced once.
        """
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT firing FROM alert_state WHERE integration = ? AND rule = ?", (integration, rule)
            ).fetchone()
            if (row is None and not firing) or (row is not None and bool(row[0]) == firing):
                return False
            conn.execute(
                "INSERT INTO alert_state (integration, rule, firing, since, detail) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (integration, rule) DO UPDATE SET firing = excluded.firing, since = excluded.since, "
                "detail = excluded.detail",
                (integration, rule, int(firing), to_text(now), detail),
            )
            return True

    # retention ---------------------------------------------------------------------------
    def prune(self, now: datetime | None = None) -> None:
        now = now or utc_now()
        with self.transaction() as conn:
            conn.execute("DELETE FROM row_errors WHERE created_at < ?", (to_text(now - ROW_ERROR_RETENTION),))
            old_runs = "SELECT id FROM runs WHERE started_at < ? AND status != ?"
            cutoff = to_text(now - RUN_RETENTION)
            conn.execute(f"DELETE FROM row_errors WHERE run_id IN ({old_runs})", (cutoff, RunStatus.RUNNING))
            conn.execute(f"DELETE FROM runs WHERE id IN ({old_runs})", (cutoff, RunStatus.RUNNING))
