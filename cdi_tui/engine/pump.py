"""The pump: every pending row read, turned into an object or a row error, sent, and settled.

It reads blocks of rows from the warehouse stream, cuts them into segments of one request,
hands each segment to the :class:`~cdi_tui.engine.senders.Dispatcher` and, as results come
back (in any order), settles them: delivered, rejected (a row error), or transient (the
retry list). Then the frontier moves the watermark over what is done. Reading waits while
``max_in_flight`` segments are open (handed on, not yet passed by the watermark): that is
what bounds the rows sent twice after a crash.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from cdi_tui.braze.client import BrazeClient, BrazeError, SendCancelled, SendOutcome
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.engine.changes import ChangeFilter, DeliveredStore, data_points, user_key
from cdi_tui.engine.frontier import Frontier, Segment
from cdi_tui.engine.run_state import RunState
from cdi_tui.engine.senders import Dispatcher, Result
from cdi_tui.engine.transform import RowError, RowTransformer, split_identifier
from cdi_tui.enums import DataType
from cdi_tui.runlog import RowErrorRecord, RunLog, RunLogUnavailable, to_text

MAX_RETRY_ATTEMPTS = 10  # runs that try a retry-list row before it becomes a row error
EXHAUSTED_BATCHES_BEFORE_STOP = 3  # requests in a row whose retries ran out: Braze is unreachable
STORAGE_ERRORS = (RunLogUnavailable, sqlite3.Error)  # the run log or the delivered store cannot be written
UNSENT_PER_SEGMENT = 1000  # invalid or unchanged rows held in a segment before it is handed on


def item_error(state: RunState, item: BrazeObject, code: str, reason: str) -> RowErrorRecord:
    """A row error for an object that was sent (its ``ref`` is the row's UPDATED_AT or a retry row)."""
    ref = item.ref
    updated_at = ref.updated_at if hasattr(ref, "updated_at") else ref
    identifier, rest = split_identifier(item.body)
    return state.row_error(updated_at, identifier, code, reason, rest)


class Pump:
    """Args:
    state: the run's counts and stop signals.
    runlog: where row errors, the retry list and checkpoints go.
    frontier: the run's watermark.
    transformer: rows to objects.
    payload_index: the PAYLOAD column's place in a row, or None (deletes).
    dispatcher: None for a dry run (objects are counted as skipped).
    batch_limit: objects a request.
    max_open_segments: segments handed on and not yet passed by the watermark, at most.
    checkpoint_seconds: how often the run's counts are saved while it runs.
    changes: for "send only changed attributes": keeps unchanged values out of requests.
    deleted_users: for a deletes integration: the store that forgets the users Braze deleted.
    """

    def __init__(
        self,
        state: RunState,
        runlog: RunLog,
        frontier: Frontier,
        transformer: RowTransformer,
        payload_index: int | None,
        dispatcher: Dispatcher[Segment] | None,
        batch_limit: int,
        max_open_segments: int,
        checkpoint_seconds: float,
        changes: ChangeFilter | None = None,
        deleted_users: DeliveredStore | None = None,
    ) -> None:
        self.state = state
        self.runlog = runlog
        self.frontier = frontier
        self.transformer = transformer
        self.payload_index = payload_index
        self.dispatcher = dispatcher
        self.batch_limit = batch_limit
        self.max_open_segments = max(1, max_open_segments)
        self.checkpoint_seconds = checkpoint_seconds
        self.changes = changes
        self.deleted_users = deleted_users
        self.exhausted_in_a_row = 0
        self.last_checkpoint = time.monotonic()

    # reading -------------------------------------------------------------------------------
    def run(self, blocks: Iterator[list[list[Any]]]) -> None:
        """Read, transform and send every row of ``blocks``; account for each one.

        On return every segment handed on has been settled (or, when the run stops, its
        result handed back): the frontier holds the watermark of what is done.
        """
        state = self.state
        try:
            self._read(blocks)
        except STORAGE_ERRORS as error:
            state.log_broke(error)
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()  # ends the warehouse cursor
            if self.dispatcher is not None:
                if state.should_stop():
                    state.stop_sending.set()  # wakes requests waiting on the rate limit or a backoff
                self.dispatcher.finish(self._on_result)
                state.in_flight = 0
            if self.changes is not None and state.log_failed is None:
                try:
                    self.changes.flush()
                except STORAGE_ERRORS as error:
                    state.log_broke(error)

    def _read(self, blocks: Iterator[list[list[Any]]]) -> None:
        """The reading loop of :meth:`run`: blocks of rows cut into segments and handed on."""
        state = self.state
        limit = self.batch_limit
        segment = Segment()
        items = segment.items
        read = taken = state.read  # rows in segments handed on; rows taken from the stream
        max_rows = state.max_rows
        transform = self.transformer.transform
        changes = self.changes
        for block in blocks:
            if taken + len(block) > max_rows:
                block = block[: max(0, max_rows - taken)]
                state.limit_hit = True
            taken += len(block)
            stopped = False
            verdicts = None
            if changes is None:
                results: list[Any] = [transform(row) for row in block]
            else:  # one look-up a block; rows read as last delivered are not even made into objects
                fingerprints, known = changes.sift(block, self.transformer)
                results = [None if unchanged else transform(row) for row, unchanged in zip(block, known, strict=True)]
                objects = [index for index, result in enumerate(results) if result.__class__ is BrazeObject]
                verdicts = iter(changes.filter([results[index] for index in objects], [fingerprints[index] for index in objects]))
            for row, result in zip(block, results, strict=True):
                if result is None or result.__class__ is BrazeObject:
                    if verdicts is not None and result is not None:
                        result = next(verdicts)
                    if result is None:  # nothing changed: done without a request
                        segment.unsent_moments.append(row[0])
                        segment.unchanged += 1
                        if len(segment.unsent_moments) >= UNSENT_PER_SEGMENT:
                            read = self._cut(segment, read)
                            segment = Segment()
                            items = segment.items
                        continue
                    items.append(result)
                    if len(items) >= limit:
                        read = self._cut(segment, read)
                        segment = Segment()
                        items = segment.items
                        if state.should_stop():
                            stopped = True
                            break
                    continue
                assert isinstance(result, RowError)
                self._invalid_row(segment, row, result)
                if len(segment.unsent_moments) >= UNSENT_PER_SEGMENT:  # a long stretch of invalid rows: record it as it goes
                    read = self._cut(segment, read)
                    segment = Segment()
                    items = segment.items
            state.read = read if stopped else taken
            if self.dispatcher is not None:
                self.dispatcher.drain(self._on_result)
            state.report()
            if stopped or state.limit_hit or state.should_stop():
                break
        segment.close()
        if segment.size and not state.should_stop():
            read = self._cut(segment, read)
        else:
            state.read = read + segment.size

    def _invalid_row(self, segment: Segment, row: list[Any], problem: RowError) -> None:
        moment = row[0]
        identifier, _problem = self.transformer.identifier(row)
        payload = row[self.payload_index] if self.payload_index is not None else None
        segment.unsent_moments.append(moment)
        segment.errors.append(self.state.row_error(moment, identifier, problem.code, problem.message, payload))

    def _cut(self, segment: Segment, read: int) -> int:
        """Close a segment and hand it on; returns the rows read up to its end."""
        segment.close()
        self.state.read = read + segment.size
        self._hand_on(segment)
        return self.state.read

    # sending -------------------------------------------------------------------------------
    def _hand_on(self, segment: Segment) -> None:
        state = self.state
        dispatcher = self.dispatcher
        if dispatcher is not None:
            # the bound on rows sent twice after a crash: wait while too many segments are open
            while self.frontier.open_segments >= self.max_open_segments and dispatcher.pending:
                dispatcher.drain(self._on_result, block=True, timeout=0.05)
        self.frontier.add(segment)
        if segment.errors:
            self.runlog.add_row_errors(segment.errors)
            state.failed += len(segment.errors)
        state.unchanged += segment.unchanged
        if dispatcher is None or not segment.items:
            state.skipped += len(segment.items)
            if dispatcher is None:  # a dry run: what the objects would spend
                state.data_points += sum(data_points(item) for item in segment.items)
            segment.done = True
            self._moved()
            return
        state.set_phase("sending")
        dispatcher.submit(segment, segment.items, self._on_result)
        state.in_flight = dispatcher.pending

    def _on_result(self, segment: Segment, result: Result) -> None:
        if self.state.log_failed is not None:
            return  # nothing more can be recorded: the next run sends this segment again
        try:
            self._take_result(segment, result)
        except STORAGE_ERRORS as error:
            self.state.log_broke(error)

    def _take_result(self, segment: Segment, result: Result) -> None:
        if isinstance(result, SendOutcome):
            self._settle(segment, result)
        else:
            if self.changes is not None:
                self.changes.settled((), segment.items)
            if isinstance(result, BrazeError):
                self.state.fail(result)
        # SendCancelled: the segment stays not done; the next run sends it again
        if self.dispatcher is not None:
            self.state.in_flight = self.dispatcher.pending

    # settling ------------------------------------------------------------------------------
    def _settle(self, segment: Segment, outcome: SendOutcome) -> None:
        """Account for every object of a sent segment, then mark it done."""
        if outcome.rejected or outcome.transient:
            self._record_failures(outcome)
        elif outcome.delivered:
            self.exhausted_in_a_row = 0
        self._delivered(outcome.delivered)
        if self.changes is not None:
            self.changes.settled(outcome.delivered, segment.items)
        self.state.sent += len(outcome.delivered)
        segment.done = True
        segment.items = []
        self._moved()
        self.state.report()

    def _delivered(self, items: list[BrazeObject]) -> None:
        self.state.data_points += sum(data_points(item) for item in items)
        if self.deleted_users is not None and items:
            self.deleted_users.forget_users([user_key(item.body) for item in items])

    def _record_failures(self, outcome: SendOutcome) -> None:
        """Row errors for the objects Braze rejected; the retry list for those that could not be sent."""
        state = self.state
        errors = [item_error(state, item, "braze_rejected", reason) for item, reason in outcome.rejected]
        retries = []
        for item, reason in outcome.transient:
            errors.append(item_error(state, item, "transient", f"{reason}; queued for the next run"))
            record = errors[-1]
            retries.append((to_text(item.ref), record.identifier, item.array, item.body, reason, 1))
        self.runlog.add_retry_rows(state.name, retries)
        self.runlog.add_row_errors(errors)
        state.failed += len(outcome.rejected) + len(outcome.transient)
        if outcome.transient:
            self.exhausted_in_a_row += 1
            if self.exhausted_in_a_row >= EXHAUSTED_BATCHES_BEFORE_STOP:
                state.stop_reason = f"Braze could not be reached: {outcome.transient[0][1]}"
                state.stop_sending.set()
        elif outcome.delivered:
            self.exhausted_in_a_row = 0

    def send_retry_list(self, client: BrazeClient, retry_rows: list[Any]) -> None:
        """Send the retry list (rows whose retries ran out in earlier runs) before any new row."""
        state, runlog, batch_limit = self.state, self.runlog, self.batch_limit
        send = client.send_delete if state.integration.data_type == DataType.DELETES else client.send_track
        for start in range(0, len(retry_rows), batch_limit):
            if state.cancel.is_set():
                return
            chunk = retry_rows[start : start + batch_limit]
            items = [BrazeObject(row.array_name, row.body, row) for row in chunk]
            try:
                outcome = send(items)
            except SendCancelled:
                return
            self._delivered(outcome.delivered)
            if self.changes is not None:
                self.changes.remember(outcome.delivered)
            done_ids = [item.ref.id for item in outcome.delivered]
            errors = []
            for item, reason in outcome.rejected:
                done_ids.append(item.ref.id)
                errors.append(item_error(state, item, "braze_rejected", reason))
            still = [item for item, _reason in outcome.transient]
            gave_up = [item for item in still if item.ref.attempts + 1 >= MAX_RETRY_ATTEMPTS]
            for item in gave_up:
                done_ids.append(item.ref.id)
                errors.append(item_error(state, item, "retries_exhausted", f"gave up after {MAX_RETRY_ATTEMPTS} runs"))
            runlog.add_row_errors(errors)
            runlog.remove_retry_rows(done_ids)
            runlog.bump_retry_attempts([item.ref.id for item in still if item not in gave_up])
            state.retried += len(chunk)
            state.sent += len(outcome.delivered)
            state.failed += len(outcome.rejected) + len(still)
            state.report()
            if still:
                state.stop_reason = f"Braze could not be reached: {outcome.transient[0][1]}"
                return

    def _moved(self) -> None:
        """After a segment is done: move the watermark; save the run's counts now and then."""
        self.frontier.advance()
        now = time.monotonic()
        if now - self.last_checkpoint >= self.checkpoint_seconds:
            state = self.state
            self.runlog.update_run(state.run_id, rows_read=state.read, rows_sent=state.sent, rows_failed=state.failed)
            self.last_checkpoint = now
