"""UPDATED_AT values the warehouse can hold but Python cannot: ``infinity``, ``-infinity``,
years before 1 or after 9999 (PostgreSQL and Redshift go from 4713 BC to 294276 AD).

redshift-connector turns each of them into a naive ``datetime.min`` or ``datetime.max``, which
cannot be compared with the time-zone-aware values of a ``timestamptz`` column and would
pass for a real time in a ``timestamp`` one. The reading layer never hands such a value on:
it replaces it with an :class:`OutOfRangeTime`, which the transform turns into a row error
with a clear reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

FLOOR = datetime(1, 1, 1, tzinfo=UTC)
CEILING = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
TIMESTAMP_WITHOUT_TIME_ZONE_OID = 1114


class OutOfRangeTime(datetime):
    """Stands in for an UPDATED_AT Python cannot hold; ``text`` is how the warehouse writes it.

    It compares as the earliest time there is (aware or naive like the column's other values),
    so it sorts where ``-infinity`` and BC times sort and never pushes a watermark ahead; its
    ``isoformat`` is that of 0001-01-01, so a watermark saved at it reads back. ``str`` gives
    the warehouse's text.
    """

    text = ""

    @classmethod
    def of(cls, text: str, aware: bool = True) -> OutOfRangeTime:
        moment = cls(1, 1, 1, tzinfo=UTC if aware else None)
        moment.text = text
        return moment

    def __str__(self) -> str:
        return self.text or super().__str__()

    def __repr__(self) -> str:
        return f"OutOfRangeTime({self.text!r})"

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (OutOfRangeTime.of, (self.text, self.tzinfo is not None))


def out_of_range_reason(moment: OutOfRangeTime) -> str:
    """Why a row with this UPDATED_AT is not sent, and what to do."""
    return (
        f"UPDATED_AT is {moment.text or 'out of range'}, which cannot be synced (times from year 1 to 9999 can); "
        "set it to the time the row changed"
    )


def out_of_range_sql(column_sql: str) -> str:
    """A select-list expression: the column as text when it is out of Python's range, else NULL.

    The two bounds are bound parameters (:func:`out_of_range_params`).
    """
    return f"CASE WHEN {column_sql} < %s OR {column_sql} > %s THEN CAST({column_sql} AS VARCHAR(64)) END"


def out_of_range_params() -> tuple[datetime, datetime]:
    return (FLOOR, CEILING)
