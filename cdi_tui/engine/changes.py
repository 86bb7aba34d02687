"""Send only changed attributes: what each attribute integration delivered, per user, and the
filter that keeps unchanged values out of requests.

Braze counts a data point for every attribute set, changed or not. For an integration with
``send_changed_only``, the tool remembers a fingerprint of each attribute value Braze
accepted (per integration and user identifier: 4 bytes for the attribute's name and 8 for its
value) in SQLite beside the run log, and sends of each row only the attributes whose value
differs from what was delivered (a missing fingerprint counts as different). A row with
nothing changed is not sent at all and counts as *unchanged*.

- Values compare by content: objects whatever their key order, arrays in order.
- Values that are operations rather than values (an object with a ``$``-key such as
  ``{"$add": [...]}``, or Braze's ``{"inc": n}``) are always sent.
- Identifiers and control keys (``_update_existing_only``, ``_merge_objects``) are not
  attributes: they go with every object that is sent, and cost no data point.
- Only what Braze accepted is remembered: a rejected or unsent object changes nothing, and
  after a crash values in flight are simply sent again.
- Within a run, a user's values still in flight count as the latest, so two rows of one user
  read close together are both compared against the newer one.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import struct
import threading
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
import xxhash

from cdi_tui.braze.objects import BrazeObject
from cdi_tui.engine.transform import BODY_IDENTIFIER_KEYS, describe_identifier

CONTROL_KEYS = frozenset({"_update_existing_only", "_merge_objects"})
NOT_ATTRIBUTES = BODY_IDENTIFIER_KEYS | CONTROL_KEYS
LOOKUP_CHUNK = 500  # user identifiers in one SELECT

Fingerprints = dict[int, int]  # attribute name hash -> value hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered (
    integration TEXT NOT NULL,
    user TEXT NOT NULL,
    fingerprints BLOB NOT NULL,
    PRIMARY KEY (integration, user)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivered_by_user ON delivered (user);
"""


def data_points(item: BrazeObject) -> int:
    """What Braze counts for one object: each attribute set, or one event or purchase; deletes none."""
    array = item.array
    if array == "attributes":
        return sum(1 for key in item.body if key not in NOT_ATTRIBUTES)
    return 1 if array in ("events", "purchases") else 0


def user_key(body: dict[str, Any]) -> str:
    """The user an object is about, as the store keys it (``external_id=user-1``)."""
    return describe_identifier({key: value for key, value in body.items() if key in BODY_IDENTIFIER_KEYS})


def _is_operation(value: Any) -> bool:
    return value.__class__ is dict and any(key == "inc" or key.startswith("$") for key in value)


_name_hashes: dict[str, int] = {}


def _name_hash(name: str) -> int:
    known = _name_hashes.get(name)
    if known is None:
        known = _name_hashes[name] = zlib.crc32(name.encode("utf-8"))
    return known


def _value_hash(value: Any) -> int:
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return xxhash.xxh3_64_intdigest(text)


def _pack(fingerprints: Fingerprints) -> bytes:
    count = len(fingerprints)
    return struct.pack(f"<{count}I{count}Q", *fingerprints.keys(), *fingerprints.values())


def _unpack(blob: bytes) -> Fingerprints:
    count = len(blob) // 12
    values = struct.unpack(f"<{count}I{count}Q", blob)
    return dict(zip(values[:count], values[count:], strict=True))


