"""The sync: rows changed since the last run, from Redshift to Braze, every row accounted for.

One run, in reading order (:meth:`SyncEngine.run`):

1. checks (:meth:`SyncEngine.ensure_can_sync`) and the per-integration run lock; the run is
   recorded as ``running``;
2. connect, check the table, fix the run's bounds (:meth:`SyncEngine._bounds`): the upper
   bound is the newest UPDATED_AT not later than now, so rows written while it runs wait for
   the next run, and rows stamped in the future wait until their time instead of pushing the
   watermark ahead; the lower bound is the watermark, with Braze's boundary rule;
3. the retry list first (:meth:`~cdi_tui.engine.pump.Pump.send_retry_list`): rows whose retries
   ran out in an earlier run;
4. the pump (:class:`~cdi_tui.engine.pump.Pump`): rows streamed in UPDATED_AT order, cut into
   segments of one request (for attributes, never two objects of one user under way:
   :mod:`~cdi_tui.engine.order`), sent by the dispatcher (:mod:`cdi_tui.engine.senders`, as many
   requests in flight as Braze's latency needs), each segment settled as its answer comes;
5. the frontier (:class:`~cdi_tui.engine.frontier.Frontier`) moves the watermark over done
   segments in read order and saves it as it moves;
6. the outcome (:func:`~cdi_tui.engine.outcome.run_outcome`) is recorded, whatever broke.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cdi_tui.braze.client import BrazeCatalogMissing, BrazeClient, BrazeError, RetryPolicy, TransientFailure, shared_limiter
from cdi_tui.braze.rules import (
    MAX_CATALOG_ITEMS,
    MAX_DELETE_IDENTIFIERS,
    MAX_OBJECTS_COMBINED_MAU,
    MAX_OBJECTS_PER_ARRAY,
)
from cdi_tui.checks import connection_settings, integration_fingerprint
from cdi_tui.config import DEFAULT_MAX_IN_FLIGHT, Config, Integration
from cdi_tui.engine.changes import ChangeFilter, DeliveredStore
from cdi_tui.engine.frontier import Frontier, Segment
from cdi_tui.engine.lock import RunInProgress, RunLock
from cdi_tui.engine.outcome import run_outcome
from cdi_tui.engine.ports import BrazeClientFactory, BrazeSender, RequestDispatcher, RowSource, RowSourceFactory
from cdi_tui.engine.pump import STORAGE_ERRORS, Pump
from cdi_tui.engine.run_state import Progress, ProgressCallback, RunState
from cdi_tui.engine.senders import Dispatcher
from cdi_tui.engine.transform import RowError, RowTransformer
from cdi_tui.enums import DataType, IntegrationState, Trigger
from cdi_tui.errors import CdiError
from cdi_tui.runlog import RunLog, RunRecord, Watermark, to_text, utc_now
from cdi_tui.secret_store import CredentialsService, SecretMissing, braze_key_account, braze_key_label
from cdi_tui.warehouse.errors import WarehouseError
from cdi_tui.warehouse.source import RedshiftSource, TableShape
from cdi_tui.warehouse.timestamps import CEILING

log = logging.getLogger("cdi_tui.engine")

DEFAULT_MAX_ROWS = 500_000_000
DELIVERED_FILE = "delivered.sqlite3"


class SyncRefused(CdiError):
    """The integration cannot sync as it is (draft, untested, Braze not set up, ...)."""


__all__ = ["Progress", "ProgressCallback", "RunInProgress", "SyncEngine", "SyncOptions", "SyncRefused"]


@dataclass(frozen=True)
class SyncOptions:
    trigger: Trigger = Trigger.MANUAL
    full_resync: bool = False
    dry_run: bool = False
    max_rows: int = DEFAULT_MAX_ROWS
    fetch_rows: int = 10_000
    concurrency: int | None = None  # most requests in flight; None: the workspace's [braze] max_in_flight
    checkpoint_seconds: float = 0.5  # how often the run's counts are saved while it runs
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    request_timeout: float = 30.0
    # never two objects of one user under way (attribute integrations): Braze then holds each
    # user's newest values. Off only to measure what the guarantee costs (the benchmark).
    per_user_order: bool = True


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
        delivered: the store of delivered values (default: ``delivered.sqlite3`` beside the run log).
        row_sources: makes the source a run reads (:class:`~cdi_tui.engine.ports.RowSource`).
        braze_clients: opens the sender a run sends with (:class:`~cdi_tui.engine.ports.BrazeClientFactory`).
    """

    def __init__(
        self,
        config: Config,
        secrets: CredentialsService,
        runlog: RunLog,
        lock_dir: Path,
        clock: Callable[[], datetime] = utc_now,
        delivered: DeliveredStore | None = None,
        *,
        row_sources: RowSourceFactory = RedshiftSource,
        braze_clients: BrazeClientFactory = BrazeClient,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.runlog = runlog
        self.lock_dir = lock_dir
        self.clock = clock
        self._delivered = delivered
        self.row_sources = row_sources
        self.braze_clients = braze_clients

    @property
    def delivered(self) -> DeliveredStore:
        """What attribute integrations delivered (for "send only changed attributes"), beside the run log."""
        if self._delivered is None:
            self._delivered = DeliveredStore(self.runlog.path.with_name(DELIVERED_FILE))
        return self._delivered

    # checks ------------------------------------------------------------------------------
    def ensure_can_sync(self, integration: Integration, dry_run: bool = False) -> None:
        """Raises :class:`SyncRefused` with the reason when the integration may not sync.

        A dry run (an estimate: it sends nothing) may also run a draft, once that draft has
        passed its connection test for its current connection and table; every other rule holds.
        """
        if integration.state == IntegrationState.DRAFT and not dry_run:
            raise SyncRefused(
                f"'{integration.name}' is a draft: it must pass 'cdi-tui test {integration.name}' "
                f"and be activated ('cdi-tui activate {integration.name}') before it can sync"
            )
        credential = self.config.credentials[integration.credential]
        tested = self.runlog.tested_fingerprint(integration.name)
        if tested is None:
            raise SyncRefused(
                f"'{integration.name}' has no passed connection test on record; run 'cdi-tui test {integration.name}' first"
            )
        if tested != integration_fingerprint(credential, integration):
            raise SyncRefused(
                f"the connection or table of '{integration.name}' changed since its last successful test; "
                f"run 'cdi-tui test {integration.name}' again"
            )
        if self.config.braze_of(integration) is None:
            if not self.config.workspaces:
                raise SyncRefused("Braze is not set up: run 'cdi-tui braze set --endpoint INSTANCE' first")
            raise SyncRefused(
                f"'{integration.name}' syncs to Braze workspace '{integration.workspace}', which is not set up: run "
                f"'cdi-tui braze set --workspace {integration.workspace} --endpoint INSTANCE' first"
            )

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
        self.ensure_can_sync(integration, dry_run=options.dry_run)
        lock = RunLock(self.lock_dir, name).acquire()
        try:
            return self._run_locked(integration, options, progress, cancel)
        finally:
            lock.release()

    def _run_locked(
        self, integration: Integration, options: SyncOptions, progress: ProgressCallback | None, cancel: threading.Event | None
    ) -> RunRecord:
        name = integration.name
        interrupted = self.runlog.mark_interrupted(name)
        if interrupted:
            log.warning("%s: %d earlier run(s) had stopped mid-way; marked interrupted", name, interrupted)
        self.runlog.prune()
        watermark = None if options.full_resync else self.runlog.watermark(name)
        run_id = self.runlog.start_run(name, options.trigger, options.dry_run, options.full_resync, watermark, os.getpid())
        state = RunState(run_id, integration, options.dry_run, options.max_rows, cancel or threading.Event(), progress)
        frontier = Frontier(self.runlog, name, save=not options.dry_run)
        log.info(
            "run %d of %s started (%s)",
            run_id,
            name,
            options.trigger,
            extra={"integration": name, "run_id": run_id, "event": "run_started", "trigger": str(options.trigger)},
        )
        try:
            self._run(state, options, frontier, watermark)
        except BaseException as error:  # KeyboardInterrupt included: record, then re-raise
            state.fail(error)
            self._finish(state, frontier, options, watermark)
            raise
        return self._finish(state, frontier, options, watermark)

    # the run ----------------------------------------------------------------------------------
    def _run(self, state: RunState, options: SyncOptions, frontier: Frontier, watermark: Watermark | None) -> None:
        integration = state.integration
        credential = self.config.credentials[integration.credential]
        state.report(force=True)
        try:
            settings = connection_settings(credential, self.secrets, integration.table_name)
            braze_settings = self.config.braze_of(integration)
            assert braze_settings is not None
            account, label = braze_key_account(integration.workspace), braze_key_label(integration.workspace)
            api_key = None if options.dry_run else self.secrets.require(account, label)
        except (WarehouseError, SecretMissing) as error:
            state.fail(error)
            return
        state.warnings.extend(settings.warnings())
        source = self.row_sources(settings, integration.table_name)
        try:
            source.connect()
            shape = source.check_table(integration.data_type)
            if options.full_resync and not options.dry_run:
                self.runlog.reset_sync_state(integration.name)
                self.delivered.forget_integration(integration.name)
            state.set_phase("counting")
            lower, inclusive, upper = self._bounds(source, shape, watermark, state)
            state.total = 0 if upper is None else source.count_rows(shape, lower, inclusive, upper)
            retry_rows = [] if options.dry_run else self.runlog.retry_rows(integration.name)
            state.total = min(state.total, options.max_rows) + len(retry_rows)
            transformer = RowTransformer(
                shape.select_columns,
                integration.data_type,
                integration.update_existing_only,
                integration.prioritization,
            )
            self._report_null_rows(source, shape, transformer, state)
            self._report_out_of_range_rows(source, shape, transformer, state)
            state.set_phase("reading")
            max_in_flight = options.concurrency or braze_settings.max_in_flight or DEFAULT_MAX_IN_FLIGHT
            if options.dry_run:
                if upper is not None:
                    pump = self._pump(state, frontier, shape, transformer, None, max_in_flight, options)
                    pump.run(self._rows(source, shape, lower, inclusive, upper, options, state, credential.max_rows_per_query))
                return
            deletes = integration.data_type == DataType.DELETES
            catalog = integration.catalog_name if integration.data_type == DataType.CATALOGS else None
            assert api_key is not None
            if catalog is None:
                limit, window = braze_settings.requests_per_window, braze_settings.window_seconds
                limiter = shared_limiter(braze_settings.base_url, api_key, limit, window)
            else:  # the catalog item endpoints have a budget of their own, apart from /users/track's
                limit, window = braze_settings.catalog_requests_per_minute, 60.0
                limiter = shared_limiter(braze_settings.base_url, api_key, limit, window, budget="catalogs")
            with self.braze_clients(
                braze_settings.base_url,
                api_key,
                limiter=limiter,
                bulk=options.full_resync or watermark is None,
                retry=options.retry,
                timeout=options.request_timeout,
                max_in_flight=max_in_flight,
                stop=state.stop_sending,
                on_answer=state.note_answer,
            ) as client:
                if catalog is not None:
                    self._find_catalog(client, catalog)
                dispatcher: Dispatcher[Segment] = Dispatcher(
                    client,
                    deletes=deletes,
                    max_in_flight=max_in_flight,
                    rate_per_second=limit / window,
                    catalog=catalog,
                )
                pump = self._pump(state, frontier, shape, transformer, dispatcher, max_in_flight, options)
                if retry_rows:
                    state.set_phase("sending")
                    pump.send_retry_list(client, retry_rows)
                if upper is not None and not state.should_stop():
                    pump.run(self._rows(source, shape, lower, inclusive, upper, options, state, credential.max_rows_per_query))
        except (WarehouseError, BrazeError) as error:
            state.fail(error)
        except STORAGE_ERRORS as error:  # the run log or the delivered store cannot be written
            state.log_broke(error)
        finally:
            state.stop_sending.set()
            source.close()

    @staticmethod
    def _find_catalog(client: BrazeSender, catalog: str) -> None:
        """Before a catalog's items are sent: the catalog exists (its fields, kept by the client, name
        the unknown field of an item Braze refuses).

        Raises:
            BrazeCatalogMissing: no such catalog (a sync-level error, as in Braze's CDI).
            BrazeError: the catalogs could not be listed.
        """
        try:
            catalogs = client.list_catalogs()
        except TransientFailure as error:
            raise BrazeError(f"the catalogs of the Braze workspace could not be listed: {error}") from None
        if catalog not in catalogs:
            known = ", ".join(sorted(catalogs)) or "none"
            raise BrazeCatalogMissing(
                f"catalog '{catalog}' cannot be found in the Braze workspace (its catalogs: {known}); create it in Braze "
                "first, with its fields"
            )

    @staticmethod
    def _rows(
        source: RowSource,
        shape: TableShape,
        lower: datetime | None,
        inclusive: bool,
        upper: datetime | None,
        options: SyncOptions,
        state: RunState,
        max_rows_per_query: int,
    ) -> Iterator[list[list[Any]]]:
        """The run's rows, read in chunks no query of which returns more than the credential allows."""
        return source.stream_rows(
            shape,
            lower,
            inclusive,
            upper,
            options.fetch_rows,
            cancelled=state.stop_sending,
            max_rows_per_query=max_rows_per_query,
        )

    def _pump(
        self,
        state: RunState,
        frontier: Frontier,
        shape: TableShape,
        transformer: RowTransformer,
        dispatcher: RequestDispatcher[Segment] | None,
        max_in_flight: int,
        options: SyncOptions,
    ) -> Pump:
        catalogs = state.integration.data_type == DataType.CATALOGS
        return Pump(
            state,
            self.runlog,
            frontier,
            transformer,
            len(shape.select_columns) - 1 if shape.has_payload else None,
            dispatcher,
            self._batch_limit(state.integration),
            max_open_segments=max_in_flight,
            checkpoint_seconds=options.checkpoint_seconds,
            changes=ChangeFilter(self.delivered, state.name, remember=not state.dry_run, whole_items=catalogs)
            if state.integration.sends_changed_only
            else None,
            deleted_users=self.delivered if state.integration.data_type == DataType.DELETES and not state.dry_run else None,
            same_workspace=[item.name for item in self.config.integrations_in(state.integration.workspace)],
            ordered=options.per_user_order and state.integration.data_type in (DataType.ATTRIBUTES, DataType.CATALOGS),
            catalog=state.integration.catalog_name if catalogs else None,
        )

    def _batch_limit(self, integration: Integration) -> int:
        if integration.data_type == DataType.CATALOGS:
            return MAX_CATALOG_ITEMS
        if integration.data_type == DataType.DELETES:
            return MAX_DELETE_IDENTIFIERS
        braze = self.config.braze_of(integration)
        if braze is not None and braze.combined_batch_limit:
            return MAX_OBJECTS_COMBINED_MAU
        return MAX_OBJECTS_PER_ARRAY

    def _bounds(
        self, source: RowSource, shape: TableShape, watermark: Watermark | None, state: RunState
    ) -> tuple[datetime | None, bool, datetime | None]:
        """(lower, inclusive, upper) for this run, with Braze's boundary rule and a fixed upper bound."""
        now = self.clock()
        upper = source.newest_updated_at(shape, now)
        future = source.count_rows(shape, now, False, CEILING)  # after year 9999 ("infinity") is never due: a row error
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

    def _report_out_of_range_rows(
        self, source: RowSource, shape: TableShape, transformer: RowTransformer, state: RunState
    ) -> None:
        """Rows stamped after year 9999 (``infinity``) are never due: each is reported once, as a row error."""

        def problem(row: list[Any]) -> tuple[Any, str, str] | None:
            refused = transformer.transform(row)
            if not isinstance(refused, RowError):  # cannot happen: the transform refuses such a time
                return None
            return row[0], refused.code, refused.message

        self._report_unsyncable_rows(
            source.out_of_range_rows(shape), "after-9999:", "an UPDATED_AT after year 9999", problem, shape, transformer, state
        )

    def _report_null_rows(self, source: RowSource, shape: TableShape, transformer: RowTransformer, state: RunState) -> None:
        self._report_unsyncable_rows(
            source.null_updated_at_rows(shape),
            "",
            "a NULL UPDATED_AT",
            lambda _row: (None, "updated_at_null", "UPDATED_AT is NULL"),
            shape,
            transformer,
            state,
        )

    def _report_unsyncable_rows(
        self,
        rows: list[list[Any]],
        kind: str,
        described: str,
        problem: Callable[[list[Any]], tuple[Any, str, str] | None],
        shape: TableShape,
        transformer: RowTransformer,
        state: RunState,
    ) -> None:
        """Rows no watermark ever passes: each is reported once (remembered by a fingerprint of
        the row, ``kind`` telling the sorts apart), as a row error of this run; a dry run warns."""
        if not rows:
            return
        if state.dry_run:
            state.warnings.append(f"{len(rows)} row(s) have {described} and can never be synced")
            return
        fingerprints = {hashlib.sha256((kind + _json_text(row)).encode()).hexdigest(): row for row in rows}
        records = []
        for fingerprint in self.runlog.new_null_row_fingerprints(state.name, list(fingerprints)):
            row = fingerprints[fingerprint]
            found = problem(row)
            if found is None:
                continue
            updated_at, code, message = found
            identifier, _problem = transformer.identifier(row)
            payload = row[-1] if shape.has_payload else None
            records.append(state.row_error(updated_at, identifier, code, message, payload))
        self.runlog.add_row_errors(records)
        state.read += len(records)
        state.failed += len(records)

    # the end ------------------------------------------------------------------------------------
    def _finish(self, state: RunState, frontier: Frontier, options: SyncOptions, before: Watermark | None) -> RunRecord:
        """Save the watermark and record the run's outcome (whatever broke before).

        When the run log cannot be written (a full disk, a removed folder) the run still ends:
        its record is made in memory, and the next run marks the one on disk interrupted and
        resumes from the last watermark saved.
        """
        if state.log_failed is None:
            try:
                frontier.save()
            except STORAGE_ERRORS as error:
                state.log_broke(error)
        outcome = run_outcome(state)
        ended = utc_now()
        fields: dict[str, Any] = {
            "status": outcome.status,
            "ended_at": ended,
            "rows_total": state.total,
            "rows_read": state.read,
            "rows_sent": state.sent,
            "rows_failed": state.failed,
            "rows_skipped": state.skipped,
            "rows_retried": state.retried,
            "data_points": state.data_points,
            "rows_unchanged": state.unchanged,
            "rows_superseded": state.superseded,
            "items_written": state.items_written,
            "items_deleted": state.items_deleted,
            "braze_answers": state.answers_now(),
            "error": outcome.error,
            "warnings": state.warnings,
        }
        record: RunRecord | None = None
        try:
            after = None if state.dry_run else self.runlog.watermark(state.name)
            self.runlog.update_run(state.run_id, watermark_after=after, **fields)
            record = self.runlog.run(state.run_id)
        except STORAGE_ERRORS as error:
            log.error("run %d of %s: its end could not be recorded: %s", state.run_id, state.name, error)
        if record is None:
            record = RunRecord(
                id=state.run_id,
                integration=state.name,
                trigger=options.trigger,
                dry_run=state.dry_run,
                full_resync=options.full_resync,
                started_at=state.started_at,
                start_watermark=before,
                end_watermark=None,
                notification=None,
                **fields,
            )
        state.phase = "finishing"
        state.report(force=True, message=outcome.status)
        log.info(
            "run %d of %s ended: %s (read %d, sent %d, failed %d, skipped %d)%s",
            state.run_id,
            state.name,
            outcome.status,
            state.read,
            state.sent,
            state.failed,
            state.skipped,
            f": {outcome.error}" if outcome.error else "",
            extra={
                "integration": state.name,
                "run_id": state.run_id,
                "event": "run_ended",
                "status": str(outcome.status),
                "counts": {
                    "read": state.read,
                    "sent": state.sent,
                    "failed": state.failed,
                    "skipped": state.skipped,
                    "unchanged": state.unchanged,
                    "superseded": state.superseded,
                    "data_points": state.data_points,
                    "braze_requests": sum(fields["braze_answers"].values()),
                    "rate_limited": fields["braze_answers"].get("429", 0),
                },
            },
        )
        return record
