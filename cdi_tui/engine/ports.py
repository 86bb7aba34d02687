"""The engine's seams: what a sync reads from and what it sends to, as small protocols.

:class:`~cdi_tui.engine.sync.SyncEngine` receives factories for both sides and builds
nothing of its own: in production (the defaults, which :class:`~cdi_tui.workspace.Workspace`
uses) they are :class:`~cdi_tui.warehouse.source.RedshiftSource` (redshift-connector) and
:class:`~cdi_tui.braze.client.BrazeClient` (httpx); the unit tests hand in fakes that hold
rows in memory and answer from a script, with no socket and no thread.

- :class:`RowSource`: the source table of one run (connect, check, count, stream, close).
- :class:`Sender`: sends one request's objects and says what became of each (the retry list
  uses it directly).
- :class:`BrazeSender`: a :class:`Sender` that the dispatcher can also drive from an event
  loop, with the round trips it measured (Little's law needs them).
- :class:`RequestDispatcher`: what the pump hands its segments to (one result per job, in
  any order); :class:`~cdi_tui.engine.senders.Dispatcher` is the one the engine uses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from cdi_tui.braze.client import BrazeError, Catalog, RateLimiter, RetryPolicy, SendCancelled, SendOutcome
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.enums import DataType
from cdi_tui.tables import TableName
from cdi_tui.warehouse.source import ConnectionSettings, TableShape

Job = TypeVar("Job")
# what a send ends in: each object's fate, a failure that ends the run, or "stopped first"
Result = SendOutcome | BrazeError | SendCancelled
OnResult = Callable[[Job, Result], None]


class RowSource(Protocol):
    """The table one run reads, over one connection.

    Rows are lists in :attr:`TableShape.select_columns` order, UPDATED_AT first. Every
    method but :meth:`connect` and :meth:`close` may raise
    :class:`~cdi_tui.warehouse.errors.WarehouseError` (classified: the run records it).
    """

    def connect(self) -> RowSource:
        """Open the connection; returns the source itself."""
        ...

    def check_table(self, data_type: DataType) -> TableShape:
        """The table's columns checked against the data type (raises when they do not fit)."""
        ...

    def count_rows(
        self, shape: TableShape, lower: datetime | None = None, inclusive: bool = False, upper: datetime | None = None
    ) -> int:
        """Rows with UPDATED_AT after (or at, when ``inclusive``) ``lower`` and not after ``upper``."""
        ...

    def count_at(self, shape: TableShape, moment: datetime) -> int:
        """Rows whose UPDATED_AT equals ``moment`` (Braze's boundary rule)."""
        ...

    def newest_updated_at(self, shape: TableShape, not_after: datetime | None = None) -> datetime | None:
        """The newest UPDATED_AT not later than ``not_after`` (a run's upper bound)."""
        ...

    def stream_rows(
        self,
        shape: TableShape,
        lower: datetime | None = None,
        inclusive: bool = False,
        upper: datetime | None = None,
        fetch_rows: int = 10_000,
        cancelled: threading.Event | None = None,
        max_rows_per_query: int | None = None,
    ) -> Iterator[list[list[Any]]]:
        """The rows of that range in UPDATED_AT order (ties in a stable order), in blocks of
        ``fetch_rows``; stops early when ``cancelled`` is set. With ``max_rows_per_query`` the
        range is read in chunks of at most that many rows, an empty block ending each chunk
        but the last (the pump settles a chunk whole before the next)."""
        ...

    def null_updated_at_rows(self, shape: TableShape, limit: int = 1000) -> list[list[Any]]:
        """Rows whose UPDATED_AT is NULL (never synced: each is reported once)."""
        ...

    def out_of_range_rows(self, shape: TableShape, limit: int = 1000) -> list[list[Any]]:
        """Rows stamped after year 9999, their UPDATED_AT as an ``OutOfRangeTime`` (reported once)."""
        ...

    def close(self) -> None:
        """Close the connection (harmless when it is not open)."""
        ...


RowSourceFactory = Callable[[ConnectionSettings, TableName], RowSource]
"""Makes the source of one run from its connection settings and table (production: ``RedshiftSource``)."""


