"""One Braze object, as the transform makes it and the client sends it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class BrazeObject:
    """``array`` is attributes/events/purchases, or a delete list name (external_ids, ...);
    ``body`` the object itself; ``ref`` the sender's handle for it (a row's UPDATED_AT, or a
    retry-list row), handed back with every outcome; ``user`` the user it is about, as the
    run log names it (``external_id=u1``); ``fold`` the rows it carries when it is made of
    more than one row of that user (:class:`cdi_tui.engine.order.Fold`), else None."""

    array: str
    body: dict[str, Any]
    ref: Any = None
    user: str = ""
    fold: Any = None
