"""How fast a sync goes now, and when its ETA can be trusted.

A run's own average (rows done / time since it started) counts the connection, the row count
and the first requests, when few rows move: its ETA starts far too long and jumps. The rate
here is measured over the last few seconds, and the ETA is shown only once that rate is steady
(several measures in a row agree), so it does not jump from 48 minutes to nothing to 1.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW_SECONDS = 5.0  # the rate is measured over this much of the latest progress
STEADY_SECONDS = 4.5  # and the ETA waits for (nearly) a full window of it
STEADY_SPREAD = 0.25  # the latest rates may differ from their mean by this share at most
STEADY_COUNT = 4  # this many of them


@dataclass
class RateWindow:
    """Feed it each progress (seconds since the run started, rows done); ask for the rate and the ETA."""

    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=200))
    rates: deque[float] = field(default_factory=lambda: deque(maxlen=STEADY_COUNT))

    def add(self, elapsed: float, done: int) -> None:
        if self.samples and elapsed <= self.samples[-1][0]:
            return
        self.samples.append((elapsed, done))
        while len(self.samples) > 2 and elapsed - self.samples[1][0] >= WINDOW_SECONDS:
            self.samples.popleft()
        rate = self.rate
        if rate is not None:
            self.rates.append(rate)

    @property
    def span(self) -> float:
        return self.samples[-1][0] - self.samples[0][0] if len(self.samples) > 1 else 0.0

    @property
    def rate(self) -> float | None:
        """Rows a second over the window, once it spans a second (None before)."""
        if self.span < 1.0:
            return None
        (start, done_then), (end, done_now) = self.samples[0], self.samples[-1]
        return (done_now - done_then) / (end - start)

    @property
    def steady(self) -> bool:
        if self.span < STEADY_SECONDS or len(self.rates) < STEADY_COUNT:
            return False
        mean = sum(self.rates) / len(self.rates)
        return mean > 0 and all(abs(rate - mean) <= STEADY_SPREAD * mean for rate in self.rates)

    def eta(self, total: int | None, done: int) -> float | None:
        """Seconds left, or None while the rate is not steady (or the total not known)."""
        rate = self.rate
        if not total or rate is None or rate <= 0 or not self.steady:
            return None
        return max(0.0, (total - done) / rate)
