"""Requests to Braze with as many in flight as the latency needs (Little's law).

The engine's thread reads and transforms rows and hands each segment (one request's worth)
to a :class:`Dispatcher`. While Braze answers fast, the dispatcher sends in the engine's
thread through the blocking client: no hand-off, the least CPU a request. Once answers take
longer than a request's share of the rate limit (1 ms at 3,000 requests per 3 s, at least
2 ms; the median of the last few), one thread can no longer use the limit, and the dispatcher moves, for the rest
of the run, to an event loop in a thread of its own that keeps

    in flight = requests a second the limit allows x round-trip time x 1.25 (+1)

requests under way (from 1 up to ``max_in_flight``), re-computed as the round trip moves.
Finished segments come back on a queue, in whatever order they finish, and are settled in the
engine's thread (the run log is written from one thread only).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import queue
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic

from cdi_tui.braze.client import BrazeError, SendCancelled, SendOutcome
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.engine.ports import BrazeSender, Job, OnResult, Result

__all__ = ["Dispatcher", "OnResult", "Result"]

LATENCY_HEADROOM = 1.25  # in flight beyond Little's law, for jitter in the round trip


def _unexpected(error: Exception) -> BrazeError:
    """Never lose a job: an unforeseen fault is reported as a failure of the send."""
    return BrazeError(f"sending failed unexpectedly: {type(error).__name__}: {error}")


class Dispatcher(Generic[Job]):
    """``submit(job, items, on_result)``; each job comes back once through ``on_result``.

    Args:
        client: an open :class:`~cdi_tui.engine.ports.BrazeSender` (a ``BrazeClient``: its
            ``stop`` event ends waits on the limiter and backoffs; a request already under
            way is answered first).
        deletes: send to ``/users/delete`` instead of ``/users/track``.
        max_in_flight: the most requests under way at once.
        rate_per_second: requests a second the rate limit allows.
        catalog: send catalog items to this catalog instead (``PUT``/``DELETE /catalogs/{catalog}/items``).
    """

    def __init__(
        self, client: BrazeSender, *, deletes: bool, max_in_flight: int, rate_per_second: float, catalog: str | None = None
    ) -> None:
        self._client = client
        self._send: Callable[[Sequence[BrazeObject]], SendOutcome] = client.send_delete if deletes else client.send_track
        self._send_async: Callable[[Sequence[BrazeObject]], Awaitable[SendOutcome]] = (
            client.send_delete_async if deletes else client.send_track_async
        )
        if catalog is not None:
            self._send = functools.partial(client.send_catalog, catalog)
            self._send_async = functools.partial(client.send_catalog_async, catalog)
        self.max_in_flight = max(1, max_in_flight)
        self._rate = max(rate_per_second, 0.001)
        self._slow_seconds = max(0.002, 1.0 / self._rate)
        self._results: queue.SimpleQueue[tuple[Job, Result]] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._inbox: deque[tuple[Job, Sequence[BrazeObject]]] = deque()  # submitted, not yet taken by the loop
        self._wake_pending = False
        self._recent: deque[float] = deque(maxlen=5)  # round trips of the last requests sent inline
        self.pending = 0  # submitted to the loop, result not yet handed back
        self.peak_in_flight = 0
        self.concurrent = False  # True once requests went out from the event loop, many at a time

    # state -------------------------------------------------------------------------------
    @property
    def target_in_flight(self) -> int:
        """Requests to keep under way: enough to use the rate limit at the measured round trip."""
        if self._loop is None:
            return 1
        round_trip = max(self._client.round_trip_seconds, 0.001)
        wanted = math.ceil(self._rate * round_trip * LATENCY_HEADROOM) + 1
        return max(1, min(self.max_in_flight, wanted))

    # sending -----------------------------------------------------------------------------
    def submit(self, job: Job, items: Sequence[BrazeObject], on_result: OnResult[Job]) -> None:
        """Send one request's objects. Inline while Braze answers fast; else from the loop,
        first handing finished results to ``on_result`` while as many as needed are under way."""
        if self._loop is None:
            if not self._slow():
                on_result(job, self._send_inline(items))
                self._recent.append(self._client.last_round_trip_seconds)
                return
            self._start_loop()
        while self.pending >= self.target_in_flight:
            self.drain(on_result, block=True, timeout=0.05)
        assert self._loop is not None
        self.pending += 1
        self.peak_in_flight = max(self.peak_in_flight, self.pending)
        self._inbox.append((job, items))
        if not self._wake_pending:  # one wake-up (a write to the loop's pipe) for all that came since
            self._wake_pending = True
            self._loop.call_soon_threadsafe(self._spawn_all)

    def drain(self, on_result: OnResult[Job], block: bool = False, timeout: float | None = None) -> None:
        """Hand finished results to ``on_result``; with ``block``, wait up to ``timeout`` for the first."""
        while self.pending:
            try:
                job, result = self._results.get(block=block, timeout=timeout)
            except queue.Empty:
                return
            self.pending -= 1
            on_result(job, result)
            block = False

    def finish(self, on_result: OnResult[Job]) -> None:
        """Wait for every request under way, hand its result on, then close the loop."""
        try:
            while self.pending:
                self.drain(on_result, block=True, timeout=0.2)
        finally:
            self._stop_loop()

    # inline ------------------------------------------------------------------------------
    def _slow(self) -> bool:
        """Braze answers too slowly for one request at a time: the median of the last few
        round trips (one slow answer on a busy machine is not enough) is over a request's
        share of the rate limit."""
        recent = self._recent
        return len(recent) >= 3 and sorted(recent)[len(recent) // 2] > self._slow_seconds

    def _send_inline(self, items: Sequence[BrazeObject]) -> Result:
        try:
            return self._send(items)
        except (BrazeError, SendCancelled) as error:
            return error
        except Exception as error:
            return _unexpected(error)

    # the loop ----------------------------------------------------------------------------
    def _start_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self.concurrent = True
        self._thread = threading.Thread(target=loop.run_forever, name="braze-send", daemon=True)
        self._thread.start()

    def _spawn_all(self) -> None:
        self._wake_pending = False  # before taking: a job added from now on schedules a new wake-up
        loop = asyncio.get_running_loop()
        inbox = self._inbox
        while inbox:
            job, items = inbox.popleft()
            task = loop.create_task(self._send_one(job, items))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_one(self, job: Job, items: Sequence[BrazeObject]) -> None:
        result: Result
        try:
            result = await self._send_async(items)
        except (BrazeError, SendCancelled) as error:
            result = error
        except Exception as error:
            result = _unexpected(error)
        self._results.put((job, result))

    def _call(self, coroutine: Coroutine[Any, Any, None], timeout: float) -> None:
        assert self._loop is not None
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._call(self._client.aclose(), timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None
