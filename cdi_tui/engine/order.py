"""Per-user order: Braze ends up holding each user's newest values, whatever the timing.

Braze applies the requests under way together in whatever order it processes them, and a
retried request after everything sent meanwhile. So for attribute integrations the pump
never has two requests for one user under way at once: a user's rows read while an object
of theirs is open or under way are *folded* into one object that waits its turn, newest
value per attribute (rows are read in UPDATED_AT order, ties in read order). A row each of
whose attributes a newer row of the same object sets again is *superseded*: it is counted,
never sent.

Folding keeps Braze's semantics of applying the rows one after the other:

- a newer value replaces an older one (``null`` included: it removes the attribute);
- with ``_merge_objects: true`` on both, nested objects merge key by key (newer wins);
- an operation (``{"inc": n}``, ``add``/``remove``, ``$add``/``$remove``/``$update``) cannot
  be combined with another change of the same attribute, nor can rows whose control keys
  differ: such a row waits for the object before it instead of joining it.

Catalog items (keyed by item id instead of user) fold by :func:`join_whole`: a newer row
replaces the item whole, as ``PUT`` (which replaces an item) and ``DELETE`` do, so the newest
row of an item wins and every older one is superseded.

This module holds the rules alone (no I/O); :class:`cdi_tui.engine.pump.Pump` keeps the
lines of objects per user (or item) and calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cdi_tui.braze.objects import BrazeObject
from cdi_tui.braze.rules import ARRAY_OF_OBJECTS_OPERATIONS, is_date, is_flat_operation
from cdi_tui.engine.transform import BODY_IDENTIFIER_KEYS

CONTROL_KEYS = frozenset({"_update_existing_only", "_merge_objects"})
NOT_ATTRIBUTES = BODY_IDENTIFIER_KEYS | CONTROL_KEYS


def is_operation(value: Any) -> bool:
    """A change of an attribute's value rather than a value (always sent; never folded with another)."""
    return value.__class__ is dict and (is_flat_operation(value) or bool(value.keys() & ARRAY_OF_OBJECTS_OPERATIONS))


class FoldRow:
    """One row an object carries.

    ``hold``: the segment this row was read in, when that segment waits for this object to be
    settled (the row travels in another segment's request, or in a request of its own); None
    when the row belongs to the segment whose request carries the object.
    """

    __slots__ = ("body", "hold", "moment", "owned")

    def __init__(self, moment: datetime | None, body: dict[str, Any], hold: Any) -> None:
        self.moment = moment
        self.body = body  # the row's own object, as the transform made it (for its row error)
        self.hold = hold
        self.owned = 0  # attributes of the object whose value comes from this row


class Fold:
    """The rows one object carries, oldest first, and which row each attribute's value came from."""

    __slots__ = ("owner", "row_fingerprint", "rows")

    def __init__(self, first: FoldRow, attributes: list[str], row_fingerprint: int | None) -> None:
        self.rows = [first]
        self.owner: dict[str, FoldRow] = dict.fromkeys(attributes, first)
        first.owned = len(attributes)
        self.row_fingerprint = row_fingerprint  # of the newest row (for "send only changed")


def attribute_names(body: dict[str, Any]) -> list[str]:
    return [key for key in body if key not in NOT_ATTRIBUTES]


def compatible(older: dict[str, Any], newer: dict[str, Any]) -> bool:
    """Whether ``newer`` can join ``older`` with the same result as sending them one after the other."""
    for key in CONTROL_KEYS:
        if older.get(key) != newer.get(key):
            return False
    merge = newer.get("_merge_objects") is True
    for key, value in newer.items():
        if key in NOT_ATTRIBUTES or key not in older:
            continue
        if is_operation(value):
            return False  # an operation after another change of the same attribute
        if merge and value.__class__ is dict and not is_date(value):
            before = older[key]
            if before.__class__ is not dict or is_operation(before) or is_date(before):
                return False  # a merge into what an older row set whole: only sending both in turn gives it
    return True


def _deep_merge(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(stored)
    stack = [(merged, update)]
    while stack:
        target, source = stack.pop()
        for key, value in source.items():
            before = target.get(key)
            if value.__class__ is dict and before.__class__ is dict and not is_date(value) and not is_date(before):
                copied = dict(before)
                target[key] = copied
                stack.append((copied, value))
            else:
                target[key] = value
    return merged


def start_fold(item: BrazeObject, hold: Any, row_fingerprint: int | None) -> Fold:
    """Give ``item`` a fold of its own row (before a second row joins it, or when it waits)."""
    fold = Fold(FoldRow(item.ref, item.body, hold), attribute_names(item.body), row_fingerprint)
    item.body = dict(item.body)  # merged into from now on; the row keeps its own
    item.fold = fold
    return fold


def join(
    target: BrazeObject,
    newer: BrazeObject,
    hold: Any,
    row_fingerprint: int | None,
    superseded: Callable[[FoldRow], None],
) -> bool:
    """Fold ``newer`` (a row read after every row ``target`` carries) into ``target``.

    Returns False, changing nothing, when it cannot join (see :func:`compatible`); else the
    object carries the newer values, and ``superseded`` is called for each older row that no
    longer contributes a value (it is removed from the fold).

    Args:
        hold: the segment of ``newer``'s row, when it must wait for ``target`` (see :class:`FoldRow`).
    """
    if not compatible(target.body, newer.body):
        return False
    fold = target.fold if target.fold is not None else start_fold(target, None, None)
    body = target.body
    row = FoldRow(newer.ref, newer.body, hold)
    merge = newer.body.get("_merge_objects") is True
    owner = fold.owner
    emptied = []
    for key, value in newer.body.items():
        if key in NOT_ATTRIBUTES:
            continue
        previous = owner.get(key)
        before = body.get(key)
        if merge and value.__class__ is dict and before.__class__ is dict and not is_date(value) and not is_date(before):
            body[key] = _deep_merge(before, value)  # both rows keep a part of it
        else:
            body[key] = value
            if previous is not None:
                previous.owned -= 1
                if previous.owned == 0:
                    emptied.append(previous)
        if owner.get(key) is not row:
            owner[key] = row
            row.owned += 1
    fold.rows.append(row)
    fold.row_fingerprint = row_fingerprint
    # a row that set nothing (an empty payload) is moot once a newer row joins it
    emptied.extend(older for older in fold.rows[:-1] if older.owned == 0 and older not in emptied)
    for older in emptied:
        fold.rows.remove(older)
        superseded(older)
    return True


def join_whole(
    target: BrazeObject,
    newer: BrazeObject,
    hold: Any,
    row_fingerprint: int | None,
    superseded: Callable[[FoldRow], None],
) -> bool:
    """Fold ``newer`` into ``target`` by replacing it whole (catalog items: the newest row wins).

    Always joins: ``target`` takes ``newer``'s request (write or delete) and body, and every row
    it carried is superseded. Arguments as for :func:`join`.
    """
    fold = target.fold if target.fold is not None else start_fold(target, None, None)
    row = FoldRow(newer.ref, newer.body, hold)
    row.owned = 1
    older_rows = fold.rows
    fold.rows = [row]
    fold.owner = {}
    fold.row_fingerprint = row_fingerprint
    target.array = newer.array
    target.body = dict(newer.body)
    for older in older_rows:
        superseded(older)
    return True


Join = Callable[[BrazeObject, BrazeObject, Any, "int | None", Callable[[FoldRow], None]], bool]


def carried_rows(item: BrazeObject) -> int:
    """How many rows an object carries (one when it was never folded)."""
    return 1 if item.fold is None else len(item.fold.rows)
