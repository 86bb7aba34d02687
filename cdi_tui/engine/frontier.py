"""The frontier: the run's watermark, moved only over done segments, in read order.

Rows are read in UPDATED_AT order and cut into *segments* of one request each. A segment is
done when each of its rows was delivered, recorded as a row error, or put on the retry list.
Requests finish in any order; the frontier moves over the done segments at the front of the
line and saves the watermark (last UPDATED_AT, and how many rows at it are done) each time
it moves, so a run that dies resumes where it stopped: rows sent twice are at most those of
the segments not yet passed, which the pump keeps to ``max_in_flight`` requests' worth.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from cdi_tui.braze.objects import BrazeObject
from cdi_tui.runlog import RowErrorRecord, RunLog, Watermark


class Segment:
    """Consecutive rows in read order whose valid objects make one request.

    Rows come in UPDATED_AT order, so the segment's first and last timestamps and how many of
    its rows carry the last one are worked out once, when it is closed, from its objects
    (whose ``ref`` is their first row's UPDATED_AT), the rows it sends nothing for (invalid,
    or unchanged) and the rows another object carries (folded into one of its objects, or
    waiting for an object of the same user under way): nothing is counted per row.

    A segment is done when its request was answered (or it had none) and no row of it is
    still held in another request (``holds``). A *carrier* is a request of objects that were
    waiting for their user's turn; it is not in the frontier's line, its rows' segments are.
    """

    __slots__ = (
        "answered",
        "carried_moments",
        "carrier",
        "errors",
        "fingerprints",
        "first_ts",
        "holds",
        "items",
        "last_ts",
        "size",
        "superseded",
        "tail",
        "unchanged",
        "unsent_moments",
    )

    def __init__(self, carrier: bool = False) -> None:
        self.size = 0
        self.first_ts: datetime | None = None
        self.last_ts: datetime | None = None
        self.tail = 0
        self.items: list[BrazeObject] = []
        self.fingerprints: list[int | None] = []  # beside items, for "send only changed" (or empty)
        self.errors: list[RowErrorRecord] = []
        self.unsent_moments: list[datetime | None] = []  # UPDATED_AT of invalid and unchanged rows
        self.carried_moments: list[datetime | None] = []  # UPDATED_AT of rows another object carries
        self.unchanged = 0
        self.superseded = 0
        self.holds = 0
        self.answered = False
        self.carrier = carrier

    @property
    def done(self) -> bool:
        return self.answered and self.holds == 0

    def close(self) -> None:
        """Work out size, first and last UPDATED_AT, and the rows at the last one."""
        items = self.items
        self.size = len(items) + len(self.unsent_moments) + len(self.carried_moments)
        moments = [moment for moment in self.unsent_moments if moment is not None]
        carried = [moment for moment in self.carried_moments if moment is not None]
        ends = moments[:1] + moments[-1:] + carried[:1] + carried[-1:]
        if items:
            ends += (items[0].ref, items[-1].ref)
        if not ends:
            return
        self.first_ts, self.last_ts = min(ends), max(ends)
        last, tail = self.last_ts, 0
        for item in reversed(items):
            if item.ref != last:
                break
            tail += 1
        self.tail = tail + sum(1 for moment in moments if moment == last) + sum(1 for moment in carried if moment == last)


class Frontier:
    """Owns the watermark of one run.

    Args:
        runlog: where the watermark is saved.
        integration: whose watermark it is.
        save: False for a dry run (nothing is saved).
    """

    def __init__(self, runlog: RunLog, integration: str, save: bool) -> None:
        self._runlog = runlog
        self._integration = integration
        self._save = save
        self._segments: deque[Segment] = deque()
        self.updated_at: datetime | None = None
        self.rows_at: int = 0
        self._dirty = False

    @property
    def open_segments(self) -> int:
        """Segments handed on and not yet passed by the watermark."""
        return len(self._segments)

    def add(self, segment: Segment) -> None:
        """A closed segment joins the line, in read order."""
        self._segments.append(segment)

    def advance(self, save: bool = True) -> None:
        """Move over the done segments at the front of the line; save the watermark if it moved
        (unless ``save`` is False: the caller saves it with what it writes beside it)."""
        segments = self._segments
        while segments and segments[0].done:
            segment = segments.popleft()
            if segment.last_ts is None:
                continue
            if segment.first_ts == segment.last_ts == self.updated_at:
                self.rows_at += segment.size
            else:
                self.updated_at = segment.last_ts
                self.rows_at = segment.tail
            self._dirty = True
        # every move is saved at once (about 10 us a save): after a crash, only rows that
        # were not yet passed are sent again
        if save:
            self.save()

    def save(self) -> None:
        if self._dirty and self._save and self.updated_at is not None:
            self._runlog.save_watermark(self._integration, Watermark(self.updated_at, self.rows_at))
            self._dirty = False
