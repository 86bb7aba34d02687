"""A local HTTP server that behaves like Braze's ``/users/track``, ``/users/delete`` and catalogs.

Built on aiohttp's server, it runs in its own thread and event loop on 127.0.0.1 and
follows the rules in braze-facts.md: bearer authentication, at most 75 objects a request
in all arrays together (or 50 on the MAU plan), per-object validation with ``errors[]``
items ``{type, input_array, index}``, 400 when nothing is valid, ``X-RateLimit-*`` headers
and 429 past a configurable limit, deletes by email or phone only in the object form with a
prioritization.

It also holds what Braze would hold (:mod:`cdi_tui.standins.braze_profiles`): each user's
profile, changed in the order requests are *processed*, which with latency and jitter is
not the order they were sent (answers overtake each other, as across the internet); the
silent drop of a request's nested updates when one is invalid; and a data-point counter by
Braze's rules. ``GET /_standin/users/{external_id}`` returns a profile, ``GET
/_standin/users`` all of them.

Faults can be injected: a share of 5xx answers, dropped connections (before the request is
processed), lost answers (processed, then the connection dropped), latency and jitter.
Every accepted object is recorded so tests can assert on what "Braze" received; ``GET
/_standin/received`` returns the same record as JSON for a stand-in running in another
process (``POST /_standin/reset`` forgets it, the profiles and the counts).

Catalogs (:mod:`cdi_tui.standins.braze_catalogs`): catalogs defined by the tests and the demo
(:meth:`BrazeStandIn.define_catalog`), ``GET /catalogs``, ``PUT``/``DELETE
/catalogs/{name}/items`` answering ``202`` (or a whole-request ``400`` with Braze's error ids),
with a rate limit of their own (16,000 requests a minute by default) apart from
``/users/track``'s; what each catalog holds is kept (:meth:`BrazeStandIn.catalog_items`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from cdi_tui.braze.rules import (
    IDENTIFIER_KEYS,
    ISO_4217,
    MAX_DELETE_IDENTIFIERS,
    MAX_OBJECTS_COMBINED_MAU,
    MAX_OBJECTS_PER_ARRAY,
    NOTHING_VALID,
)
from cdi_tui.engine.depth import value_too_deep
from cdi_tui.standins.braze_catalogs import CatalogStore, StandInCatalog
from cdi_tui.standins.braze_profiles import Profile, ProfileStore, delete_entry_problem, request_drops_nested
from cdi_tui.standins.loop_thread import LoopThread


@dataclass
class FaultPlan:
    """What the stand-in does wrong, on purpose.

    Attributes:
        server_error_share: share (0..1) of requests answered with a 5xx.
        drop_share: share (0..1) of requests whose connection is closed with no answer,
            before they are processed.
        latency_seconds: delay added before every request is processed and answered.
        jitter_seconds: a further delay, uniform from 0 to this, drawn for each request: the
            requests under way are processed, and answered, in no predictable order.
        lose_answer_share: share (0..1) of requests processed (the users changed) whose
            answer is then lost (the connection dropped), as on a network that fails late.
        lose_answer_next: the next N processed requests lose their answer.
        fail_next: the next N requests get a 500, whatever the shares say.
        drop_next: the next N requests are dropped.
        seed: random seed, so a test sees the same faults every time.
        reject_external_ids: objects with these external_ids get an ``errors[]`` item
            (partial success), as Braze does for objects it refuses.
        poison_external_ids: a request holding one of these external_ids is refused whole
            with a 400 that names no object (the client must split to find it).
    """

    server_error_share: float = 0.0
    drop_share: float = 0.0
    latency_seconds: float = 0.0
    fail_next: int = 0
    drop_next: int = 0
    jitter_seconds: float = 0.0
    lose_answer_share: float = 0.0
    lose_answer_next: int = 0
    seed: int = 7
    reject_external_ids: frozenset[str] = frozenset()
    poison_external_ids: frozenset[str] = frozenset()


@dataclass
class ReceivedObject:
    endpoint: str  # "attributes" | "events" | "purchases" | "deletes"
    body: dict[str, Any]
    api_key: str
    bulk: bool


@dataclass
class StandInStats:
    requests: int = 0
    accepted_requests: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    dropped: int = 0
    answers_lost: int = 0
    # attributes requests that came while another request about one of their users was being
    # processed: Braze would apply the two in either order
    user_overlaps: int = 0
    unauthorized: int = 0
    bad_requests: int = 0
    catalog_requests: int = 0  # requests to the catalog item endpoints
    # catalog requests that came while another request about one of their items was being processed
    item_overlaps: int = 0
    in_flight: int = 0  # requests being answered now
    peak_in_flight: int = 0  # the most answered at once since the last reset
    statuses: list[int] = field(default_factory=list)


class _FixedWindowLimiter:
    """Braze's shape: N requests per window, reset at the window's end (epoch seconds)."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._window_start = time.time()
        self._used = 0

    def take(self) -> tuple[bool, int, float]:
        """Count one request. Returns (allowed, remaining, reset epoch seconds)."""
        now = time.time()
        if now - self._window_start >= self.window_seconds:
            elapsed_windows = math.floor((now - self._window_start) / self.window_seconds)
            self._window_start += elapsed_windows * self.window_seconds
            self._used = 0
        reset_at = self._window_start + self.window_seconds
        if self._used >= self.limit:
            return False, 0, reset_at
        self._used += 1
        return True, self.limit - self._used, reset_at


