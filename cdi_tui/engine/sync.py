"""The sync: rows changed since the last run, from Redshift to Braze, every row accounted for.

How a run keeps its promises:

- It fixes its upper bound when it starts (the newest UPDATED_AT not later than now), so
  rows written while it runs wait for the next run, and rows stamped in the future wait
  until their time comes instead of pushing the watermark ahead.
- Rows are read in UPDATED_AT order through a server-side cursor and cut into segments of
  one request each. A segment is *done* when each of its rows was delivered, recorded as a
  row error, or put on the retry list. The watermark (last UPDATED_AT and how many rows at
  it are done) only moves over done segments, in read order, and is saved each time it
  moves: a run that dies resumes where it stopped, and rows sent twice are at most those
  that were in flight (plus the rows of one timestamp, by Braze's boundary rule).
- Rows that fail for transient reasons (retries ran out) go to the retry list and are sent
  first by the next run; invalid rows are recorded and not retried until they change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cdi_tui.braze.client import (
    BrazeClient,
    BrazeError,
    RetryPolicy,
    SendCancelled,
    SendOutcome,
    shared_limiter,
)
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.braze.rules import MAX_DELETE_IDENTIFIERS, MAX_OBJECTS_COMBINED_MAU, MAX_OBJECTS_PER_ARRAY
from cdi_tui.checks import connection_settings, integration_fingerprint
from cdi_tui.config import Config, Integration
from cdi_tui.engine.lock import RunInProgress, RunLock
from cdi_tui.engine.senders import SenderPool
from cdi_tui.engine.transform import RowError, RowTransformer, describe_identifier, split_identifier
from cdi_tui.runlog import RowErrorRecord, RunLog, RunRecord, Watermark, payload_preview, to_text, utc_now
from cdi_tui.secret_store import CredentialsService, SecretMissing, braze_key_account
from cdi_tui.warehouse.errors import WarehouseError
from cdi_tui.warehouse.source import RedshiftSource, TableShape

log = logging.getLogger("cdi_tui.engine")

DEFAULT_MAX_ROWS = 500_000_000
MAX_RETRY_ATTEMPTS = 10
EXHAUSTED_BATCHES_BEFORE_STOP = 3
ERRORS_PER_SEGMENT = 1000  # invalid rows held before they are written to the run log


class SyncRefused(Exception):
    """The integration cannot sync as it is (draft, untested, Braze not set up, ...)."""


__all__ = ["Progress", "RunInProgress", "SyncEngine", "SyncOptions", "SyncRefused"]


@dataclass(frozen=True)
class SyncOptions:
    trigger: str = "manual"  # manual | scheduled
    full_resync: bool = False
    dry_run: bool = False
    max_rows: int = DEFAULT_MAX_ROWS
    fetch_rows: int = 10_000
    concurrency: int = 16  # most requests in flight; the pool grows to it only when Braze is slow to answer
    checkpoint_seconds: float = 0.5  # how often the run's counts are saved while it runs
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    request_timeout: float = 30.0


@dataclass(frozen=True)
class Progress:
    """A snapshot of a run, for progress panels and bars."""

    run_id: int
    integration: str
    phase: str
    total: int | None
    read: int
    sent: int
    failed: int
    skipped: int
    elapsed: float
    message: str = ""

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if not self.total or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


ProgressCallback = Callable[[Progress], None]


class _Segment:
    """Consecutive rows in read order whose valid objects make one request.

    Rows come in UPDATED_AT order, so the segment's first and last timestamps and how many of
    its rows carry the last one are worked out once, when it is closed, from its objects
    (whose ``ref`` is the row's UPDATED_AT) and its invalid rows: nothing is counted per row.
    """

    __slots__ = ("done", "error_moments", "errors", "first_ts", "items", "last_ts", "size", "tail")

    def __init__(self) -> None:
        self.size = 0
        self.first_ts: datetime | None = None
        self.last_ts: datetime | None = None
        self.tail = 0
        self.items: list[BrazeObject] = []
        self.errors: list[RowErrorRecord] = []
        self.error_moments: list[datetime | None] = []
        self.done = False

    def close(self) -> None:
        """Work out size, first and last UPDATED_AT, and the rows at the last one."""
        items = self.items
        self.size = len(items) + len(self.error_moments)
        moments = [moment for moment in self.error_moments if moment is not None]
        ends = moments[:1] + moments[-1:]
        if items:
            ends += (items[0].ref, items[-1].ref)
        if not ends:
            return
        self.first_ts, self.last_ts = min(ends), max(ends)
        last, tail = self.last_ts, 0
        for item in reversed(items):
            if item.ref != last:
                break
            tail += 1
        self.tail = tail + sum(1 for moment in moments if moment == last)


@dataclass
class _RunState:
    run_id: int
    integration: Integration
    options: SyncOptions
    cancel: threading.Event
    progress: ProgressCallback | None
    started: float = field(default_factory=time.monotonic)
    phase: str = "connecting"
    total: int | None = None
    read: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    warnings: list[str] = field(default_factory=list)
    fatal: BaseException | None = None
    stop_reason: str | None = None
    limit_hit: bool = False
    exhausted_in_a_row: int = 0
    segments: deque[_Segment] = field(default_factory=deque)
    stop_sending: threading.Event | None = None
    frontier_ts: datetime | None = None
    frontier_count: int = 0
    frontier_dirty: bool = False
    last_checkpoint: float = field(default_factory=time.monotonic)
    last_report: float = 0.0

    def snapshot(self, message: str = "") -> Progress:
        return Progress(
            self.run_id,
            self.integration.name,
            self.phase,
            self.total,
            self.read,
            self.sent,
            self.failed,
            self.skipped,
            time.monotonic() - self.started,
            message,
        )

    def set_phase(self, phase: str) -> None:
        if phase != self.phase:
            self.phase = phase
            self.report(force=True)

    def report(self, force: bool = False, message: str = "") -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self.last_report >= 0.1:
            self.last_report = now
            self.progress(self.snapshot(message))


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class SyncEngine:
    """Runs syncs for the integrations of one config.

    Args:
        config: the loaded config.
        secrets: where the warehouse passwords and the Braze key are.
        runlog: the run log / sync state.
        lock_dir: folder for the per-integration run locks.
        clock: returns "now" (UTC); tests move it.
    """

    def __init__(
        self,
        config: Config,
        secrets: CredentialsService,
        runlog: RunLog,
        lock_dir: Path,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.runlog = runlog
        self.lock_dir = lock_dir
        self.clock = clock

    # checks ------------------------------------------------------------------------------
    def ensure_can_sync(self, integration: Integration) -> None:
        """Raises :class:`SyncRefused` with the reason when the integration may not sync."""
        if integration.state == "draft":
            raise SyncRefused(
                f"'{integration.name}' is a draft: it must pass 'cdi-tui test {integration.name}' "
                f"and be activated ('cdi-tui activate {integration.name}') before it can sync"
            )
        credential = self.config.credentials[integration.credential]
        if self.runlog.tested_fingerprint(integration.name) != integration_fingerprint(credential, integration):
            raise SyncRefused(
                f"the connection or table of '{integration.name}' changed since its last successful test; "
                f"run 'cdi-tui test {integration.name}' again"
            )
        if self.config.braze is None:
            raise SyncRefused("Braze is not set up: run 'cdi-tui braze set --endpoint INSTANCE' first")

    def integration(self, name: str) -> Integration:
        try:
            return self.config.integrations[name]
        except KeyError:
            raise SyncRefused(f"no integration named '{name}'") from None

    # entry point ---------------------------------------------------------------------------
    def run(
        self,
        name: str,
        options: SyncOptions | None = None,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> RunRecord:
        """Run one sync to the end (blocking). Returns the run's record.

        Raises:
            SyncRefused: the integration may not sync (nothing is recorded).
            RunInProgress: another run of it is under way (nothing is recorded).
        """
        options = options or SyncOptions()
        integration = self.integration(name)
        self.ensure_can_sync(integration)
        lock = RunLock(self.lock_dir, name).acquire()
        try:
            interrupted = self.runlog.mark_interrupted(name)
            if interrupted:
                log.warning("%s: %d earlier run(s) had stopped mid-way; marked interrupted", name, interrupted)
            self.runlog.prune()
            watermark = None if options.full_resync else self.runlog.watermark(name)
            run_id = self.runlog.start_run(
                name,
                options.trigger,
                options.dry_run,
                options.full_resync,
                watermark.as_text() if watermark else None,
                os.getpid(),
            )
            state = _RunState(run_id, integration, options, cancel or threading.Event(), progress)
            log.info("run %d of %s started (%s)", run_id, name, options.trigger)
            try:
                self._run(state, watermark)
            except BaseException as error:  # KeyboardInterrupt included: record, then re-raise
                state.fatal = state.fatal or error
                self._finish(state)
                raise
            return self._finish(state)
        finally:
            lock.release()

    # the run ----------------------------------------------------------------------------------
    def _finish(self, state: _RunState) -> RunRecord:
        name = state.integration.name
        if state.frontier_dirty and not state.options.dry_run and state.frontier_ts is not None:
            self.runlog.save_watermark(name, Watermark(state.frontier_ts, state.frontier_count))
        error_text = None
        if state.fatal is not None:
            status = "error"
            error_text = str(state.fatal) or type(state.fatal).__name__
            if isinstance(state.fatal, KeyboardInterrupt):
                status, error_text = "cancelled", "cancelled"
        elif state.stop_reason is not None:
            status, error_text = "error", state.stop_reason
        elif state.cancel.is_set():
            status, error_text = "cancelled", "cancelled by the user"
        elif state.limit_hit:
            status, error_text = "limit_exceeded", f"stopped at the limit of {state.options.max_rows:,} rows a run"
        elif state.failed:
            status = "partial"
        else:
            status = "success"
        after = None if state.options.dry_run else self.runlog.watermark(name)
        self.runlog.update_run(
            state.run_id,
            status=status,
            ended_at=utc_now(),
            rows_total=state.total,
            rows_read=state.read,
            rows_sent=state.sent,
            rows_failed=state.failed,
            rows_skipped=state.skipped,
            rows_retried=state.retried,
            watermark_after=after.as_text() if after else None,
            error=error_text,
            warnings=state.warnings,
        )
        state.phase = "finishing"
        state.report(force=True, message=status)
        log.info(
            "run %d of %s ended: %s (read %d, sent %d, failed %d, skipped %d)%s",
            state.run_id,
            name,
            status,
            state.read,
            state.sent,
            state.failed,
            state.skipped,
            f": {error_text}" if error_text else "",
        )
        record = self.runlog.run(state.run_id)
        assert record is not None
        return record

    def _run(self, state: _RunState, watermark: Watermark | None) -> None:
        integration = state.integration
        options = state.options
        credential = self.config.credentials[integration.credential]
        state.report(force=True)
        try:
            settings = connection_settings(credential, self.secrets, integration.table_name)
            braze_settings = self.config.braze
            assert braze_settings is not None
            api_key = None if options.dry_run else self.secrets.require(braze_key_account(), "Braze REST API key")
        except (WarehouseError, SecretMissing) as error:
            state.fatal = error
            return
        state.warnings.extend(settings.warnings())
        source = RedshiftSource(settings, integration.table_name)
        try:
            source.connect()
            shape = source.check_table(integration.data_type)
            if options.full_resync and not options.dry_run:
                self.runlog.reset_sync_state(integration.name)
            state.set_phase("counting")
            lower, inclusive, upper = self._bounds(source, shape, watermark, state)
            state.total = 0 if upper is None else source.count_rows(shape, lower, inclusive, upper)
            retry_rows = [] if options.dry_run else self.runlog.retry_rows(integration.name)
            state.total = min(state.total, options.max_rows) + len(retry_rows)
            transformer = RowTransformer(shape.select_columns, integration.data_type, integration.update_existing_only)
            self._report_null_rows(source, shape, transformer, state)
            state.set_phase("reading")
            if options.dry_run:
                if upper is not None:
                    self._pump(state, source, shape, transformer, None, lower, inclusive, upper)
                return
            assert api_key is not None
            limiter = shared_limiter(
                braze_settings.base_url, api_key, braze_settings.requests_per_window, braze_settings.window_seconds
            )
            state.stop_sending = threading.Event()
            with BrazeClient(
                braze_settings.base_url,
                api_key,
                limiter=limiter,
                bulk=options.full_resync or watermark is None,
                retry=options.retry,
                timeout=options.request_timeout,
                max_connections=options.concurrency,
                stop=state.stop_sending,
            ) as client:
                if retry_rows:
                    state.set_phase("sending")
                    self._send_retry_rows(state, client, retry_rows)
                if upper is not None and state.fatal is None and state.stop_reason is None:
                    self._pump(state, source, shape, transformer, client, lower, inclusive, upper)
        except (WarehouseError, BrazeError) as error:
            state.fatal = error
        finally:
            if state.stop_sending is not None:
                state.stop_sending.set()
            source.close()

    def _bounds(
        self, source: RedshiftSource, shape: TableShape, watermark: Watermark | None, state: _RunState
    ) -> tuple[datetime | None, bool, datetime | None]:
        """(lower, inclusive, upper) for this run, with Braze's boundary rule and a fixed upper bound."""
        now = self.clock()
        upper = source.newest_updated_at(shape, now)
        future = source.count_rows(shape, now, False, None)
        if future:
            state.warnings.append(
                f"{future} row(s) have an UPDATED_AT later than now ({to_text(now)}); they will be synced once that time has come"
            )
        if watermark is None:
            return None, False, upper
        rows_at_mark = source.count_at(shape, watermark.updated_at)
        inclusive = rows_at_mark > watermark.rows_at_updated_at
        if upper is not None and upper < watermark.updated_at:
            upper = None  # nothing new
        return watermark.updated_at, inclusive, upper

    def _report_null_rows(self, source: RedshiftSource, shape: TableShape, transformer: RowTransformer, state: _RunState) -> None:
        rows = source.null_updated_at_rows(shape)
        if not rows:
            return
        if state.options.dry_run:
            state.warnings.append(f"{len(rows)} row(s) have a NULL UPDATED_AT and can never be synced")
            return
        fingerprints = {hashlib.sha256(_json_text(row).encode()).hexdigest(): row for row in rows}
        fresh = self.runlog.new_null_row_fingerprints(state.integration.name, list(fingerprints))
        records = []
        for fingerprint in fresh:
            row = fingerprints[fingerprint]
            identifier, _problem = transformer.identifier(row)
            records.append(self._row_error(state, row, identifier, RowError("updated_at_null", "UPDATED_AT is NULL"), shape))
        self.runlog.add_row_errors(records)
        state.read += len(records)
        state.failed += len(records)

    def _row_error(
        self,
        state: _RunState,
        row: list[Any],
        identifier: dict[str, Any] | None,
        problem: RowError,
        shape: TableShape,
    ) -> RowErrorRecord:
        payload = row[-1] if shape.has_payload else None
        return RowErrorRecord(
            state.run_id,
            state.integration.name,
            to_text(row[0]) if isinstance(row[0], datetime) else None,
            describe_identifier(identifier),
            problem.code,
            problem.message,
            payload_preview(payload),
        )

    # retry list ----------------------------------------------------------------------------------
    def _send_retry_rows(self, state: _RunState, client: BrazeClient, retry_rows: list[Any]) -> None:
        limit = self._batch_limit(state.integration)
        send = client.send_delete if state.integration.data_type == "deletes" else client.send_track
        for start in range(0, len(retry_rows), limit):
            if state.cancel.is_set():
                return
            chunk = retry_rows[start : start + limit]
            items = [BrazeObject(row.array_name, row.body, row) for row in chunk]
            try:
                outcome = send(items)
            except SendCancelled:
                return
            done_ids = [item.ref.id for item in outcome.delivered]
            errors = []
            for item, reason in outcome.rejected:
                done_ids.append(item.ref.id)
                errors.append(self._item_error(state, item, "braze_rejected", reason))
            still = [item for item, _reason in outcome.transient]
            gave_up = [item for item in still if item.ref.attempts + 1 >= MAX_RETRY_ATTEMPTS]
            for item in gave_up:
                done_ids.append(item.ref.id)
                errors.append(self._item_error(state, item, "retries_exhausted", f"gave up after {MAX_RETRY_ATTEMPTS} runs"))
            self.runlog.add_row_errors(errors)
            self.runlog.remove_retry_rows(done_ids)
            self.runlog.bump_retry_attempts([item.ref.id for item in still if item not in gave_up])
            state.retried += len(chunk)
            state.sent += len(outcome.delivered)
            state.failed += len(outcome.rejected) + len(still)
            state.report()
            if still:
                state.stop_reason = f"Braze could not be reached: {outcome.transient[0][1]}"
                return

    def _item_error(self, state: _RunState, item: BrazeObject, code: str, reason: str) -> RowErrorRecord:
        ref = item.ref
        updated_at = ref.updated_at if hasattr(ref, "updated_at") else (to_text(ref) if isinstance(ref, datetime) else None)
        identifier, rest = split_identifier(item.body)
        return RowErrorRecord(
            state.run_id, state.integration.name, updated_at, describe_identifier(identifier), code, reason, payload_preview(rest)
        )

    # the pump ----------------------------------------------------------------------------------
    def _batch_limit(self, integration: Integration) -> int:
        if integration.data_type == "deletes":
            return MAX_DELETE_IDENTIFIERS
        braze = self.config.braze
        if braze is not None and braze.combined_batch_limit:
            return MAX_OBJECTS_COMBINED_MAU
        return MAX_OBJECTS_PER_ARRAY

    def _pump(
        self,
        state: _RunState,
        source: RedshiftSource,
        shape: TableShape,
        transformer: RowTransformer,
        client: BrazeClient | None,
        lower: datetime | None,
        inclusive: bool,
        upper: datetime,
    ) -> None:
        """Read, transform and send every pending row; account for each one."""
        options = state.options
        limit = self._batch_limit(state.integration)
        payload_index = len(shape.select_columns) - 1 if shape.has_payload else None
        stop_reading = threading.Event()
        stream = source.stream_rows(shape, lower, inclusive, upper, options.fetch_rows, cancelled=stop_reading)
        pool: SenderPool[_Segment] | None = None
        if client is not None:
            send = client.send_delete if state.integration.data_type == "deletes" else client.send_track
            pool = SenderPool(send, max_workers=options.concurrency, round_trip=lambda: client.round_trip_seconds)

        def on_result(segment: _Segment, result: SendOutcome | BrazeError | SendCancelled) -> None:
            if isinstance(result, SendOutcome):
                self._settle(state, segment, result)
            elif isinstance(result, BrazeError):
                if state.fatal is None:
                    state.fatal = result
                if state.stop_sending is not None:
                    state.stop_sending.set()
            # SendCancelled: the segment stays not done; the next run sends it again

        def should_stop() -> bool:
            return state.cancel.is_set() or state.fatal is not None or state.stop_reason is not None

        def dispatch(segment: _Segment) -> None:
            state.segments.append(segment)
            if segment.errors:
                self.runlog.add_row_errors(segment.errors)
                state.failed += len(segment.errors)
            if pool is None or not segment.items:
                state.skipped += len(segment.items)
                segment.done = True
                self._advance(state)
                return
            state.set_phase("sending")
            pool.submit(segment, segment.items, on_result)

        def cut(segment: _Segment, read: int) -> int:
            """Close a segment and hand it on; returns the rows read up to its end."""
            segment.close()
            state.read = read + segment.size
            dispatch(segment)
            return state.read

        segment = _Segment()
        items = segment.items
        read = taken = state.read  # rows in segments handed on; rows taken from the stream
        max_rows = options.max_rows
        transform = transformer.transform
        run_id, name = state.run_id, state.integration.name
        try:
            for block in stream:
                if taken + len(block) > max_rows:
                    block = block[: max(0, max_rows - taken)]
                    state.limit_hit = True
                taken += len(block)
                stopped = False
                for row in block:
                    result = transform(row)
                    if result.__class__ is BrazeObject:
                        items.append(result)
                        if len(items) >= limit:
                            read = cut(segment, read)
                            segment = _Segment()
                            items = segment.items
                            if should_stop():
                                stopped = True
                                break
                        continue
                    assert isinstance(result, RowError)
                    moment = row[0]
                    identifier, _problem = transformer.identifier(row)
                    segment.error_moments.append(moment)
                    segment.errors.append(
                        RowErrorRecord(
                            run_id,
                            name,
                            to_text(moment) if moment is not None else None,
                            describe_identifier(identifier),
                            result.code,
                            result.message,
                            payload_preview(row[payload_index]) if payload_index is not None else None,
                        )
                    )
                    if len(segment.errors) >= ERRORS_PER_SEGMENT:  # a long stretch of invalid rows: record it as it goes
                        read = cut(segment, read)
                        segment = _Segment()
                        items = segment.items
                state.read = read if stopped else taken
                if pool is not None:
                    pool.drain(on_result)
                state.report()
                if stopped or state.limit_hit or should_stop():
                    break
            segment.close()
            if segment.size and not should_stop():
                read = cut(segment, read)
            else:
                state.read = read + segment.size
        finally:
            stop_reading.set()
            stream.close()
            if pool is not None:
                if should_stop() and state.stop_sending is not None:
                    state.stop_sending.set()  # wakes senders waiting on the rate limit or a backoff
                pool.finish(on_result)

    def _settle(self, state: _RunState, segment: _Segment, outcome: SendOutcome) -> None:
        """Account for every object of a sent segment, then mark it done."""
        if outcome.rejected or outcome.transient:
            self._record_failures(state, outcome)
        elif outcome.delivered:
            state.exhausted_in_a_row = 0
        state.sent += len(outcome.delivered)
        segment.done = True
        segment.items = []
        self._advance(state)
        state.report()

    def _record_failures(self, state: _RunState, outcome: SendOutcome) -> None:
        """Row errors for the objects Braze rejected; the retry list for those that could not be sent."""
        errors = [self._item_error(state, item, "braze_rejected", reason) for item, reason in outcome.rejected]
        retries = []
        for item, reason in outcome.transient:
            errors.append(self._item_error(state, item, "transient", f"{reason}; queued for the next run"))
            identifier, _rest = split_identifier(item.body)
            retries.append((to_text(item.ref), describe_identifier(identifier), item.array, item.body, reason, 1))
        self.runlog.add_retry_rows(state.integration.name, retries)
        self.runlog.add_row_errors(errors)
        state.failed += len(outcome.rejected) + len(outcome.transient)
        if outcome.transient:
            state.exhausted_in_a_row += 1
            if state.exhausted_in_a_row >= EXHAUSTED_BATCHES_BEFORE_STOP:
                state.stop_reason = f"Braze could not be reached: {outcome.transient[0][1]}"
        elif outcome.delivered:
            state.exhausted_in_a_row = 0

    def _advance(self, state: _RunState) -> None:
        """Move the watermark over the done segments at the front, in read order; checkpoint."""
        segments = state.segments
        while segments and segments[0].done:
            segment = segments.popleft()
            if segment.last_ts is None:
                continue
            if segment.first_ts == segment.last_ts == state.frontier_ts:
                state.frontier_count += segment.size
            else:
                state.frontier_ts = segment.last_ts
                state.frontier_count = segment.tail
            state.frontier_dirty = True
        if state.frontier_dirty and not state.options.dry_run and state.frontier_ts is not None:
            # every move is saved at once (about 10 us a save): after a crash, only rows that
            # were in flight are sent again
            self.runlog.save_watermark(state.integration.name, Watermark(state.frontier_ts, state.frontier_count))
            state.frontier_dirty = False
        now = time.monotonic()
        if now - state.last_checkpoint >= state.options.checkpoint_seconds:
            self.runlog.update_run(state.run_id, rows_read=state.read, rows_sent=state.sent, rows_failed=state.failed)
            state.last_checkpoint = now
