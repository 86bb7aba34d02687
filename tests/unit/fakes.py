"""Fakes at the engine's seams (:mod:`cdi_tui.engine.ports`), and small builders for unit tests.

- :class:`MemorySource`: a table held in a list, read with the range semantics of the SQL the
  real source sends (``>``/``>=`` lower, ``<=`` upper, UPDATED_AT order, ties in insert order).
- :class:`ScriptedDispatcher`: keeps up to ``in_flight`` jobs under way and answers them in the
  order it is told (newest first by default, so answers overtake each other); it applies what
  was delivered to the Braze stand-in's profile model in that order, and notes every time a
  user had two objects under way.
- :class:`ScriptedClient`: a Braze sender whose answers come from a function of the objects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from cdi_tui.braze.client import BrazeError, Catalog, RateLimiter, RetryPolicy, SendCancelled, SendOutcome
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.braze.rules import CATALOG_ARRAYS, CATALOG_DELETES_ARRAY
from cdi_tui.checks import integration_fingerprint
from cdi_tui.config import BrazeSettings, Config, Credential, Integration
from cdi_tui.engine.frontier import Frontier, Segment
from cdi_tui.engine.ports import OnResult, Result
from cdi_tui.engine.pump import Pump
from cdi_tui.engine.run_state import RunState
from cdi_tui.engine.sync import SyncEngine
from cdi_tui.engine.transform import RowTransformer
from cdi_tui.enums import DataType, IntegrationState, Trigger
from cdi_tui.runlog import RunLog
from cdi_tui.secret_store import MemoryCredentials, braze_key_account, credential_account
from cdi_tui.standins.braze_profiles import ProfileStore
from cdi_tui.tables import TableName
from cdi_tui.warehouse.source import ConnectionSettings, TableShape, check_table_columns

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ATTRIBUTE_COLUMNS = ["updated_at", "external_id", "payload"]
CATALOG_COLUMNS = ["updated_at", "id", "deleted", "payload"]


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def row(seconds: float, user: str, payload: dict[str, Any] | None) -> list[Any]:
    """An attributes row: UPDATED_AT, EXTERNAL_ID, PAYLOAD (as JSON text)."""
    return [at(seconds), user, None if payload is None else orjson.dumps(payload).decode()]


def item_row(seconds: float, item_id: Any, payload: dict[str, Any] | None, deleted: Any = None) -> list[Any]:
    """A catalogs row: UPDATED_AT, ID, DELETED, PAYLOAD (as JSON text)."""
    return [at(seconds), item_id, deleted, None if payload is None else orjson.dumps(payload).decode()]


def integration(name: str = "attrs", data_type: DataType = DataType.ATTRIBUTES, **settings: Any) -> Integration:
    return Integration(
        name=name,
        credential="wh",
        table=f"ingestion.{name}",
        data_type=data_type,
        contact_emails=("ops@example.com",),
        state=IntegrationState.ACTIVE,
        **settings,
    )


def delivered(items: Sequence[BrazeObject]) -> SendOutcome:
    return SendOutcome(delivered=list(items), requests=1)


Answer = Callable[[Sequence[BrazeObject]], "Result"]


# the warehouse side ---------------------------------------------------------------------------------


class MemorySource:
    """A :class:`~cdi_tui.engine.ports.RowSource` over rows in memory (one list per row)."""

    def __init__(
        self, rows: list[list[Any]], columns: list[str] | None = None, data_type: DataType = DataType.ATTRIBUTES
    ) -> None:
        self.rows = rows
        self.columns = columns or ATTRIBUTE_COLUMNS
        self.data_type = data_type
        self.connected = False
        self.closed = False
        self.streamed: list[tuple[datetime | None, bool, datetime | None]] = []  # the ranges read
        self.max_rows_per_query: int | None = None  # as the last read was asked
        self.before_stream: Callable[[], None] | None = None  # runs when the read starts (a row written meanwhile)

    def _timed(self) -> list[list[Any]]:
        return [row for row in self.rows if isinstance(row[0], datetime)]

    @staticmethod
    def _in_range(moment: datetime, lower: datetime | None, inclusive: bool, upper: datetime | None) -> bool:
        if lower is not None and (moment < lower or (moment == lower and not inclusive)):
            return False
        return upper is None or moment <= upper

    def connect(self) -> MemorySource:
        self.connected = True
        return self

    def check_table(self, data_type: DataType) -> TableShape:
        return check_table_columns(self.columns, data_type)

    def count_rows(
        self, shape: TableShape, lower: datetime | None = None, inclusive: bool = False, upper: datetime | None = None
    ) -> int:
        return sum(1 for row in self._timed() if self._in_range(row[0], lower, inclusive, upper))

    def count_at(self, shape: TableShape, moment: datetime) -> int:
        return sum(1 for row in self._timed() if row[0] == moment)

    def newest_updated_at(self, shape: TableShape, not_after: datetime | None = None) -> datetime | None:
        moments = [row[0] for row in self._timed() if not_after is None or row[0] <= not_after]
        return max(moments, default=None)

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
        if self.before_stream is not None:
            self.before_stream()
        self.streamed.append((lower, inclusive, upper))
        self.max_rows_per_query = max_rows_per_query
        chosen = [list(row) for row in self._timed() if self._in_range(row[0], lower, inclusive, upper)]
        chosen.sort(key=lambda row: row[0])  # stable: ties keep their insert order
        chunk = max_rows_per_query or len(chosen) or 1
        for chunk_start in range(0, len(chosen), chunk):
            if chunk_start:
                yield []  # the end of a chunk
            rows = chosen[chunk_start : chunk_start + chunk]
            for start in range(0, len(rows), fetch_rows):
                if cancelled is not None and cancelled.is_set():
                    return
                yield rows[start : start + fetch_rows]

    def null_updated_at_rows(self, shape: TableShape, limit: int = 1000) -> list[list[Any]]:
        return [list(row) for row in self.rows if row[0] is None][:limit]

    def out_of_range_rows(self, shape: TableShape, limit: int = 1000) -> list[list[Any]]:
        return []

    def close(self) -> None:
        self.closed = True


# the Braze side --------------------------------------------------------------------------------------


@dataclass
class ScriptedClient:
    """A :class:`~cdi_tui.engine.ports.BrazeSender` answering from ``answer`` (every object delivered by default).

    ``answer`` may return a :class:`SendOutcome` or raise a :class:`BrazeError`. What was sent is
    kept in ``requests`` (one list of objects a request, in order)."""

    answer: Answer = delivered
    requests: list[list[BrazeObject]] = field(default_factory=list)
    opened_with: dict[str, Any] = field(default_factory=dict)
    catalogs: dict[str, Catalog] = field(default_factory=dict)  # what GET /catalogs lists
    catalog_requests: list[str] = field(default_factory=list)  # the catalog each catalog request went to
    round_trip_seconds: float = 0.0
    last_round_trip_seconds: float = 0.0

    def _send(self, items: Sequence[BrazeObject]) -> SendOutcome:
        self.requests.append(list(items))
        result = self.answer(items)
        if isinstance(result, (BrazeError, SendCancelled)):
            raise result
        return result

    def send_track(self, items: Sequence[BrazeObject]) -> SendOutcome:
        return self._send(items)

    def send_delete(self, items: Sequence[BrazeObject]) -> SendOutcome:
        return self._send(items)

    def send_catalog(self, catalog: str, items: Sequence[BrazeObject]) -> SendOutcome:
        self.catalog_requests.append(catalog)
        return self._send(items)

    def list_catalogs(self) -> dict[str, Catalog]:
        return dict(self.catalogs)

    async def send_catalog_async(self, catalog: str, items: Sequence[BrazeObject]) -> SendOutcome:
        raise AssertionError("a fast Braze is sent to inline, never from an event loop")

    async def send_track_async(self, items: Sequence[BrazeObject]) -> SendOutcome:
        raise AssertionError("a fast Braze is sent to inline, never from an event loop")

    async def send_delete_async(self, items: Sequence[BrazeObject]) -> SendOutcome:
        raise AssertionError("a fast Braze is sent to inline, never from an event loop")

    async def aclose(self) -> None:
        return None

    # the factory: SyncEngine(braze_clients=client.open)
    def open(
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
    ) -> ScriptedClient:
        self.opened_with = {
            "base_url": base_url, "api_key": api_key, "bulk": bulk, "max_in_flight": max_in_flight, "limiter": limiter,
        }  # fmt: skip
        return self

    def __enter__(self) -> ScriptedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def sent_users(self) -> list[str]:
        return [item.user for request in self.requests for item in request]


class ScriptedDispatcher:
    """A :class:`~cdi_tui.engine.ports.RequestDispatcher` with answers that overtake each other.

    Up to ``in_flight`` jobs are under way; one more submitted makes it answer one first, the one
    ``pick`` chooses (the newest, by default). Delivered objects are applied to ``braze`` (the
    stand-in's model of Braze's profiles) in the order they are answered, as Braze would."""

    def __init__(
        self, answer: Answer = delivered, in_flight: int = 3, pick: Callable[[int], int] = lambda count: count - 1
    ) -> None:
        self.answer = answer
        self.in_flight = in_flight
        self.pick = pick
        self.under_way: list[tuple[Segment, list[BrazeObject]]] = []
        self.sent: list[list[BrazeObject]] = []
        self.overlaps: list[str] = []  # users that had a second object sent while one was under way
        self.braze = ProfileStore()
        self.items: dict[str, dict[str, Any]] = {}  # what a catalog holds (catalog items delivered, in answer order)

    @property
    def pending(self) -> int:
        return len(self.under_way)

    def submit(self, job: Segment, items: Sequence[BrazeObject], on_result: OnResult[Segment]) -> None:
        users_under_way = {item.user for _job, sent in self.under_way for item in sent}
        self.overlaps.extend(item.user for item in items if item.user in users_under_way)
        self.under_way.append((job, list(items)))
        self.sent.append(list(items))
        while len(self.under_way) > self.in_flight:
            self._answer_one(on_result)

    def _answer_one(self, on_result: OnResult[Segment]) -> None:
        job, items = self.under_way.pop(self.pick(len(self.under_way)))
        try:
            result = self.answer(items)
        except (BrazeError, SendCancelled) as error:
            result = error
        if isinstance(result, SendOutcome):
            users = [item for item in result.delivered if item.array not in CATALOG_ARRAYS]
            self.braze.apply_track([(item.array, item.body) for item in users], drop_nested=False)
            for item in result.delivered:
                if item.array == CATALOG_DELETES_ARRAY:
                    self.items.pop(item.body["id"], None)
                elif item.array in CATALOG_ARRAYS:
                    self.items[item.body["id"]] = dict(item.body)
        on_result(job, result)

    def drain(self, on_result: OnResult[Segment], block: bool = False, timeout: float | None = None) -> None:
        if block and self.under_way:
            self._answer_one(on_result)

    def finish(self, on_result: OnResult[Segment]) -> None:
        while self.under_way:
            self._answer_one(on_result)

    def held(self, external_id: str) -> dict[str, Any]:
        profile = self.braze.find(external_id)
        return profile.attributes if profile is not None else {}


# builders ----------------------------------------------------------------------------------------------


class PumpWorld:
    """A run of an attributes integration with a real run log (SQLite in a temp folder) and a fake dispatcher."""

    def __init__(
        self,
        folder: Path,
        dispatcher: ScriptedDispatcher | None,
        *,
        batch_limit: int = 75,
        max_open_segments: int = 16,
        ordered: bool = True,
        the_integration: Integration | None = None,
        changes: Any = None,
    ) -> None:
        self.integration = the_integration or integration()
        catalogs = self.integration.data_type == DataType.CATALOGS
        self.runlog = RunLog(folder / "runs.sqlite3")
        run_id = self.runlog.start_run(self.integration.name, Trigger.MANUAL, False, False, None, 1)
        self.state = RunState(run_id, self.integration, False, 500_000_000, threading.Event(), None)
        self.frontier = Frontier(self.runlog, self.integration.name, save=True)
        shape = check_table_columns(CATALOG_COLUMNS if catalogs else ATTRIBUTE_COLUMNS, self.integration.data_type)
        self.dispatcher = dispatcher
        self.pump = Pump(
            self.state,
            self.runlog,
            self.frontier,
            RowTransformer(shape.select_columns, self.integration.data_type),
            len(shape.select_columns) - 1,
            dispatcher,
            batch_limit,
            max_open_segments=max_open_segments,
            checkpoint_seconds=3600,
            ordered=ordered,
            changes=changes,
            catalog=self.integration.catalog_name if catalogs else None,
        )

    def run(self, rows: list[list[Any]], block: int = 10) -> None:
        self.pump.run(iter([rows[start : start + block] for start in range(0, len(rows), block)]))

    def codes(self) -> list[str]:
        return [error.code for error in self.runlog.row_errors(self.state.run_id)]

    def close(self) -> None:
        self.runlog.close()


class EngineWorld:
    """A SyncEngine over a :class:`MemorySource` and a :class:`ScriptedClient`: config, secrets, run log in a temp folder."""

    def __init__(
        self, folder: Path, source: MemorySource, client: ScriptedClient, the_integration: Integration | None = None
    ) -> None:
        self.integration = the_integration or integration()
        credential = Credential(name="wh", host="warehouse.example.com", database="dev", user="braze_user")
        self.config = Config(
            workspaces={"default": BrazeSettings(endpoint="US-03")},
            credentials={"wh": credential},
            integrations={self.integration.name: self.integration},
        )
        self.secrets = MemoryCredentials()
        self.secrets.set(credential_account("wh"), "warehouse-password")
        self.secrets.set(braze_key_account(), "braze-key")
        self.runlog = RunLog(folder / "runs.sqlite3")
        self.runlog.record_test(self.integration.name, integration_fingerprint(credential, self.integration))
        self.source = source
        self.client = client
        self.made_for: list[tuple[ConnectionSettings, TableName]] = []
        self.folder = folder

    def make_source(self, settings: ConnectionSettings, table: TableName) -> MemorySource:
        self.made_for.append((settings, table))
        return self.source

    def engine(self, now: datetime | None = None) -> SyncEngine:
        moment = now or at(10_000)
        return SyncEngine(
            self.config,
            self.secrets,
            self.runlog,
            self.folder / "locks",
            clock=lambda: moment,
            row_sources=self.make_source,
            braze_clients=self.client.open,
        )

    def close(self) -> None:
        self.runlog.close()