_IDENTIFIERS = frozenset(IDENTIFIER_KEYS)
_NOT_ATTRIBUTES = _IDENTIFIERS | {"_update_existing_only"}


def _validate_identifier(obj: dict[str, Any]) -> str | None:
    present = [key for key in obj.keys() & _IDENTIFIERS if obj[key] not in (None, "")]
    if not present:
        return "missing_identifier"
    if len(present) > 1:
        return "multiple_identifiers"
    alias = obj.get("user_alias")
    if alias is not None and (not isinstance(alias, dict) or not alias.get("alias_name") or not alias.get("alias_label")):
        return "invalid_user_alias"
    return None


def _validate_properties(properties: Any) -> str | None:
    if properties is None:
        return None
    if not isinstance(properties, dict):
        return "invalid_properties"
    for key, value in properties.items():
        if not key or len(key) > 255 or key.startswith("$"):
            return "invalid_property_name"
        if isinstance(value, str) and len(value) > 255:
            return "string_too_long"
    return None


def validate_object(array_name: str, obj: Any) -> str | None:
    """Return the Braze error type for an invalid object, or None when it is valid."""
    if not isinstance(obj, dict):
        return "invalid_object"
    problem = _validate_identifier(obj)
    if problem:
        return problem
    if array_name == "attributes":
        for key, value in obj.items():
            if key in _NOT_ATTRIBUTES:
                continue
            if not key or key[0] == "$":
                return "invalid_attribute_name"
            if value.__class__ is str and len(value) > 255:
                return "string_too_long"
        return None
    if not isinstance(obj.get("time"), str) or not obj["time"]:
        return "missing_time"
    if array_name == "events":
        name = obj.get("name")
        if not isinstance(name, str) or not name:
            return "missing_name"
        if len(name) > 255:
            return "string_too_long"
    elif array_name == "purchases":
        product_id = obj.get("product_id")
        if not isinstance(product_id, str) or not product_id:
            return "missing_product_id"
        if len(product_id) > 255:
            return "string_too_long"
        currency = obj.get("currency")
        if not isinstance(currency, str) or currency not in ISO_4217:
            return "invalid_currency"
        price = obj.get("price")
        if isinstance(price, bool) or not isinstance(price, (int, float)):
            return "invalid_price"
        quantity = obj.get("quantity")
        if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 100):
            return "invalid_quantity"
    return _validate_properties(obj.get("properties"))


# A body nested deeper than this is refused as bad data (400) before anything walks or copies it
# (the profiles' deep copies would stop with RecursionError): far above what cdi-tui sends (a
# payload of at most 64 levels, inside a request's object and array).
MAX_BODY_DEPTH = 100


