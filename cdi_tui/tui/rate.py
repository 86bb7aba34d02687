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
STEADY_SECONDS = 3.0  # the ETA waits until the rates of this long agree
STEADY_SPREAD = 0.25  # within this share of their mean


@dataclass
class RateWindow:
    """Feed it each progress (seconds since the run started, rows done); ask for the rate and the ETA.

    Once the rate has been steady the ETA stays shown (it follows the recent rate), so it never
    goes blank again in the middle of a run.
    """

    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=400))
    rates: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=400))
    settled: bool = False

    def add(self, elapsed: float, done: int) -> None:
        if self.samples and elapsed <= self.samples[-1][0]:
            return
        self.samples.append((elapsed, done))
        while len(self.samples) > 2 and elapsed - self.samples[1][0] >= WINDOW_SECONDS:
            self.samples.popleft()
        rate = self.rate
        if rate is None or self.span < WINDOW_SECONDS * 0.9:
            return  # a window not yet full still holds the start
        self.rates.append((elapsed, rate))
        while len(self.rates) > 2 and elapsed - self.rates[1][0] >= STEADY_SECONDS:
            self.rates.popleft()
        if not self.settled and self.rates[-1][0] - self.rates[0][0] >= STEADY_SECONDS * 0.9:
            values = [value for _at, value in self.rates]
            mean = sum(values) / len(values)
            self.settled = mean > 0 and all(abs(value - mean) <= STEADY_SPREAD * mean for value in values)

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
        """The rate has held still for a while (then the ETA shows, and stays)."""
        return self.settled

    def eta(self, total: int | None, done: int) -> float | None:
        """Seconds left, or None until the rate has been steady (or while the total is not known)."""
        rate = self.rate
        if not total or rate is None or rate <= 0 or not self.settled:
            return None
        return max(0.0, (total - done) / rate)