class Sender(Protocol):
    """Sends one request's worth of objects to Braze, blocking, and says what became of each.

    Raises:
        BrazeError: a failure that ends the run (a rejected key, a wrong endpoint).
        SendCancelled: the run is stopping and the request did not go out.
    """

    def send_track(self, items: Sequence[BrazeObject]) -> SendOutcome:
        """Objects to ``/users/track``: each delivered, rejected (with Braze's reason) or transient."""
        ...

    def send_delete(self, items: Sequence[BrazeObject]) -> SendOutcome:
        """Identifiers to ``/users/delete`` (one request a kind of identifier)."""
        ...

    def send_catalog(self, catalog: str, items: Sequence[BrazeObject]) -> SendOutcome:
        """Catalog items to write (``PUT``) or delete (``DELETE /catalogs/{catalog}/items``)."""
        ...

    def list_catalogs(self) -> dict[str, Catalog]:
        """The workspace's catalogs and their fields (``GET /catalogs``).

        Raises:
            BrazeError: refused, or not a list; TransientFailure: Braze could not be reached.
        """
        ...


class BrazeSender(Sender, Protocol):
    """A :class:`Sender` that an event loop can drive too, for many requests in flight."""

    @property
    def round_trip_seconds(self) -> float:
        """A moving average of one request's round trip (waits on the rate limit left out)."""
        ...

    @property
    def last_round_trip_seconds(self) -> float:
        """The round trip of the last request answered."""
        ...

    async def send_track_async(self, items: Sequence[BrazeObject]) -> SendOutcome:
        """:meth:`Sender.send_track` in the running event loop."""
        ...

    async def send_delete_async(self, items: Sequence[BrazeObject]) -> SendOutcome:
        """:meth:`Sender.send_delete` in the running event loop."""
        ...

    async def send_catalog_async(self, catalog: str, items: Sequence[BrazeObject]) -> SendOutcome:
        """:meth:`Sender.send_catalog` in the running event loop."""
        ...

    async def aclose(self) -> None:
        """Close what the ``*_async`` methods opened, in the loop that used them."""
        ...


class BrazeClientFactory(Protocol):
    """Opens the sender of one run (production: ``BrazeClient``, used as ``with factory(...) as sender``).

    Args:
        base_url: the workspace's REST endpoint.
        api_key: its REST API key.
        limiter: the workspace's rate limiter, shared by every sync of the process.
        bulk: send ``X-Braze-Bulk: true`` (a first run or a full resync).
        retry: how often and how long to retry 429, 5xx and dropped connections.
        timeout: seconds a request may take.
        max_in_flight: the most requests under way at once.
        stop: set when the run stops: waits on the limiter and backoffs end at once.
        on_answer: called with the status code of each answer Braze gives (None: none came).
    """

    def __call__(
        self,
        base_url: str,
        api_key: str,
        *,
        limiter: RateLimiter,
        bulk: bool,
        retry: RetryPolicy,
        timeout: float,
        max_in_flight: int,
        stop: threading.Event,
        on_answer: Callable[[int | None], None] | None = None,
    ) -> AbstractContextManager[BrazeSender]: ...


class RequestDispatcher(Protocol[Job]):
    """Takes jobs (one request's objects each) and hands each back once, with its result.

    Results may come back in any order, but only through ``on_result`` calls made from
    :meth:`submit`, :meth:`drain` or :meth:`finish`, in the caller's thread.
    """

    @property
    def pending(self) -> int:
        """Jobs submitted whose result was not handed back yet."""
        ...

    def submit(self, job: Job, items: Sequence[BrazeObject], on_result: OnResult[Job]) -> None:
        """Send one job's objects (finished results may be handed to ``on_result`` meanwhile)."""
        ...

    def drain(self, on_result: OnResult[Job], block: bool = False, timeout: float | None = None) -> None:
        """Hand finished results to ``on_result``; with ``block``, wait up to ``timeout`` for the first."""
        ...

    def finish(self, on_result: OnResult[Job]) -> None:
        """Wait for every job under way, hand its result on, and let go of what sending held."""
        ...