class BrazeStandIn(LoopThread):
    """The Braze REST stand-in. ``start()`` binds 127.0.0.1 on a free port."""

    thread_name = "braze-standin"

    def __init__(
        self,
        api_keys: tuple[str, ...] = ("demo-key",),
        *,
        rate_limit: int = 3000,
        rate_window_seconds: float = 3.0,
        catalog_rate_limit: int = 16_000,
        catalog_rate_window_seconds: float = 60.0,
        forbidden_keys: tuple[str, ...] = (),
        combined_limit: bool = False,
        faults: FaultPlan | None = None,
        port: int = 0,
        record_objects: bool = True,
    ) -> None:
        super().__init__()
        self.record_objects = record_objects
        self.accepted_count = 0
        self.api_keys = set(api_keys)
        self.forbidden_keys = set(forbidden_keys)
        self.combined_limit = combined_limit
        self.faults = faults or FaultPlan()
        self.rate_limit = rate_limit
        self.rate_window_seconds = rate_window_seconds
        self.catalog_rate_limit = catalog_rate_limit
        self.catalog_rate_window_seconds = catalog_rate_window_seconds
        self.catalogs = CatalogStore()
        self._items_under_way: dict[tuple[str, str], int] = {}
        self.received: list[ReceivedObject] = []
        self.users = ProfileStore()  # what Braze holds; kept while objects are recorded
        self._users_under_way: dict[str, int] = {}
        self.stats = StandInStats()
        self._limiters: dict[tuple[str, str], _FixedWindowLimiter] = {}  # (budget, key)
        self._random = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._requested_port = port
        self.port = 0
        self._runner: web.AppRunner | None = None

    # public --------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BrazeStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_faults(self, faults: FaultPlan) -> None:
        with self._lock:
            self.faults = faults
            self._random = random.Random(faults.seed)

    def objects(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Bodies of the accepted objects, optionally only of one array."""
        with self._lock:
            return [item.body for item in self.received if endpoint is None or item.endpoint == endpoint]

    def profile(self, external_id: str) -> dict[str, Any] | None:
        """What Braze holds of the user with this external id (None: no such user)."""
        with self._lock:
            found = self.users.find(external_id)
            return None if found is None else found.as_json()

    def define_catalog(self, name: str, fields: dict[str, str], description: str = "") -> StandInCatalog:
        """A catalog made in Braze (its fields by name and type: string, number, boolean, time, ...)."""
        with self._lock:
            return self.catalogs.define(name, fields, description)

    def catalog_items(self, name: str) -> dict[str, dict[str, Any]]:
        """What catalog ``name`` holds now: item id -> the item's fields (a copy)."""
        with self._lock:
            catalog = self.catalogs.catalogs.get(name)
            return {} if catalog is None else {key: dict(value) for key, value in catalog.items.items()}

    def profiles(self) -> list[dict[str, Any]]:
        with self._lock:
            return [profile.as_json() for profile in self.users.profiles.values()]

    def add_profile(self, **identity: Any) -> Profile:
        """A user Braze has from elsewhere (the SDK, another import): ``external_id``, ``email``, ``phone``, ..."""
        with self._lock:
            return self.users.add(**identity)

    @property
    def data_points(self) -> int:
        """Data points spent so far, counted by Braze's rules as the changes were applied."""
        with self._lock:
            return self.users.data_points

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.users = ProfileStore()
            self.stats = StandInStats()
            self._limiters.clear()
            for catalog in self.catalogs.catalogs.values():
                catalog.items.clear()

    # server --------------------------------------------------------------------
    async def _serve(self) -> None:
        # a client that hangs up mid-request (killed on purpose by a test) is not news here
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._count_in_flight])
        app.router.add_post("/users/track", self._track)
        app.router.add_post("/users/delete", self._delete)
        app.router.add_get("/catalogs", self._list_catalogs)
        app.router.add_put("/catalogs/{name}/items", self._put_items)
        app.router.add_delete("/catalogs/{name}/items", self._delete_items)
        app.router.add_get("/_standin/received", self._dump)
        app.router.add_post("/_standin/reset", self._reset)
        app.router.add_get("/_standin/users", self._users)
        app.router.add_get("/_standin/users/{external_id}", self._user)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._requested_port)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp keeps the bound sockets there only
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"message": "reset"})

    async def _dump(self, request: web.Request) -> web.Response:
        with self._lock:
            payload = {
                "received": [{"endpoint": item.endpoint, "body": item.body, "bulk": item.bulk} for item in self.received],
                "stats": {**self.stats.__dict__, "statuses": None},
                "accepted_count": self.accepted_count,
                "data_points": self.users.data_points,
                "nested_requests_dropped": self.users.nested_requests_dropped,
                "catalogs": {name: catalog.items for name, catalog in self.catalogs.catalogs.items()},
            }
        return web.json_response(payload)

    async def _users(self, request: web.Request) -> web.Response:
        return web.json_response({"users": self.profiles()})

    async def _user(self, request: web.Request) -> web.Response:
        found = self.profile(request.match_info["external_id"])
        if found is None:
            return web.json_response({"message": "no such user"}, status=404)
        return web.json_response(found)

    @web.middleware
    async def _count_in_flight(self, request: web.Request, handler: Any) -> web.StreamResponse:
        stats = self.stats
        with self._lock:
            stats.in_flight += 1
            stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        try:
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            with self._lock:
                stats.in_flight -= 1

    async def _gate(self, request: web.Request, budget: str = "users") -> tuple[web.StreamResponse | None, str, dict[str, str]]:
        """Authentication, rate limit (of ``budget``: ``users`` or ``catalogs``, each its own) and
        faults. Returns (early answer or None, key, headers)."""
        with self._lock:
            self.stats.requests += 1
            faults = self.faults
        delay = faults.latency_seconds
        if faults.jitter_seconds:
            with self._lock:
                delay += self._random.uniform(0, faults.jitter_seconds)
        if delay:
            # a distant Braze: the request is processed, and answered, this long after it came
            # (the wait holds no CPU); with jitter, requests under way overtake each other
            await asyncio.sleep(delay)
        authorization = request.headers.get("Authorization", "")
        api_key = authorization[7:] if authorization.startswith("Bearer ") else ""
        if api_key in self.forbidden_keys:
            return self._answer(403, {"message": "Access denied: this key lacks the users.track permission."}), "", {}
        if api_key not in self.api_keys:
            with self._lock:
                self.stats.unauthorized += 1
            return self._answer(401, {"message": "Invalid API key"}), "", {}
        limit, window = self.rate_limit, self.rate_window_seconds
        if budget == "catalogs":
            limit, window = self.catalog_rate_limit, self.catalog_rate_window_seconds
        with self._lock:
            limiter = self._limiters.setdefault((budget, api_key), _FixedWindowLimiter(limit, window))
            allowed, remaining, reset_at = limiter.take()
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil(reset_at)),
        }
        if not allowed:
            with self._lock:
                self.stats.rate_limited += 1
            headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
            return self._answer(429, {"message": "Rate limit exceeded"}, headers), api_key, headers
        with self._lock:
            drop = faults.drop_next > 0 or self._random.random() < faults.drop_share
            if faults.drop_next > 0:
                faults.drop_next -= 1
            fail = not drop and (faults.fail_next > 0 or self._random.random() < faults.server_error_share)
            if fail and faults.fail_next > 0:
                faults.fail_next -= 1
        if drop:
            with self._lock:
                self.stats.dropped += 1
            transport = request.transport
            if transport is not None:
                transport.abort()
            raise ConnectionResetError("stand-in dropped the connection on purpose")
        if fail:
            with self._lock:
                self.stats.server_errors += 1
            return self._answer(503, {"message": "Service unavailable (injected)"}, headers), api_key, headers
        return None, api_key, headers

    def _answer(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
        with self._lock:
            self.stats.statuses.append(status)
            if status == 400:
                self.stats.bad_requests += 1
            if status in (200, 201, 202):
                self.stats.accepted_requests += 1
        return web.json_response(payload, status=status, headers=headers)

    async def _json_body(self, request: web.Request) -> Any:
        """The request's JSON, or None (answered 400) when it is not JSON or nests past ``MAX_BODY_DEPTH``."""
        content = await request.read()
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            try:  # integers beyond 64 bits: the stdlib reads them exactly
                body = json.loads(content)
            except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep is not valid data either
                return None
        return None if value_too_deep(body, MAX_BODY_DEPTH) else body

    def _users_of(self, body: Any) -> list[str]:
        """The users an attributes request is about (for the overlap count)."""
        objects = body.get("attributes") if isinstance(body, dict) else None
        if not isinstance(objects, list):
            return []
        return [
            orjson.dumps({key: obj[key] for key in _IDENTIFIERS if key in obj}).decode()
            for obj in objects
            if isinstance(obj, dict)
        ]

    async def _track(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        users = self._users_of(body) if self.record_objects else []
        with self._lock:
            under_way = self._users_under_way
            if any(under_way.get(user) for user in set(users)):
                self.stats.user_overlaps += 1  # a user already in a request being processed: order is up to chance
            for user in users:
                under_way[user] = under_way.get(user, 0) + 1
        try:
            return await self._track_body(request, body)
        finally:
            with self._lock:
                for user in users:
                    left = self._users_under_way.get(user, 0) - 1
                    if left > 0:
                        self._users_under_way[user] = left
                    else:
                        self._users_under_way.pop(user, None)

    async def _track_body(self, request: web.Request, body: Any) -> web.StreamResponse:
        early, api_key, headers = await self._gate(request)
        if early is not None:
            return early
        if not isinstance(body, dict):
            return self._answer(400, {"message": "Invalid JSON in request body"}, headers)
        arrays: dict[str, list[Any]] = {}
        for array_name in ("attributes", "events", "purchases"):
            value = body.get(array_name)
            if value is None:
                continue
            if not isinstance(value, list):
                return self._answer(400, {"message": f"'{array_name}' must be an array"}, headers)
            arrays[array_name] = value
        # 75 objects a request in all arrays together (newest API-limits doc; 50 on the MAU plan)
        limit = MAX_OBJECTS_COMBINED_MAU if self.combined_limit else MAX_OBJECTS_PER_ARRAY
        if sum(len(items) for items in arrays.values()) > limit:
            return self._answer(400, {"message": "Max Input Length Exceeded"}, headers)
        errors: list[dict[str, Any]] = []
        accepted: list[ReceivedObject] = []
        bulk = request.headers.get("X-Braze-Bulk", "").lower() == "true"
        processed = {name: 0 for name in arrays}
        faults = self.faults
        if faults.poison_external_ids and any(
            isinstance(obj, dict) and obj.get("external_id") in faults.poison_external_ids
            for items in arrays.values()
            for obj in items
        ):
            return self._answer(400, {"message": "Bad request"}, headers)
        for array_name, items in arrays.items():
            for index, obj in enumerate(items):
                problem = validate_object(array_name, obj)
                if problem is None and isinstance(obj, dict) and obj.get("external_id") in faults.reject_external_ids:
                    problem = "invalid_user"
                if problem:
                    errors.append({"type": problem, "input_array": array_name, "index": index})
                else:
                    accepted.append(ReceivedObject(array_name, obj, api_key, bulk))
                    processed[array_name] += 1
        if not accepted:
            payload: dict[str, Any] = {"message": NOTHING_VALID}
            if errors:
                payload["errors"] = errors
            return self._answer(400, payload, headers)
        with self._lock:
            self.accepted_count += len(accepted)
            if self.record_objects:
                self.received.extend(accepted)
                self.users.apply_track(
                    [(item.endpoint, item.body) for item in accepted],
                    request_drops_nested([item.body for item in accepted if item.endpoint == "attributes"]),
                )
        payload = {"message": "success"}
        payload.update({f"{name}_processed": count for name, count in processed.items()})
        if errors:
            payload["errors"] = errors
        self._maybe_lose_answer(request)
        return self._answer(201, payload, headers)

    def _maybe_lose_answer(self, request: web.Request) -> None:
        """After the users were changed: the answer may be lost on the way back (fault plan)."""
        with self._lock:
            faults = self.faults
            lose = faults.lose_answer_next > 0 or (
                faults.lose_answer_share > 0 and self._random.random() < faults.lose_answer_share
            )
            if faults.lose_answer_next > 0:
                faults.lose_answer_next -= 1
            if lose:
                self.stats.answers_lost += 1
        if lose:
            transport = request.transport
            if transport is not None:
                transport.abort()
            raise ConnectionResetError("stand-in lost the answer on purpose")

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        early, api_key, headers = await self._gate(request)
        if early is not None:
            return early
        body = await self._json_body(request)
        if not isinstance(body, dict):
            return self._answer(400, {"message": "Invalid JSON in request body"}, headers)
        lists = {
            key: body.get(key) or [] for key in ("external_ids", "user_aliases", "braze_ids", "email_addresses", "phone_numbers")
        }
        if any(not isinstance(value, list) for value in lists.values()):
            return self._answer(400, {"message": "identifier fields must be arrays"}, headers)
        total = sum(len(value) for value in lists.values())
        if total == 0:
            return self._answer(400, {"message": "No users to delete were given"}, headers)
        if sum(1 for value in lists.values() if value) > 1:
            message = "Only one of external_ids, user_aliases, braze_ids, email_addresses, or phone_numbers can be included"
            return self._answer(400, {"message": message}, headers)
        if total > MAX_DELETE_IDENTIFIERS:
            return self._answer(400, {"message": "Max Input Length Exceeded"}, headers)
        for kind, values in lists.items():
            for value in values:
                problem = delete_entry_problem(kind, value)
                if problem is not None:
                    return self._answer(400, {"message": problem}, headers)
        bulk = request.headers.get("X-Braze-Bulk", "").lower() == "true"
        with self._lock:
            self.accepted_count += total
            for kind, values in lists.items():
                for value in values:
                    if self.record_objects:
                        self.received.append(ReceivedObject("deletes", {kind: value}, api_key, bulk))
                        self.users.delete(kind, value)
        self._maybe_lose_answer(request)
        return self._answer(201, {"message": "success", "deleted": total}, headers)

    # catalogs ---------------------------------------------------------------------------
    async def _list_catalogs(self, request: web.Request) -> web.StreamResponse:
        early, _api_key, headers = await self._gate(request, "catalogs")
        if early is not None:
            return early
        with self._lock:
            listing = self.catalogs.listing()
        return self._answer(200, {"catalogs": listing, "message": "success"}, headers)

    async def _put_items(self, request: web.Request) -> web.StreamResponse:
        return await self._items(request, deleting=False)

    async def _delete_items(self, request: web.Request) -> web.StreamResponse:
        return await self._items(request, deleting=True)

    async def _items(self, request: web.Request, deleting: bool) -> web.StreamResponse:
        name = request.match_info["name"]
        body = await self._json_body(request)
        listed = body.get("items") if isinstance(body, dict) else None
        ids = [(name, str(item.get("id"))) for item in listed if isinstance(item, dict)] if isinstance(listed, list) else []
        with self._lock:
            self.stats.catalog_requests += 1
            if any(self._items_under_way.get(key) for key in set(ids)):
                self.stats.item_overlaps += 1  # an item already in a request being processed: order is up to chance
            for key in ids:
                self._items_under_way[key] = self._items_under_way.get(key, 0) + 1
        try:
            return await self._items_body(request, name, body, deleting)
        finally:
            with self._lock:
                for key in ids:
                    left = self._items_under_way.get(key, 0) - 1
                    if left > 0:
                        self._items_under_way[key] = left
                    else:
                        self._items_under_way.pop(key, None)

    async def _items_body(self, request: web.Request, name: str, body: Any, deleting: bool) -> web.StreamResponse:
        early, api_key, headers = await self._gate(request, "catalogs")
        if early is not None:
            return early
        with self._lock:
            catalog = self.catalogs.catalogs.get(name)
        if catalog is None:
            error = {"id": "catalog-not-found", "message": "Could not find catalog", "parameters": ["catalog_name"],
                     "parameter_values": [name]}  # fmt: skip
            return self._answer(404, {"errors": [error], "message": "Invalid Request"}, headers)
        errors = self.catalogs.request_errors(catalog, body, deleting)
        if errors:
            return self._answer(400, {"errors": errors, "message": "Invalid Request"}, headers)
        items = body["items"]
        bulk = request.headers.get("X-Braze-Bulk", "").lower() == "true"
        with self._lock:
            self.accepted_count += len(items)
            if deleting:
                self.catalogs.delete(catalog, items)
            else:
                self.catalogs.replace(catalog, items)
            if self.record_objects:
                endpoint = "delete_items" if deleting else "items"
                self.received.extend(ReceivedObject(endpoint, item, api_key, bulk) for item in items)
        self._maybe_lose_answer(request)
        return self._answer(202, {"message": "success"}, headers)
