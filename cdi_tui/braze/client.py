"""The Braze REST client: ``/users/track``, ``/users/delete`` and catalog items over httpx.

What a send does (batches, retries, ``errors[]`` mapping, splitting a refused batch) is
written once, as an *exchange*: a generator that yields the I/O it needs (one POST, or a
pause) and is handed back the answer. Two drivers run it:

- :meth:`BrazeClient.send_track` / :meth:`BrazeClient.send_delete` in the caller's thread,
  through ``httpx.HTTPTransport`` (about 250 us of CPU a request: the cheapest way while
  Braze answers within a millisecond or two);
- :meth:`BrazeClient.send_track_async` / :meth:`BrazeClient.send_delete_async` in an event
  loop, through ``httpx_aiohttp.AiohttpTransport`` (httpx's request and response types over
  aiohttp's C HTTP parser: about 600 us a request, but hundreds can be in flight at once,
  which a Braze answering in 50-300 ms needs to use the rate limit; httpx's own async pool
  costs 4-30x more CPU a request with that many connections).

- One :class:`RateLimiter` per workspace API key in the process, shared by every
  integration and run; it also obeys ``X-RateLimit-Remaining``/``X-RateLimit-Reset`` and
  ``Retry-After``.
- Bounded retries with exponential backoff and full jitter on 429, 5xx, timeouts and
  dropped connections. 201 and 202 are success.
- ``errors[]`` items are mapped by (input_array, index) back to the objects sent; a 400
  that rejects a whole batch is split in halves until the bad objects are isolated.
- 401/403 raise :class:`BrazeAuthError` (the run must end at once).
- Catalog items go to ``PUT``/``DELETE /catalogs/{name}/items`` (:meth:`BrazeClient.send_catalog`):
  one bad item fails the whole request with a 400, so a refused request is split in halves
  until each bad item stands alone, and becomes a rejection with Braze's error id
  (:class:`Rejection`); an unknown catalog (404) raises :class:`BrazeCatalogMissing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote, unquote, urlsplit

import httpx
import orjson

from cdi_tui import __version__
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.braze.rules import CATALOG_ITEMS_ARRAY
from cdi_tui.errors import CdiError
from cdi_tui.fields import is_loopback_host
from cdi_tui.tls import tls_context


class BrazeError(CdiError):
    """A Braze failure that ends the run."""


class BrazeAuthError(BrazeError):
    """401/403: the key is wrong or lacks the permission."""


class BrazeEndpointError(BrazeError):
    """404 or a refused URL: the endpoint is wrong."""


class BrazeCatalogMissing(BrazeError):
    """The catalog does not exist in the workspace (Braze's ``catalog-not-found``): create it there first."""


class TransientFailure(CdiError):
    """Retries ran out on 429/5xx/timeouts/dropped connections."""


class SendCancelled(Exception):
    """The run is stopping; the request was not (or not knowingly) delivered."""


class Rejection(str):
    """Why Braze refused an object (the text a row error keeps), with a ``code`` for the row error:
    Braze's own error id when it gave one (``invalid-fields``), else ``braze_rejected``."""

    code: str

    def __new__(cls, reason: str, code: str = "braze_rejected") -> Rejection:
        rejection = super().__new__(cls, reason)
        rejection.code = code
        return rejection


def rejection_code(reason: str) -> str:
    """The row error code of a rejection: Braze's error id when it gave one."""
    return reason.code if isinstance(reason, Rejection) else "braze_rejected"


@dataclass(frozen=True)
class Catalog:
    """A catalog of the workspace, as ``GET /catalogs`` describes it: its fields by name, with their types."""

    name: str
    fields: dict[str, str]

    def unknown_fields(self, body: dict[str, Any]) -> list[str]:
        """The keys of an item (its ``id`` aside) that are not fields of this catalog."""
        return [key for key in body if key != "id" and key not in self.fields]


@dataclass
class SendOutcome:
    delivered: list[BrazeObject] = field(default_factory=list)
    rejected: list[tuple[BrazeObject, str]] = field(default_factory=list)
    transient: list[tuple[BrazeObject, str]] = field(default_factory=list)
    requests: int = 0

    def merge(self, other: SendOutcome) -> None:
        self.delivered.extend(other.delivered)
        self.rejected.extend(other.rejected)
        self.transient.extend(other.transient)
        self.requests += other.requests


class RateLimiter:
    """At most ``limit`` requests in any ``window_seconds``; thread- and loop-safe.

    A sliding log of send times: a request waits until the oldest of the last ``limit``
    requests is a window old. ``pause_until`` holds every request back (after a 429, or
    when Braze reports no requests remaining in its window).
    """

    def __init__(self, limit: int, window_seconds: float, margin_seconds: float = 0.05) -> None:
        self.limit = limit
        self.window = window_seconds + margin_seconds
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        # Braze's own count, from its last answer: requests left in its window (less those sent
        # and not yet answered), until its reset. None: no answer said so yet.
        self._outstanding = 0
        self._budget: int | None = None
        self._budget_until = 0.0

    def configure(self, limit: int, window_seconds: float) -> None:
        with self._lock:
            self.limit = limit
            self.window = window_seconds + 0.05

    def pause_until(self, monotonic_deadline: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, monotonic_deadline)

    def reserve(self) -> float:
        """Take a slot now (returns 0) or say how long to wait."""
        with self._lock:
            now = time.monotonic()
            if self._paused_until > now:
                return self._paused_until - now
            if self._budget is not None:
                if now >= self._budget_until:
                    self._budget = None
                elif self._budget <= 0:
                    return max(self._budget_until - now, 0.01)
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                self._sent.append(now)
                self._outstanding += 1
                if self._budget is not None:
                    self._budget -= 1
                return 0.0
            return self._sent[0] + self.window - now

    def answered(self, response: httpx.Response | None) -> None:
        """A request that took a slot is over (``response`` None: it got no answer). An answer's
        ``X-RateLimit-Remaining`` and ``-Reset`` become the budget until that reset: requests
        already under way count against it, so they do not all run into 429s together."""
        with self._lock:
            self._outstanding = max(0, self._outstanding - 1)
            if response is None:
                return
            remaining = response.headers.get("X-RateLimit-Remaining")
            reset = response.headers.get("X-RateLimit-Reset")
            if remaining is None or reset is None:
                return
            try:
                left, delay = int(float(remaining)), float(reset) - time.time()
            except ValueError:
                return
            if 0 < delay <= 3600:
                self._budget = left - self._outstanding
                self._budget_until = time.monotonic() + delay

    async def acquire_async(self, stop: threading.Event) -> None:
        """:meth:`acquire` for an event loop: waits without blocking the loop.

        Raises:
            SendCancelled: when ``stop`` is set while waiting.
        """
        while True:
            if stop.is_set():
                raise SendCancelled("stopping")
            wait = self.reserve()
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, 0.1))

    def acquire(self, stop: threading.Event | None = None) -> None:
        """Block until a request may go out.

        Raises:
            SendCancelled: when ``stop`` is set while waiting.
        """
        while True:
            wait = self.reserve()
            if wait <= 0:
                return
            if stop is not None:
                if stop.wait(min(wait, 1.0)):
                    raise SendCancelled("stopping")
            else:
                time.sleep(min(wait, 1.0))


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(base_url: str, api_key: str, limit: int, window_seconds: float, budget: str = "users") -> RateLimiter:
    """The process-wide limiter of one workspace (API key + endpoint) and one of its rate-limit
    budgets: ``users`` (``/users/track``, shared with the workspace's other API traffic) or
    ``catalogs`` (Braze's 16,000 requests a minute shared by the asynchronous catalog item endpoints)."""
    digest = hashlib.sha256(f"{base_url}\x00{api_key}\x00{budget}".encode()).hexdigest()
    with _limiters_lock:
        limiter = _limiters.get(digest)
        if limiter is None:
            limiter = _limiters[digest] = RateLimiter(limit, window_seconds)
        elif (limiter.limit, round(limiter.window - 0.05, 6)) != (limit, round(window_seconds, 6)):
            limiter.configure(limit, window_seconds)
        return limiter


