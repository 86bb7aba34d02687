"""A small pool of threads that send prepared requests to Braze.

The engine's thread reads and transforms rows and hands each segment (one request's worth)
to the pool; finished segments come back on a results queue in whatever order they finish.
Threads rather than asyncio: the HTTP client is driven synchronously (see
:mod:`cdi_tui.braze.client`), which costs far less CPU per request, and a sync is bound by
CPU per row.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from cdi_tui.braze.client import BrazeError, SendCancelled, SendOutcome
from cdi_tui.braze.objects import BrazeObject

Job = TypeVar("Job")
SendFunction = Callable[[Sequence[BrazeObject]], SendOutcome]
Result = SendOutcome | BrazeError | SendCancelled

_STOP = object()


class SenderPool(Generic[Job]):
    """``submit(job, items, on_result)``; finished jobs come back through ``on_result``.

    With no threads it sends in the caller's thread until an answer is slow; then it starts
    threads, with ``min_workers`` threads at first and adding one (up to ``max_workers``) whenever the
    queue is full while requests take long (``slow_request_seconds``; ``round_trip`` gives the
    network time alone, so waiting on the rate limit does not count): by Little's law a
    distant Braze needs many requests in flight, while a near one is served by a couple of
    threads, and every extra thread costs CPU in contention.
    """

    def __init__(
        self,
        send: SendFunction,
        max_workers: int,
        min_workers: int = 0,
        slow_request_seconds: float = 0.005,
        round_trip: Callable[[], float] | None = None,
    ) -> None:
        self._send = send
        self._round_trip = round_trip
        self.max_workers = max(1, max_workers)
        self._requests: queue.Queue[Any] = queue.Queue(maxsize=self.max_workers * 2)
        self._results: queue.Queue[tuple[Job, Result]] = queue.Queue()
        self.pending = 0
        self._slow = slow_request_seconds
        self._latency = 0.0  # moving average of one request's wall time
        self._threads: list[threading.Thread] = []
        for _ in range(min(min_workers, self.max_workers)):
            self._add_worker()

    @property
    def workers(self) -> int:
        return len(self._threads)

    def _add_worker(self) -> None:
        thread = threading.Thread(target=self._work, name=f"braze-send-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run_one(self, items: Sequence[BrazeObject]) -> Result:
        started = time.monotonic()
        result: Result
        try:
            result = self._send(items)
        except (BrazeError, SendCancelled) as error:
            result = error
        except Exception as error:  # never lose a job: report it as a failure of the send
            result = BrazeError(f"sending failed unexpectedly: {type(error).__name__}: {error}")
        self._latency = 0.8 * self._latency + 0.2 * (time.monotonic() - started)
        return result

    def _work(self) -> None:
        while True:
            entry = self._requests.get()
            if entry is _STOP:
                return
            job, items = entry
            self._results.put((job, self._run_one(items)))

    def _slow_answers(self) -> bool:
        latency = self._round_trip() if self._round_trip is not None else self._latency
        return latency > self._slow

    def submit(self, job: Job, items: Sequence[BrazeObject], on_result: Callable[[Job, Result], None]) -> None:
        """Send a request: in the caller's thread while Braze answers fast (no thread hand-offs,
        the least CPU), else through the worker threads. While their queue is full, finished
        results are handed to ``on_result``."""
        if not self._threads:
            if not self._slow_answers():
                on_result(job, self._run_one(items))
                return
            self._add_worker()
            self._add_worker()
        entry = (job, items)
        while True:
            self.drain(on_result)
            if self._requests.full() and len(self._threads) < self.max_workers and self._slow_answers():
                self._add_worker()
            try:
                self._requests.put(entry, timeout=0.05)
            except queue.Full:
                continue
            self.pending += 1
            return

    def drain(self, on_result: Callable[[Job, Result], None], block: bool = False, timeout: float | None = None) -> None:
        """Hand finished results to ``on_result``; with ``block``, wait up to ``timeout`` for the first."""
        while self.pending:
            try:
                job, result = self._results.get(block=block, timeout=timeout)
            except queue.Empty:
                return
            self.pending -= 1
            on_result(job, result)
            block = False

    def finish(self, on_result: Callable[[Job, Result], None]) -> None:
        """Wait for every submitted request, then stop the threads."""
        while self.pending:
            self.drain(on_result, block=True, timeout=0.2)
        for _thread in self._threads:
            self._requests.put(_STOP)
        for thread in self._threads:
            thread.join(30)
