"""The pump: every pending row read, turned into an object or a row error, sent, and settled.

It reads blocks of rows from the warehouse stream, cuts them into segments of one request,
hands each segment to the :class:`~cdi_tui.engine.senders.Dispatcher` and, as results come
back (in any order), settles them: delivered, rejected (a row error), or transient (the
retry list). Then the frontier moves the watermark over what is done. Reading waits while
``max_in_flight`` segments are open (handed on, not yet passed by the watermark): that is
what bounds the rows sent twice after a crash.

Per-user order (attribute integrations, :mod:`cdi_tui.engine.order`): a user has at most one
object in a request that is open or under way. Rows of that user read meanwhile wait,
folded into one object, and go in a *carrier* request of their own once the user's object
is answered; their segments wait for them (``holds``), so the watermark never passes a row
before it is settled. A user whose object could not be delivered (retries ran out) is
*parked*: that object goes on the retry list, and so do the user's later rows of the run,
folded into it, so that the next run sends them in order and no older value ever lands
after a newer one.

Catalog items keep the same order per item id, folded whole (:func:`~cdi_tui.engine.order.join_whole`):
the newest row of an item wins, older ones are superseded, and an item never has two requests
under way.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cdi_tui.braze.client import BrazeError, SendCancelled, SendOutcome, rejection_code
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.braze.rules import CATALOG_DELETES_ARRAY, CATALOG_ITEMS_ARRAY
from cdi_tui.engine.changes import ChangeFilter, DeliveredStore, data_points, user_key
from cdi_tui.engine.frontier import Frontier, Segment
from cdi_tui.engine.order import FoldRow, Join, carried_rows, join, join_whole, start_fold
from cdi_tui.engine.ports import RequestDispatcher, Result, Sender
from cdi_tui.engine.run_state import RunState
from cdi_tui.engine.transform import RowError, RowTransformer, split_identifier
from cdi_tui.enums import DataType
from cdi_tui.runlog import RowErrorRecord, RunLog, RunLogUnavailable, to_text

MAX_RETRY_ATTEMPTS = 10  # runs that try a retry-list row before it becomes a row error
EXHAUSTED_BATCHES_BEFORE_STOP = 3  # requests in a row whose retries ran out: Braze is unreachable
STORAGE_ERRORS = (RunLogUnavailable, sqlite3.Error)  # the run log or the delivered store cannot be written
UNSENT_PER_SEGMENT = 1000  # rows a segment holds beyond its objects (invalid, unchanged, carried) before it is handed on


def item_error(state: RunState, item: BrazeObject, code: str, reason: str) -> RowErrorRecord:
    """A row error for an object that was sent (its ``ref`` is the row's UPDATED_AT or a retry row)."""
    ref = item.ref
    updated_at = ref.updated_at if hasattr(ref, "updated_at") else ref
    identifier, rest = split_identifier(item.body)
    return state.row_error(updated_at, identifier, code, reason, rest)


def _row_error(state: RunState, row: FoldRow, code: str, reason: str) -> RowErrorRecord:
    identifier, rest = split_identifier(row.body)
    return state.row_error(row.moment, identifier, code, reason, rest)


def _rows_of(item: BrazeObject) -> list[FoldRow] | None:
    """The rows a folded object carries (None: one row, the object's own)."""
    return None if item.fold is None else item.fold.rows


class _Parked:
    """A user's newest entry on the retry list, in this run: later rows of the user join it."""

    __slots__ = ("entry", "retry_id")

    def __init__(self, entry: BrazeObject, retry_id: int) -> None:
        self.entry = entry
        self.retry_id = retry_id


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
    same_workspace: the integrations of the run's Braze workspace (a deleted user is forgotten by
        those only: another workspace's users are others).
    ordered: per-user order (attribute and catalog integrations): never two objects of one user
        (or item) under way.
    catalog: for a catalogs integration: the catalog its items go to.
    """

    def __init__(
        self,
        state: RunState,
        runlog: RunLog,
        frontier: Frontier,
        transformer: RowTransformer,
        payload_index: int | None,
        dispatcher: RequestDispatcher[Segment] | None,
        batch_limit: int,
        max_open_segments: int,
        checkpoint_seconds: float,
        changes: ChangeFilter | None = None,
        deleted_users: DeliveredStore | None = None,
        ordered: bool = False,
        catalog: str | None = None,
        same_workspace: Sequence[str] | None = None,
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
        self.same_workspace = same_workspace
        self.ordered = ordered
        self.catalog = catalog
        # catalog items fold whole (the newest row of an item wins); a user's attributes value by value
        self._join: Join = join_whole if transformer.data_type == DataType.CATALOGS else join
        self.exhausted_in_a_row = 0
        self.last_checkpoint = time.monotonic()
        # per-user lines (ordered runs): each user with something pending is in one or more
        self._open: dict[str, BrazeObject] = {}  # the user's object in the segment being filled
        self._under_way: set[str] = set()  # users with an object handed on and not yet answered
        self._waiting: dict[str, list[BrazeObject]] = {}  # objects waiting for their user's turn, oldest first
        self._ready: deque[str] = deque()  # users whose first waiting object may go now
        self._parked: dict[str, _Parked] = {}
        self._sending_ready = False

    def _busy(self, user: str) -> bool:
        """Something of this user is open, under way, waiting or parked (its rows are not "as delivered")."""
        return user in self._open or user in self._under_way or user in self._waiting or user in self._parked

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
                try:
                    self._finish_sending()
                except STORAGE_ERRORS as error:
                    state.log_broke(error)
                state.in_flight = 0
            if self.changes is not None and state.log_failed is None:
                try:
                    self.changes.flush()
                except STORAGE_ERRORS as error:
                    state.log_broke(error)

    def _finish_sending(self) -> None:
        """Wait for every request under way, sending the objects their answers let go, then close."""
        dispatcher = self.dispatcher
        assert dispatcher is not None
        try:
            while True:
                if not self.state.should_stop():
                    self._send_ready()
                if not dispatcher.pending:
                    break
                dispatcher.drain(self._on_result, block=True, timeout=0.2)
        finally:
            dispatcher.finish(self._on_result)

    def _read(self, blocks: Iterator[list[list[Any]]]) -> None:
        """The reading loop of :meth:`run`: blocks of rows cut into segments and handed on."""
        state = self.state
        limit = self.batch_limit
        segment = Segment()
        read = taken = state.read  # rows in segments handed on; rows taken from the stream
        max_rows = state.max_rows
        transform = self.transformer.transform
        changes = self.changes
        ordered = self.ordered
        take = self._take
        for block in blocks:
            if not block:  # the end of a chunk of the read: settle it whole before the next query
                read = self._settle_chunk(segment, read)
                segment = Segment()
                if state.should_stop():
                    break
                continue
            if taken + len(block) > max_rows:
                block = block[: max(0, max_rows - taken)]
                state.limit_hit = True
            taken += len(block)
            stopped = False
            fingerprints: list[int | None] | None = None
            if changes is None:
                results: list[Any] = [transform(row) for row in block]
            else:  # one look-up a block; rows read as last delivered are not even made into objects
                fingerprints, known = changes.sift(block, self.transformer, self._busy if ordered else None)
                results = [None if unchanged else transform(row) for row, unchanged in zip(block, known, strict=True)]
            for index, (row, result) in enumerate(zip(block, results, strict=True)):
                if result.__class__ is BrazeObject:
                    fingerprint = fingerprints[index] if fingerprints is not None else None
                    if ordered:
                        take(segment, result, fingerprint)
                    else:
                        segment.items.append(result)
                        if fingerprints is not None:
                            segment.fingerprints.append(fingerprint)
                    if len(segment.items) >= limit:
                        read = self._cut(segment, read)
                        segment = Segment()
                        if state.should_stop():
                            stopped = True
                            break
                    elif len(segment.unsent_moments) + len(segment.carried_moments) >= UNSENT_PER_SEGMENT:
                        read = self._cut(segment, read)
                        segment = Segment()
                    continue
                if result is None:  # known unchanged before it was parsed: done without a request
                    segment.unsent_moments.append(row[0])
                    segment.unchanged += 1
                else:
                    assert isinstance(result, RowError)
                    self._invalid_row(segment, row, result)
                if len(segment.unsent_moments) + len(segment.carried_moments) >= UNSENT_PER_SEGMENT:
                    read = self._cut(segment, read)  # a long stretch without objects: record it as it goes
                    segment = Segment()
            state.read = read if stopped else taken
            if self.dispatcher is not None:
                self.dispatcher.drain(self._on_result)
            self._send_ready()
            state.report()
            if stopped or state.limit_hit or state.should_stop():
                break
        segment.close()
        if segment.size and not state.should_stop():
            read = self._cut(segment, read)
            if self.dispatcher is None:
                self._send_ready()
        else:
            state.read = read + segment.size

    def _settle_chunk(self, segment: Segment, read: int) -> int:
        """Between two chunks of the read: hand on what is open and wait for every answer, so the
        watermark stands at the chunk's end (a run stopped there resends nothing). One round trip
        per chunk (a million rows by default)."""
        segment.close()
        if segment.size:
            read = self._cut(segment, read)
        dispatcher = self.dispatcher
        if dispatcher is None:
            self._send_ready()
            return read
        while not self.state.should_stop():
            self._send_ready()
            if not dispatcher.pending:
                break
            dispatcher.drain(self._on_result, block=True, timeout=0.2)
        if self.changes is not None:
            self.changes.flush()
        self.frontier.advance()
        return read

    def _invalid_row(self, segment: Segment, row: list[Any], problem: RowError) -> None:
        moment = row[0]
        identifier, _problem = self.transformer.identifier(row)
        payload = row[self.payload_index] if self.payload_index is not None else None
        segment.unsent_moments.append(moment)
        segment.errors.append(self.state.row_error(moment, identifier, problem.code, problem.message, payload))

    # per-user lines ----------------------------------------------------------------------------
    def _take(self, segment: Segment, item: BrazeObject, fingerprint: int | None) -> None:
        """Place an object of the segment being filled: in it, folded into the user's object
        there, or waiting behind the user's object under way (ordered runs)."""
        user = item.user
        if user in self._parked:
            segment.carried_moments.append(item.ref)
            self._park_row(segment, item)
            return
        queue = self._waiting.get(user)
        if queue is not None:
            self._wait(queue, item, segment, fingerprint)
            return
        current = self._open.get(user)
        if current is not None:
            if self._join(current, item, None, fingerprint, self._superseded):
                segment.carried_moments.append(item.ref)
                return
            self._waiting[user] = [self._waiting_object(item, segment, fingerprint)]
            return
        if user in self._under_way:
            self._waiting[user] = [self._waiting_object(item, segment, fingerprint)]
            return
        segment.items.append(item)
        if self.changes is not None:
            segment.fingerprints.append(fingerprint)
        self._open[user] = item

    def _waiting_object(self, item: BrazeObject, segment: Segment, fingerprint: int | None) -> BrazeObject:
        start_fold(item, segment, fingerprint)
        segment.carried_moments.append(item.ref)
        segment.holds += 1
        return item

    def _wait(self, queue: list[BrazeObject], item: BrazeObject, segment: Segment, fingerprint: int | None) -> None:
        if self._join(queue[-1], item, segment, fingerprint, self._superseded):
            segment.carried_moments.append(item.ref)
            segment.holds += 1
        else:
            queue.append(self._waiting_object(item, segment, fingerprint))

    def _superseded(self, row: FoldRow) -> None:
        """A row a newer row of its user made moot: counted, never sent; its segment no longer waits for it."""
        self.state.superseded += 1
        if row.hold is not None:
            row.hold.holds -= 1

    def _free(self, user: str) -> None:
        """The user's object was answered (or not sent: unchanged): the next one may go."""
        self._under_way.discard(user)
        if user in self._waiting:
            self._ready.append(user)

    def _send_ready(self) -> None:
        """Send the objects whose user's turn has come, in carrier requests (not while stopping)."""
        if self._sending_ready or not self._ready:
            return
        self._sending_ready = True
        try:
            while self._ready and not self.state.should_stop():
                carrier = Segment(carrier=True)
                users: set[str] = set()  # a user is named in the ready line once per answer; one object each here
                while self._ready and len(carrier.items) < self.batch_limit:
                    user = self._ready.popleft()
                    queue = self._waiting.get(user)
                    if not queue or user in self._under_way or user in self._open or user in users:
                        continue
                    users.add(user)
                    item = queue.pop(0)
                    if not queue:
                        del self._waiting[user]
                    carrier.items.append(item)
                if carrier.items:
                    self._hand_on_carrier(carrier)
        finally:
            self._sending_ready = False

    # sending -------------------------------------------------------------------------------
    def _cut(self, segment: Segment, read: int) -> int:
        """Close a segment and hand it on; returns the rows read up to its end."""
        segment.close()
        self.state.read = read + segment.size
        if self.ordered:
            for item in segment.items:
                self._open.pop(item.user, None)
        self._filter(segment)
        self._hand_on(segment)
        return self.state.read

    def _filter(self, segment: Segment) -> None:
        """Send only changed attributes: each object's unchanged values out, an unchanged object not sent."""
        changes = self.changes
        if changes is None or not segment.items:
            return
        items = segment.items
        fingerprints = segment.fingerprints or [None] * len(items)
        newest = [
            item.fold.row_fingerprint if item.fold is not None else row for item, row in zip(items, fingerprints, strict=True)
        ]
        kept = []
        for item, verdict in zip(items, changes.filter(items, newest), strict=True):
            if verdict is not None:
                kept.append(verdict)
                continue
            rows = _rows_of(item)
            if rows is None:
                segment.unchanged += 1
            else:
                segment.unchanged += len(rows)
                for row in rows:
                    if row.hold is not None:
                        row.hold.holds -= 1
            if self.ordered:
                self._free(item.user)
        segment.items = kept

    def _hand_on(self, segment: Segment) -> None:
        state = self.state
        dispatcher = self.dispatcher
        if dispatcher is not None:
            # the bound on rows sent twice after a crash: wait while too many segments are open
            while self.frontier.open_segments >= self.max_open_segments and dispatcher.pending:
                dispatcher.drain(self._on_result, block=True, timeout=0.05)
                self._send_ready()
        self.frontier.add(segment)
        if segment.errors:
            self.runlog.add_row_errors(segment.errors)
            state.failed += len(segment.errors)
        state.unchanged += segment.unchanged
        if dispatcher is None or not segment.items:
            self._skip(segment)
            return
        state.set_phase("sending")
        if self.ordered:
            self._under_way.update(item.user for item in segment.items)
        dispatcher.submit(segment, segment.items, self._on_result)
        state.in_flight = dispatcher.pending
        self._send_ready()

    def _hand_on_carrier(self, carrier: Segment) -> None:
        """Send objects that waited for their user's turn (their rows' segments wait for the answer)."""
        self._filter(carrier)
        self.state.unchanged += carrier.unchanged
        if not carrier.items:
            self._moved()
            return
        dispatcher = self.dispatcher
        if dispatcher is None:
            self._skip(carrier)
            return
        self._under_way.update(item.user for item in carrier.items)
        dispatcher.submit(carrier, carrier.items, self._on_result)
        self.state.in_flight = dispatcher.pending

    def _skip(self, segment: Segment) -> None:
        """Nothing to send (or a dry run: what the objects would spend)."""
        state = self.state
        state.skipped += sum(carried_rows(item) for item in segment.items)
        if self.dispatcher is None:
            state.data_points += sum(data_points(item) for item in segment.items)
        for item in segment.items:
            self._release(item)
            if self.ordered:
                self._free(item.user)
        segment.answered = True
        self._moved()

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
        """Account for every row of a sent request, then mark it answered."""
        if outcome.rejected or outcome.transient:
            self._record_failures(outcome)
        elif outcome.delivered:
            self.exhausted_in_a_row = 0
        self._delivered(outcome.delivered)
        if self.changes is not None:
            self.changes.settled(outcome.delivered, segment.items)
        state = self.state
        for item in outcome.delivered:
            state.sent += carried_rows(item)
            self._release(item)
        if self.ordered:
            for item in segment.items:
                self._free(item.user)
        segment.answered = True
        segment.items = []
        self._moved()
        state.report()

    @staticmethod
    def _release(item: BrazeObject) -> None:
        """The rows an object carried are settled: their segments no longer wait for it."""
        rows = _rows_of(item)
        if rows is not None:
            for row in rows:
                if row.hold is not None:
                    row.hold.holds -= 1

    def _delivered(self, items: list[BrazeObject]) -> None:
        state = self.state
        if self.catalog is not None:  # no data points: Braze bills catalogs by storage
            for item in items:
                if item.array == CATALOG_ITEMS_ARRAY:
                    state.items_written += 1
                elif item.array == CATALOG_DELETES_ARRAY:
                    state.items_deleted += 1
            return
        state.data_points += sum(data_points(item) for item in items)
        if self.deleted_users is not None and items:
            self.deleted_users.forget_users([item.user or user_key(item.body) for item in items], self.same_workspace)

    def _errors_of(self, item: BrazeObject, code: str, reason: str) -> list[RowErrorRecord]:
        rows = _rows_of(item)
        if rows is None:
            return [item_error(self.state, item, code, reason)]
        return [_row_error(self.state, row, code, reason) for row in rows]

    def _record_failures(self, outcome: SendOutcome) -> None:
        """Row errors for the objects Braze rejected; the retry list for those that could not be sent."""
        state = self.state
        errors = []
        for item, reason in outcome.rejected:
            errors.extend(self._errors_of(item, rejection_code(reason), reason))
            self._release(item)
        retries = []
        for item, reason in outcome.transient:
            rows = self._errors_of(item, "transient", f"{reason}; queued for the next run")
            errors.extend(rows)
            newest = item.fold.rows[-1].moment if item.fold is not None else item.ref
            retries.append((to_text(newest), rows[-1].identifier, item.array, item.body, reason, 1))
            self._release(item)
        ids = self.runlog.add_retry_rows(state.name, retries)
        self.runlog.add_row_errors(errors)
        state.failed += len(errors)
        if self.ordered:
            for (item, reason), retry_id in zip(outcome.transient, ids, strict=True):
                self._park(item, reason, retry_id)
        if outcome.transient:
            self.exhausted_in_a_row += 1
            if self.exhausted_in_a_row >= EXHAUSTED_BATCHES_BEFORE_STOP:
                state.stop_reason = f"Braze could not be reached: {outcome.transient[0][1]}"
                state.stop_sending.set()
        elif outcome.delivered:
            self.exhausted_in_a_row = 0

    # parking -------------------------------------------------------------------------------------
    def _park(self, item: BrazeObject, reason: str, retry_id: int) -> None:
        """A user's object is on the retry list: so go the user's objects waiting behind it, and the
        user's later rows of this run (each a row error, "queued for the next run")."""
        user = item.user
        entry = BrazeObject(item.array, dict(item.body), item.ref, user)
        self._parked[user] = _Parked(entry, retry_id)
        for waiting in self._waiting.pop(user, []):
            rows = _rows_of(waiting) or []
            errors = [_row_error(self.state, row, "transient", self._parked_reason()) for row in rows]
            self.runlog.add_row_errors(errors)
            self.state.failed += len(errors)
            self._release(waiting)
            self._park_object(user, waiting)

    @staticmethod
    def _parked_reason() -> str:
        return "an earlier row of this user could not be delivered; queued for the next run behind it"

    def _park_row(self, segment: Segment, item: BrazeObject) -> None:
        """A row of a parked user, read now: it joins the user's entry on the retry list."""
        identifier, rest = split_identifier(item.body)
        segment.errors.append(self.state.row_error(item.ref, identifier, "transient", self._parked_reason(), rest))
        self._park_object(item.user, item)

    def _park_object(self, user: str, item: BrazeObject) -> None:
        parked = self._parked[user]
        newest = item.fold.rows[-1].moment if item.fold is not None else item.ref
        # its rows are already accounted as failed: folding them in supersedes nothing more
        if self._join(parked.entry, item, None, None, lambda _row: None):
            self.runlog.replace_retry_row(parked.retry_id, to_text(newest), parked.entry.body, parked.entry.array)
            return
        entry = BrazeObject(item.array, dict(item.body), item.ref, user)
        retry = (to_text(newest), user, item.array, entry.body, self._parked_reason(), 1)
        self._parked[user] = _Parked(entry, self.runlog.add_retry_rows(self.state.name, [retry])[0])

    # the retry list ------------------------------------------------------------------------------
    def send_retry_list(self, client: Sender, retry_rows: list[Any]) -> None:
        """Send the retry list (rows whose retries ran out in earlier runs) before any new row.

        Requests go one after the other, and never hold two entries of one user, so a user's
        entries arrive in the order they were made."""
        state, runlog, batch_limit = self.state, self.runlog, self.batch_limit
        send: Callable[[Sequence[BrazeObject]], SendOutcome] = (
            client.send_delete if state.integration.data_type == DataType.DELETES else client.send_track
        )
        if self.catalog is not None:
            send = functools.partial(client.send_catalog, self.catalog)

        chunks: list[list[Any]] = [[]]
        users_in_chunk: set[str] = set()
        for row in retry_rows:
            user = user_key(row.body)
            if len(chunks[-1]) >= batch_limit or user in users_in_chunk:
                chunks.append([])
                users_in_chunk = set()
            chunks[-1].append(row)
            users_in_chunk.add(user)
        for chunk in chunks:
            if state.cancel.is_set() or not chunk:
                return
            items = [BrazeObject(row.array_name, row.body, row, user_key(row.body)) for row in chunk]
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
                errors.append(item_error(state, item, rejection_code(reason), reason))
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
        """After a segment is done: move the watermark; save the run's counts now and then.

        With "send only changed attributes" the watermark is saved with what was delivered
        (:attr:`ChangeFilter.SAVE_SECONDS`): it never passes a delivery that is not remembered."""
        changes = self.changes
        if changes is None or self.dispatcher is None:
            self.frontier.advance()
        else:
            self.frontier.advance(save=False)
            if changes.save_due():
                changes.flush()
                self.frontier.save()
        now = time.monotonic()
        if now - self.last_checkpoint >= self.checkpoint_seconds:
            state = self.state
            # what a scrape of /metrics shows of a run under way, in any process
            self.runlog.update_run(
                state.run_id,
                rows_read=state.read,
                rows_sent=state.sent,
                rows_failed=state.failed,
                rows_skipped=state.skipped,
                rows_unchanged=state.unchanged,
                rows_superseded=state.superseded,
                data_points=state.data_points,
                braze_answers=state.answers_now(),
            )
            self.last_checkpoint = now