class DeliveredStore:
    """The fingerprints of delivered attribute values (one SQLite file, shared by processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        with contextlib.suppress(OSError):
            path.chmod(0o600)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def lookup(self, integration: str, users: Sequence[str]) -> dict[str, Fingerprints]:
        """The remembered fingerprints of ``users`` (those with none are left out)."""
        found: dict[str, Fingerprints] = {}
        unique = list(dict.fromkeys(users))
        with self._lock:
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start : start + LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                for user, blob in self._conn.execute(
                    f"SELECT user, fingerprints FROM delivered WHERE integration = ? AND user IN ({marks})",
                    (integration, *chunk),
                ):
                    found[user] = _unpack(blob)
        return found

    def remember(self, integration: str, delivered: Iterable[tuple[str, Fingerprints]]) -> None:
        """Merge newly delivered fingerprints into what is remembered of each user."""
        merged: dict[str, Fingerprints] = {}
        for user, fingerprints in delivered:
            merged.setdefault(user, {}).update(fingerprints)
        if not merged:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                known = self.lookup(integration, list(merged))
                rows = []
                for user, fingerprints in merged.items():
                    combined = known.get(user, {})
                    combined.update(fingerprints)
                    rows.append((integration, user, _pack(combined)))
                self._conn.executemany(
                    "INSERT INTO delivered (integration, user, fingerprints) VALUES (?, ?, ?) "
                    "ON CONFLICT (integration, user) DO UPDATE SET fingerprints = excluded.fingerprints",
                    rows,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def forget_integration(self, integration: str) -> None:
        """A full resync, or a new credential or table: everything is sent again."""
        with self._lock:
            self._conn.execute("DELETE FROM delivered WHERE integration = ?", (integration,))

    def forget_users(self, users: Sequence[str]) -> None:
        """Users deleted from Braze: every integration sends all their attributes again."""
        unique = list(dict.fromkeys(users))
        with self._lock:
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start : start + LOOKUP_CHUNK]
                self._conn.execute(f"DELETE FROM delivered WHERE user IN ({','.join('?' * len(chunk))})", chunk)

    def users(self, integration: str) -> int:
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM delivered WHERE integration = ?", (integration,)).fetchone()
        return int(row[0])


def estimate(items: Sequence[BrazeObject], store: DeliveredStore | None, integration: str) -> tuple[int, int]:
    """(data points, unchanged rows) that sending ``items`` now would give: with ``store``
    (send only changed attributes) against what was delivered, else every object whole."""
    if store is None:
        return sum(data_points(item) for item in items), 0
    verdicts = ChangeFilter(store, integration, remember=False).filter(items)
    return sum(data_points(item) for item in verdicts if item is not None), sum(1 for item in verdicts if item is None)


class ChangeFilter:
    """One run's filter: unchanged attributes out before sending, delivered ones remembered after.

    Args:
        store: the remembered fingerprints.
        integration: whose.
        remember: False for a dry run or an estimate: nothing is remembered, and a user's
            values compare with what was delivered and with the rows read in the same block.
    """

    def __init__(self, store: DeliveredStore, integration: str, remember: bool = True) -> None:
        self._store = store
        self._integration = integration
        self._remember = remember
        # values sent in this run and not yet settled, per user: (fingerprints, requests pending)
        self._in_flight: dict[str, tuple[Fingerprints, int]] = {}
        self._sent: dict[int, tuple[str, Fingerprints]] = {}  # id(object sent) -> (user, its fingerprints)

    def filter(self, items: Sequence[BrazeObject]) -> list[BrazeObject | None]:
        """For each object, the object to send with only its changed attributes, or None when
        nothing in it changed (the row is not sent)."""
        users = [user_key(item.body) for item in items]
        known = self._store.lookup(self._integration, users)
        in_flight = self._in_flight
        verdicts: list[BrazeObject | None] = []
        for item, user in zip(items, users, strict=True):
            before = known.get(user, {})
            pending = in_flight.get(user)
            if pending is not None:
                before = {**before, **pending[0]}
            body: dict[str, Any] = {}
            fingerprints: Fingerprints = {}
            attributes = 0
            for key, value in item.body.items():
                if key in NOT_ATTRIBUTES:
                    body[key] = value
                    continue
                if _is_operation(value):
                    body[key] = value
                    attributes += 1
                    continue
                name, fingerprint = _name_hash(key), _value_hash(value)
                if before.get(name) != fingerprint:
                    body[key] = value
                    fingerprints[name] = fingerprint
                    attributes += 1
            if not attributes:
                verdicts.append(None)
                continue
            sent = BrazeObject(item.array, body, item.ref)
            verdicts.append(sent)
            self._sent[id(sent)] = (user, fingerprints)
            merged = {**pending[0], **fingerprints} if pending is not None else fingerprints
            in_flight[user] = (merged, (pending[1] if pending is not None else 0) + 1)
        if not self._remember:  # a dry run: nothing is sent, so nothing settles; the block's values count, no more
            in_flight.clear()
            self._sent.clear()
        return verdicts

    def remember(self, delivered: Sequence[BrazeObject]) -> None:
        """Remember objects delivered outside :meth:`changed` (the retry list sends them as they were)."""
        if not self._remember:
            return
        entries = []
        for item in delivered:
            fingerprints = {
                _name_hash(key): _value_hash(value)
                for key, value in item.body.items()
                if key not in NOT_ATTRIBUTES and not _is_operation(value)
            }
            entries.append((user_key(item.body), fingerprints))
        self._store.remember(self._integration, entries)

    def settled(self, delivered: Sequence[BrazeObject], sent: Sequence[BrazeObject]) -> None:
        """After an answer: remember what Braze accepted; let go of everything that was sent."""
        if not self._remember:
            return
        self._store.remember(self._integration, [self._sent[id(item)] for item in delivered if id(item) in self._sent])
        for item in sent:
            entry = self._sent.pop(id(item), None)
            if entry is None:
                continue
            user = entry[0]
            pending = self._in_flight.get(user)
            if pending is not None:
                if pending[1] <= 1:
                    del self._in_flight[user]
                else:
                    self._in_flight[user] = (pending[0], pending[1] - 1)