def check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BrazeEndpointError(f"'{base_url}' is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise BrazeEndpointError("plain http:// is allowed only to a loopback address; use https://")
    return base_url.rstrip("/")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6  # for 5xx, timeouts and dropped connections
    max_rate_limited: int = 30  # 429s are waited out; this only stops an endless storm
    backoff_base: float = 0.5
    backoff_cap: float = 30.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))


def _error_message(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError):
        data = response.json()
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
    return response.reason_phrase or f"HTTP {response.status_code}"


class _Request(NamedTuple):
    """One request of ``content`` to ``path`` (the driver first takes a slot of the rate limiter)."""

    path: str
    content: bytes | None
    method: str = "POST"


class _Pause(NamedTuple):
    """A backoff before the next attempt."""

    seconds: float


_Reply = httpx.Response | httpx.TransportError | None
T = TypeVar("T")
# what a send needs done, step by step; the drivers answer each _Request with a response or the
# transport error it ended in, and each _Pause with None
Exchange = Generator[_Request | _Pause, _Reply, T]


def _encode(body: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # integers beyond 64 bits: the stdlib writes them exactly
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _next_page(response: httpx.Response) -> str | None:
    """The path of the next page a ``Link: <...>; rel="next"`` header names (same host only), or None."""
    link = response.links.get("next", {}).get("url")
    if not link:
        return None
    parts = urlsplit(link)
    if parts.netloc and parts.netloc != response.request.url.netloc.decode("ascii", "replace"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _as_transport_error(error: BaseException) -> httpx.TransportError:
    if isinstance(error, httpx.TransportError):
        return error
    if isinstance(error, asyncio.TimeoutError):
        return httpx.ReadTimeout(str(error) or "timed out")
    return httpx.NetworkError(f"{type(error).__name__}: {error}")


class BrazeClient:
    """Use as ``with BrazeClient(...) as client``.

    The blocking methods may be called from any thread; the ``*_async`` ones from one event
    loop, which must call :meth:`aclose` before it ends.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        limiter: RateLimiter | None = None,
        bulk: bool = False,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        max_in_flight: int = 256,
        stop: threading.Event | None = None,
        on_answer: Callable[[int | None], None] | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.on_answer = on_answer
        self.limiter = limiter or RateLimiter(3000, 3.0)
        self.bulk = bulk
        self.retry = retry or RetryPolicy()
        self.stop = stop or threading.Event()
        self.max_in_flight = max(1, max_in_flight)
        self._timeout = {"connect": min(10.0, timeout), "read": timeout, "write": timeout, "pool": timeout}
        self._transport: httpx.HTTPTransport | None = None
        self._async_transport: httpx.AsyncBaseTransport | None = None
        self._limiter_gate: asyncio.Lock | None = None
        headers = [
            ("Authorization", f"Bearer {api_key}"),
            ("Content-Type", "application/json"),
            ("User-Agent", f"cdi-tui/{__version__}"),
        ]
        if bulk:
            headers.append(("X-Braze-Bulk", "true"))
        self._headers = httpx.Headers(headers)  # built once: per request it is only copied
        self._urls: dict[str, httpx.URL] = {}
        self.catalogs: dict[str, Catalog] = {}  # what the last list_catalogs() found (names unknown fields)
        self.round_trip_seconds = 0.0  # moving average of one HTTP round trip (rate-limit waits excluded)
        self.last_round_trip_seconds = 0.0

    def __repr__(self) -> str:
        return f"BrazeClient({self.base_url!r}, bulk={self.bulk})"

    def __enter__(self) -> BrazeClient:
        self._transport = httpx.HTTPTransport(
            verify=tls_context(), limits=httpx.Limits(max_connections=4, max_keepalive_connections=4)
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def aclose(self) -> None:
        """Close the connections of the ``*_async`` methods (in the loop that used them)."""
        transport, self._async_transport = self._async_transport, None
        if transport is not None:
            await transport.aclose()

    # the two drivers ---------------------------------------------------------------------
    def _request(self, step: _Request) -> httpx.Request:
        url = self._urls.get(step.path)
        if url is None:
            url = self._urls[step.path] = httpx.URL(self.base_url + step.path)
        return httpx.Request(step.method, url, headers=self._headers, content=step.content, extensions={"timeout": self._timeout})

    def _note_round_trip(self, started: float) -> None:
        self.last_round_trip_seconds = time.monotonic() - started
        self.round_trip_seconds = 0.8 * self.round_trip_seconds + 0.2 * self.last_round_trip_seconds

    def _run(self, exchange: Exchange[T]) -> T:
        """Drive an exchange in this thread.

        Raises:
            SendCancelled: the client was told to stop before a request went out.
        """
        assert self._transport is not None, "use 'with BrazeClient(...)'"
        transport, stop = self._transport, self.stop
        reply: _Reply = None
        try:
            while True:
                step = exchange.send(reply)
                if isinstance(step, _Pause):
                    if stop.wait(step.seconds):
                        raise SendCancelled("stopping")
                    reply = None
                    continue
                if stop.is_set():
                    raise SendCancelled("stopping")
                self.limiter.acquire(stop)
                started = time.monotonic()
                answer: httpx.Response | None = None
                try:
                    response = transport.handle_request(self._request(step))
                    try:
                        response.read()
                    finally:
                        response.close()
                except httpx.TransportError as error:
                    reply = error
                else:
                    self._note_round_trip(started)
                    reply = answer = response
                finally:
                    self.limiter.answered(answer)
                    if self.on_answer is not None:
                        self.on_answer(None if answer is None else answer.status_code)
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            exchange.close()

    async def _take_slot(self) -> None:
        limiter = self.limiter
        if limiter.reserve() <= 0:
            return
        if self._limiter_gate is None:
            self._limiter_gate = asyncio.Lock()
        # one waiter at a time watches the limiter, the others queue behind it in order:
        # hundreds of requests in flight would otherwise all wake at every free slot
        async with self._limiter_gate:
            await limiter.acquire_async(self.stop)

    async def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.stop.is_set():
                raise SendCancelled("stopping")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.1))

    def _open_async_transport(self) -> httpx.AsyncBaseTransport:
        from httpx_aiohttp import AiohttpTransport

        limits = httpx.Limits(max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight)
        self._async_transport = AiohttpTransport(verify=tls_context(), limits=limits)
        return self._async_transport

    async def _run_async(self, exchange: Exchange[T]) -> T:
        """Drive an exchange in the running event loop (see :meth:`_run`)."""
        transport = self._async_transport or self._open_async_transport()
        reply: _Reply = None
        try:
            while True:
                step = exchange.send(reply)
                if isinstance(step, _Pause):
                    await self._pause(step.seconds)
                    reply = None
                    continue
                if self.stop.is_set():
                    raise SendCancelled("stopping")
                await self._take_slot()
                started = time.monotonic()
                answer: httpx.Response | None = None
                try:
                    response = await transport.handle_async_request(self._request(step))
                    try:
                        await response.aread()
                    finally:
                        await response.aclose()
                except (TimeoutError, httpx.TransportError, OSError) as error:
                    reply = _as_transport_error(error)
                except Exception as error:  # aiohttp's own errors that httpx-aiohttp does not map
                    if type(error).__module__.split(".")[0] != "aiohttp":
                        raise
                    reply = _as_transport_error(error)
                else:
                    self._note_round_trip(started)
                    reply = answer = response
                finally:
                    self.limiter.answered(answer)
                    if self.on_answer is not None:
                        self.on_answer(None if answer is None else answer.status_code)
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            exchange.close()

    # rate headers ---------------------------------------------------------------------------
    def _note_rate_headers(self, response: httpx.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        if remaining is not None and reset is not None:
            with contextlib.suppress(ValueError):
                if int(float(remaining)) <= 0:
                    delay = float(reset) - time.time()
                    if 0 < delay <= 3600:
                        self.limiter.pause_until(time.monotonic() + delay)

    def _pause_for_429(self, response: httpx.Response) -> None:
        delay = None
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                delay = float(retry_after)
        if delay is None:
            reset = response.headers.get("X-RateLimit-Reset")
            if reset is not None:
                with contextlib.suppress(ValueError):
                    delay = float(reset) - time.time()
        delay = min(max(delay if delay is not None else 1.0, 0.05), 3600)
        self.limiter.pause_until(time.monotonic() + delay)

    # exchanges ------------------------------------------------------------------------------
    def _post(
        self, path: str, body: dict[str, Any] | None, outcome: SendOutcome, method: str = "POST"
    ) -> Exchange[httpx.Response]:
        """Send with retries (a POST, unless ``method`` says otherwise; no body for a GET);
        returns the first response that is not to be retried.

        Raises:
            TransientFailure: when retries run out.
        """
        content = None if body is None else _encode(body)
        attempts = rate_limited = 0
        while True:
            outcome.requests += 1
            reply = yield _Request(path, content, method)
            if isinstance(reply, httpx.TimeoutException):
                reason = "Braze did not answer in time"
            elif isinstance(reply, httpx.TransportError):
                reason = f"connection to Braze failed ({type(reply).__name__})"
            else:
                assert reply is not None
                self._note_rate_headers(reply)
                status = reply.status_code
                if status == 429:
                    rate_limited += 1
                    self._pause_for_429(reply)
                    if rate_limited < self.retry.max_rate_limited:
                        continue
                    raise TransientFailure("Braze kept answering 429 (rate limited)")
                if status < 500:
                    return reply
                reason = f"Braze answered {status} {_error_message(reply)}"
            attempts += 1
            if attempts >= self.retry.max_attempts:
                raise TransientFailure(f"{reason}; gave up after {attempts} attempts")
            yield _Pause(self.retry.delay(attempts))

    @staticmethod
    def _raise_for_fatal(response: httpx.Response, path: str, method: str = "POST") -> None:
        status = response.status_code
        catalog = path.startswith("/catalogs/")
        if status in (401, 403):
            permission = "users.track"
            if path.startswith("/catalogs"):
                permission = {"PUT": "catalogs.replace_items", "DELETE": "catalogs.delete_items"}.get(method, "catalogs.get")
            what = "rejected the REST API key" if status == 401 else f"refused the REST API key (permission {permission} needed)"
            raise BrazeAuthError(f"Braze {what}: {status} {_error_message(response)}")
        if status == 404 and catalog:
            name = unquote(path.split("/")[2])
            raise BrazeCatalogMissing(
                f"Braze has no catalog '{name}' in this workspace (catalog-not-found): create it in Braze first "
                "(its fields are defined there), or name the catalog the integration writes to"
            )
        if status == 404:
            raise BrazeEndpointError(f"Braze answered 404 for {path}: check the instance or URL")

    def _post_batch(
        self, path: str, body: dict[str, Any], items: Sequence[BrazeObject], outcome: SendOutcome, method: str = "POST"
    ) -> Exchange[httpx.Response | None]:
        """Send one batch; None (with every item transient) when retries ran out.

        Raises:
            BrazeAuthError, BrazeEndpointError: for 401/403/404 (BrazeCatalogMissing for a catalog's 404).
        """
        try:
            response = yield from self._post(path, body, outcome, method)
        except TransientFailure as failure:
            outcome.transient.extend((item, str(failure)) for item in items)
            return None
        self._raise_for_fatal(response, path, method)
        return response

    def _track(self, items: Sequence[BrazeObject]) -> Exchange[SendOutcome]:
        outcome = SendOutcome()
        if not items:
            return outcome
        arrays = {item.array for item in items}
        body: dict[str, list[dict[str, Any]]]
        if len(arrays) == 1:  # one data type a sync: the usual case
            body = {arrays.pop(): [item.body for item in items]}
        else:
            body = {}
            for item in items:
                body.setdefault(item.array, []).append(item.body)
        response = yield from self._post_batch("/users/track", body, items, outcome)
        if response is None:
            return outcome
        status = response.status_code
        data: Any = None
        with contextlib.suppress(ValueError):
            data = orjson.loads(response.content)
        errors = data.get("errors") if isinstance(data, dict) else None
        rejected: dict[int, str] = {}
        if isinstance(errors, list) and errors:
            positions: dict[tuple[str, int], BrazeObject] = {}
            counters: dict[str, int] = {}
            for item in items:
                position = counters.get(item.array, 0)
                positions[(item.array, position)] = item
                counters[item.array] = position + 1
            for error in errors:
                if not isinstance(error, dict):
                    continue
                match = positions.get((str(error.get("input_array")), error.get("index", -1)))
                if match is not None:
                    rejected[id(match)] = f"Braze rejected the object: {error.get('type', 'invalid')}"
        if 200 <= status < 300:
            if not rejected:
                outcome.delivered.extend(items)
                return outcome
            for item in items:
                if id(item) in rejected:
                    outcome.rejected.append((item, rejected[id(item)]))
                else:
                    outcome.delivered.append(item)
            return outcome
        # a 4xx for the whole request: mapped errors are final, the rest is split to isolate
        for item in items:
            if id(item) in rejected:
                outcome.rejected.append((item, rejected[id(item)]))
        remaining = [item for item in items if id(item) not in rejected]
        if not remaining:
            return outcome
        if len(remaining) == 1:
            outcome.rejected.append((remaining[0], f"Braze rejected the object: {status} {_error_message(response)}"))
            return outcome
        if len(remaining) < len(items):
            outcome.merge((yield from self._track(remaining)))
            return outcome
        # refused whole: send each half again, until the bad objects stand alone
        middle = len(remaining) // 2
        outcome.merge((yield from self._track(remaining[:middle])))
        outcome.merge((yield from self._track(remaining[middle:])))
        return outcome

    def _delete(self, items: Sequence[BrazeObject]) -> Exchange[SendOutcome]:
        outcome = SendOutcome()
        if not items:
            return outcome
        kinds: dict[str, list[BrazeObject]] = {}
        for item in items:
            kinds.setdefault(item.array, []).append(item)
        if len(kinds) > 1:  # Braze takes one kind of identifier a request
            for group in kinds.values():
                outcome.merge((yield from self._delete(group)))
            return outcome
        kind = items[0].array
        if kind in ("email_addresses", "phone_numbers"):  # objects: the address and its prioritization
            body: dict[str, list[Any]] = {kind: [item.body for item in items]}
        else:
            body = {kind: [next(iter(item.body.values())) for item in items]}
        response = yield from self._post_batch("/users/delete", body, items, outcome)
        if response is None:
            return outcome
        if 200 <= response.status_code < 300:
            outcome.delivered.extend(items)
            return outcome
        if len(items) == 1:
            outcome.rejected.append((items[0], f"Braze rejected the delete: {response.status_code} {_error_message(response)}"))
            return outcome
        middle = len(items) // 2
        outcome.merge((yield from self._delete(items[:middle])))
        outcome.merge((yield from self._delete(items[middle:])))
        return outcome

    def _catalog(self, catalog: str, items: Sequence[BrazeObject]) -> Exchange[SendOutcome]:
        """Items to write (``PUT``) and items to delete (``DELETE``): one request each kind."""
        outcome = SendOutcome()
        kinds: dict[str, list[BrazeObject]] = {}
        for item in items:
            kinds.setdefault(item.array, []).append(item)
        for array, group in kinds.items():
            outcome.merge((yield from self._catalog_items(catalog, array, group)))
        return outcome

    def _catalog_items(self, catalog: str, array: str, items: Sequence[BrazeObject]) -> Exchange[SendOutcome]:
        outcome = SendOutcome()
        if not items:
            return outcome
        method = "PUT" if array == CATALOG_ITEMS_ARRAY else "DELETE"
        path = f"/catalogs/{quote(catalog, safe='')}/items"
        response = yield from self._post_batch(path, {"items": [item.body for item in items]}, items, outcome, method)
        if response is None:
            return outcome
        if 200 <= response.status_code < 300:  # 202: accepted, applied asynchronously
            outcome.delivered.extend(items)
            return outcome
        # one bad item fails the whole request: halves are sent again until each bad item stands alone
        if len(items) == 1:
            outcome.rejected.append((items[0], self._catalog_rejection(catalog, response, items[0])))
            return outcome
        middle = len(items) // 2
        outcome.merge((yield from self._catalog_items(catalog, array, items[:middle])))
        outcome.merge((yield from self._catalog_items(catalog, array, items[middle:])))
        return outcome

    def _catalog_rejection(self, catalog: str, response: httpx.Response, item: BrazeObject) -> Rejection:
        """Braze's reason for refusing one item: its error ids and messages, the unknown fields named."""
        errors: list[dict[str, Any]] = []
        with contextlib.suppress(ValueError):
            data = orjson.loads(response.content)
            if isinstance(data, dict) and isinstance(data.get("errors"), list):
                errors = [error for error in data["errors"] if isinstance(error, dict)]
        if not errors:
            return Rejection(f"Braze refused the item: {response.status_code} {_error_message(response)}")
        parts = []
        for error in errors:
            error_id = str(error.get("id") or "invalid")
            text = f"{error_id}: {error.get('message') or 'refused'}"
            known = self.catalogs.get(catalog)
            unknown = known.unknown_fields(item.body) if known is not None else []
            if error_id == "invalid-fields" and unknown:
                text += f" (unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)})"
            elif error.get("parameters"):
                values = error.get("parameter_values") or []
                named = ", ".join(f"{name}={value}" for name, value in zip(error["parameters"], values, strict=False))
                text += f" ({named or ', '.join(map(str, error['parameters']))})"
            parts.append(text)
        return Rejection("; ".join(parts), str(errors[0].get("id") or "braze_rejected"))

    def _list_catalogs(self) -> Exchange[dict[str, Catalog]]:
        """``GET /catalogs``, every page (Braze links the next one in a ``Link`` header)."""
        found: dict[str, Catalog] = {}
        path: str | None = "/catalogs"
        for _page in range(100):
            if path is None:
                break
            response = yield from self._post(path, None, SendOutcome(), "GET")
            self._raise_for_fatal(response, path, "GET")
            if response.status_code >= 400:
                raise BrazeError(f"Braze answered {response.status_code} {_error_message(response)} for GET /catalogs")
            data: Any = None
            with contextlib.suppress(ValueError):
                data = orjson.loads(response.content)
            listed = data.get("catalogs") if isinstance(data, dict) else None
            if not isinstance(listed, list):
                raise BrazeError("Braze's answer to GET /catalogs holds no list of catalogs")
            for entry in listed:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    fields = entry.get("fields")
                    if not isinstance(fields, list):
                        fields = []
                    named = [field for field in fields if isinstance(field, dict) and "name" in field]
                    types = {str(field["name"]): str(field.get("type", "")) for field in named}
                    found[entry["name"]] = Catalog(entry["name"], types)
            path = _next_page(response)
        return found

    # public ----------------------------------------------------------------------------------
    def send_track(self, items: Sequence[BrazeObject]) -> SendOutcome:
        """Send objects to ``/users/track`` in one request (the caller keeps to the batch limits).

        Returns:
            Each object delivered, rejected (with Braze's reason) or transient (retries ran out).

        Raises:
            BrazeAuthError, BrazeEndpointError: the run must end (401/403/404).
            SendCancelled: the client was told to stop first.
        """
        return self._run(self._track(items))

    async def send_track_async(self, items: Sequence[BrazeObject]) -> SendOutcome:
        """:meth:`send_track` in the running event loop."""
        return await self._run_async(self._track(items))

    def send_delete(self, items: Sequence[BrazeObject]) -> SendOutcome:
        """Delete users; each item's ``array`` is external_ids, user_aliases, braze_ids, ...

        A batch that mixes kinds of identifier goes as one request a kind (Braze takes one).
        """
        return self._run(self._delete(items))

    async def send_delete_async(self, items: Sequence[BrazeObject]) -> SendOutcome:
        """:meth:`send_delete` in the running event loop."""
        return await self._run_async(self._delete(items))

    def send_catalog(self, catalog: str, items: Sequence[BrazeObject]) -> SendOutcome:
        """Catalog items: ``items`` (array ``items``) written with ``PUT``, ``delete_items`` deleted
        with ``DELETE /catalogs/{catalog}/items``; at most 50 a request (the caller keeps to it).

        Raises:
            BrazeCatalogMissing: the workspace has no such catalog.
            BrazeAuthError, BrazeEndpointError, SendCancelled: as :meth:`send_track`.
        """
        return self._run(self._catalog(catalog, items))

    async def send_catalog_async(self, catalog: str, items: Sequence[BrazeObject]) -> SendOutcome:
        """:meth:`send_catalog` in the running event loop."""
        return await self._run_async(self._catalog(catalog, items))

    def list_catalogs(self) -> dict[str, Catalog]:
        """The workspace's catalogs and their fields (``GET /catalogs``); kept in :attr:`catalogs`.

        Raises:
            BrazeAuthError, BrazeEndpointError, BrazeError: refused, wrong endpoint, or an answer that is not a list.
            TransientFailure: Braze could not be reached.
        """
        self.catalogs = self._run(self._list_catalogs())
        return self.catalogs

    def check_key(self) -> None:
        """Check the key without spending data points (an empty /users/track body).

        Raises:
            BrazeAuthError: the key is wrong or lacks ``users.track``.
            BrazeEndpointError: the URL is wrong.
            TransientFailure: Braze could not be reached.
        """
        response = self._run(self._post("/users/track", {}, SendOutcome()))
        self._raise_for_fatal(response, "/users/track")
