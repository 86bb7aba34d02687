"""The rate limiter, with real threads, a real event loop and real clocks (the dispatcher is
tested against the Braze stand-in in test_distant_braze.py)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from cdi_tui.braze.client import RateLimiter, SendCancelled, shared_limiter


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


def test_the_limiter_holds_requests_of_an_event_loop_and_of_threads_to_one_limit() -> None:
    limiter = RateLimiter(6, 0.5, margin_seconds=0.0)
    limiter.acquire()
    limiter.acquire()  # two taken by a thread
    stop = threading.Event()

    async def take(count: int) -> float:
        started = time.monotonic()
        for _ in range(count):
            await limiter.acquire_async(stop)
        return time.monotonic() - started

    assert asyncio.run(take(4)) < 0.1  # the four left in the window
    assert asyncio.run(take(1)) >= 0.4  # the seventh waits for the window, without blocking its loop
    stop.set()
    limiter.pause_until(time.monotonic() + 5)
    with pytest.raises(SendCancelled):
        asyncio.run(take(1))
