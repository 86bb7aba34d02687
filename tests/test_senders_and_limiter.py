"""The sender pool and the rate limiter, with real threads and real clocks."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from cdi_tui.braze.client import RateLimiter, SendCancelled, SendOutcome, shared_limiter
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.engine.senders import SenderPool


def make_send(delay: float):
    def send(items: Sequence[BrazeObject]) -> SendOutcome:
        time.sleep(delay)
        return SendOutcome(delivered=list(items))

    return send


def run_jobs(pool: SenderPool[int], count: int) -> list[int]:
    done: list[int] = []

    def on_result(job: int, result: object) -> None:
        assert isinstance(result, SendOutcome)
        done.append(job)

    for job in range(count):
        pool.submit(job, [BrazeObject("attributes", {"external_id": str(job)}, job)], on_result)
    pool.finish(on_result)
    return done


def test_every_job_comes_back_exactly_once() -> None:
    for minimum in (0, 4):
        pool: SenderPool[int] = SenderPool(make_send(0.0), max_workers=4, min_workers=minimum)
        assert sorted(run_jobs(pool, 500)) == list(range(500))


def test_fast_answers_are_sent_inline_and_slow_ones_grow_a_pool_of_threads() -> None:
    fast: SenderPool[int] = SenderPool(make_send(0.0), max_workers=8)
    run_jobs(fast, 300)
    assert fast.workers == 0  # sent in the caller's thread: no hand-offs
    slow: SenderPool[int] = SenderPool(make_send(0.03), max_workers=8)
    started = time.monotonic()
    assert sorted(run_jobs(slow, 80)) == list(range(80))
    assert slow.workers > 2
    assert time.monotonic() - started < 80 * 0.03 / 2  # requests really were in flight together


def test_the_limiter_allows_exactly_the_limit_in_a_window() -> None:
    limiter = RateLimiter(5, 0.5, margin_seconds=0.0)
    started = time.monotonic()
    for _ in range(5):
        limiter.acquire()
    assert time.monotonic() - started < 0.1
    limiter.acquire()  # the sixth waits for the window
    assert time.monotonic() - started >= 0.45


def test_a_pause_holds_every_sender_and_stop_interrupts_it() -> None:
    limiter = RateLimiter(100, 1.0)
    limiter.pause_until(time.monotonic() + 5)
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    with pytest.raises(SendCancelled):
        limiter.acquire(stop)
    assert time.monotonic() - started < 2


def test_one_limiter_per_workspace_key_is_shared() -> None:
    first = shared_limiter("https://rest.iad-01.braze.com", "key-a", 3000, 3.0)
    assert shared_limiter("https://rest.iad-01.braze.com", "key-a", 3000, 3.0) is first
    assert shared_limiter("https://rest.iad-01.braze.com", "key-b", 3000, 3.0) is not first
