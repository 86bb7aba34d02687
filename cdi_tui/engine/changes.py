"""Send only changed attributes: what each attribute integration delivered, per user, and the
filter that keeps unchanged values out of requests.

Braze counts a data point for every attribute set, changed or not. For an integration with
``send_changed_only``, the tool remembers a fingerprint of each attribute value Braze
accepted (per integration and user identifier: 4 bytes for the attribute's name and 8 for its
value) in SQLite beside the run log, and sends of each row only the attributes whose value
differs from what was delivered (a missing fingerprint counts as different). A row with
nothing changed is not sent at all and counts as *unchanged*.

- Values compare by content: objects whatever their key order, arrays in order.
- Nested objects compare key by key: when only some of an object's keys changed (the same
  keys as delivered), only those are sent, with ``_merge_objects: true``; an object that
  gained or lost keys is sent whole (a merge cannot remove a key).
- Values that are operations rather than values (``{"inc": n}``, ``{"add": [...]}``,
  ``$add``/``$remove``/``$update``), and objects of a row that itself asks for
  ``_merge_objects``, are always sent, and make what was remembered of that attribute stale.
- Identifiers and control keys (``_update_existing_only``, ``_merge_objects``) are not
  attributes: they go with every object that is sent, and cost no data point.
- Only what Braze accepted is remembered: a rejected or unsent object changes nothing, and
  after a crash values in flight are simply sent again.
- Objects are compared when they are about to be sent, and the pump never has two objects
  of one user under way at once (:mod:`cdi_tui.engine.order`), so what is remembered of a
  user is exact when it is compared.
- A row read exactly as the one whose values were all delivered last for its user (one hash
  of its columns but UPDATED_AT) is known unchanged without being turned into an object or
  looking at its values one by one: a re-stamped table costs a read, a hash and a look-up a row.
- Catalog items (``whole_items``) compare whole: ``PUT`` replaces an item, so an item is sent
  whole when anything in it (or whether it is deleted) changed, and not at all otherwise. It is
  remembered per item id (``id=...``) as one fingerprint of its request and body.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import xxhash

from cdi_tui.braze.objects import BrazeObject
from cdi_tui.braze.rules import SUBSCRIPTION_ATTRIBUTES, attribute_data_points, is_date
from cdi_tui.engine.order import NOT_ATTRIBUTES, is_operation
from cdi_tui.engine.transform import RowTransformer, describe_identifier
from cdi_tui.runlog import RunLogUnavailable, set_up_connection

Fingerprints = dict[int, int]  # attribute name hash -> value hash
PackedEntry = tuple[str, int | None, bytes]  # user, whole-object fingerprint, packed attribute fingerprints


def data_points(item: BrazeObject) -> int:
    """What Braze counts for one object (:func:`cdi_tui.braze.rules.attribute_data_points` for
    each attribute; one event or purchase; deletes none)."""
    array = item.array
    if array == "attributes":
        count = 0
        for key, value in item.body.items():
            if value.__class__ is dict or key in _NOT_COUNTED_ONE:
                if key not in NOT_ATTRIBUTES:
                    count += attribute_data_points(key, value)
            else:
                count += 1
        return count
    return 1 if array in ("events", "purchases") else 0


_NOT_COUNTED_ONE = NOT_ATTRIBUTES | SUBSCRIPTION_ATTRIBUTES


def user_key(body: dict[str, Any]) -> str:
    """The user an object is about, as the store keys it (``external_id=user-1``, as the run log says
    it); for a catalog item, its id (``id=shirt-1``)."""
    for key in _IDENTIFIER_ORDER:
        value = body.get(key)
        if value is not None:
            return describe_identifier({key: value})
    if "id" in body:  # a catalog item: a user's object always has one of the identifiers above
        return describe_identifier({"id": body["id"]})
    return describe_identifier(None)


_IDENTIFIER_ORDER = ("external_id", "user_alias", "braze_id", "email", "phone")


_name_hashes: dict[str, int] = {}


def _name_hash(name: str) -> int:
    known = _name_hashes.get(name)
    if known is None:
        known = _name_hashes[name] = zlib.crc32(name.encode("utf-8"))
    return known


def _value_hash(value: Any, _dumps: Any = orjson.dumps, _sorted: int = orjson.OPT_SORT_KEYS) -> int:
    try:
        text = _dumps(value, option=_sorted)
    except TypeError:  # integers beyond 64 bits
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return _xxh3(text)


_xxh3 = xxhash.xxh3_64_intdigest
ROW = 0  # the "name" under which the fingerprint of the row last delivered whole is kept
STALE = 0  # the value fingerprint of an attribute an operation changed: never equal to a value's


def _nested_leaves(value: dict[str, Any]) -> list[tuple[tuple[str, ...], Any]]:
    """(key path, value) of each leaf of a nested object (a date, an array or an empty object is a leaf)."""
    leaves = []
    stack: list[tuple[tuple[str, ...], dict[str, Any]]] = [((), value)]
    while stack:
        path, current = stack.pop()
        for key, item in current.items():
            if item.__class__ is dict and item and not is_date(item):
                stack.append(((*path, key), item))
            else:
                leaves.append(((*path, key), item))
    return leaves


def _leaf_name(attribute: str, path: tuple[str, ...]) -> str:
    return attribute + "\x00" + "\x1f".join(path)


def _nested_fingerprints(attribute: str, value: dict[str, Any]) -> tuple[int, int, dict[int, tuple[tuple[str, ...], Any, int]]]:
    """A nested object's fingerprints: of its key set, and of each leaf (name -> (path, value, fingerprint))."""
    leaves = _nested_leaves(value)
    keys = _xxh3("\x1e".join(sorted("\x1f".join(path) for path, _value in leaves)).encode("utf-8"))
    named = {_name_hash(_leaf_name(attribute, path)): (path, leaf, _value_hash(leaf)) for path, leaf in leaves}
    return _name_hash(attribute + "\x00"), keys, named


def _partial(leaves: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    """The nested object made of only these leaves."""
    partial: dict[str, Any] = {}
    for path, value in leaves:
        target = partial
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    return partial


ITEM = zlib.crc32(b"\x00item")  # the "name" under which a catalog item's one fingerprint is kept


def item_fingerprints(item: BrazeObject) -> Fingerprints:
    """What remembering a delivered catalog item keeps: one fingerprint of its request and body."""
    return {ITEM: _value_hash([item.array, item.body])}


def fingerprints_of(body: dict[str, Any]) -> Fingerprints:
    """What remembering a delivered object keeps: each value's fingerprint, and for a nested
    object those of its key set and leaves; an operation's attribute becomes stale."""
    found: Fingerprints = {}
    merge = body.get("_merge_objects") is True
    for key, value in body.items():
        if key in NOT_ATTRIBUTES:
            continue
        name = _name_hash(key)
        if value.__class__ is dict and (is_operation(value) or (merge and not is_date(value))):
            found[name] = STALE
            found[_name_hash(key + "\x00")] = STALE
            continue
        found[name] = _value_hash(value)
        if value.__class__ is dict and value and not is_date(value):
            keys_name, keys, named = _nested_fingerprints(key, value)
            found[keys_name] = keys
            found.update((leaf_name, fingerprint) for leaf_name, (_path, _leaf, fingerprint) in named.items())
    return found


def row_fingerprint(row: Sequence[Any], positions: Sequence[int]) -> int | None:
    """One hash of a row's content as read (``positions``: every column but UPDATED_AT), or None
    when a value has no exact JSON form (the row then takes the slow way)."""
    try:
        return _xxh3(orjson.dumps([row[position] for position in positions]))
    except TypeError:
        return None


_packers: dict[int, struct.Struct] = {}


def _pack(fingerprints: Fingerprints) -> bytes:
    count = len(fingerprints)
    packer = _packers.get(count)
    if packer is None:
        packer = _packers[count] = struct.Struct(f"<{count}I{count}Q")
    return packer.pack(*fingerprints.keys(), *fingerprints.values())


def _unpack(blob: bytes) -> Fingerprints:
    count = len(blob) // 12
    values = struct.unpack(f"<{count}I{count}Q", blob)
    return dict(zip(values[:count], values[count:], strict=True))


class Remembered:
    """What is remembered of one user: the fingerprint of the last object delivered whole, and
    of each attribute value (unpacked only when needed)."""

    __slots__ = ("_blob", "last_object")

    def __init__(self, last_object: int | None, blob: bytes) -> None:
        self.last_object = last_object
        self._blob = blob

    def fingerprints(self) -> Fingerprints:
        return _unpack(self._blob)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered (
    integration TEXT NOT NULL,
    user TEXT NOT NULL,
    last_object INTEGER,
    fingerprints BLOB NOT NULL,
    PRIMARY KEY (integration, user)
) WITHOUT ROWID;
"""
_UPSERT = (
    "INSERT INTO delivered (integration, user, last_object, fingerprints) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (integration, user) DO UPDATE SET last_object = excluded.last_object, fingerprints = excluded.fingerprints"
)
LOOKUP_CHUNK = 500  # user identifiers in one SELECT


def _set_up(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(_SCHEMA)


def _signed(fingerprint: int | None) -> int | None:
    """SQLite keeps signed 64-bit integers."""
    return fingerprint - (1 << 64) if fingerprint is not None and fingerprint >= 1 << 63 else fingerprint


class DeliveredStore:
    """The fingerprints of delivered attribute values: SQLite beside the run log.

    Measured against LMDB on this project's machine: LMDB reads and writes a user's entry in
    about 1 us (SQLite: 3.6 us a look-up in ``IN`` lists of 500, 8.8 us an upsert), but its
    file's pages, mapped into the process, count in the sync's resident memory as the store
    grows (274 MB at 1,000,000 users against 80 MB without the option); SQLite's bounded
    page cache keeps memory flat whatever the number of users, as the product promises.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            with contextlib.suppress(OSError):
                path.chmod(0o600)
            set_up_connection(self._conn, _set_up)
        except sqlite3.OperationalError as error:
            raise RunLogUnavailable(path, str(error)) from None
        except OSError as error:
            raise RunLogUnavailable(path, error.strerror or str(error)) from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _storage(self) -> Iterator[None]:
        """The store's faults (a full disk, a removed folder) are the run log's: one message, with the fix."""
        try:
            with self._lock:
                yield
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as error:
            if isinstance(error, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
                raise
            raise RunLogUnavailable(self.path, str(error)) from None

    def _write(self, rows: Iterable[tuple[Any, ...]], sql: str = _UPSERT) -> None:
        with self._storage():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(sql, rows)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def lookup(self, integration: str, users: Sequence[str]) -> dict[str, Remembered]:
        """What is remembered of ``users`` (those with nothing are left out)."""
        found: dict[str, Remembered] = {}
        unique = list(dict.fromkeys(users))
        with self._storage():
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start : start + LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                for user, last_object, blob in self._conn.execute(
                    f"SELECT user, last_object, fingerprints FROM delivered WHERE integration = ? AND user IN ({marks})",
                    (integration, *chunk),
                ):
                    found[user] = Remembered(last_object, blob)
        return found

    def save(self, integration: str, entries: Sequence[tuple[str, Fingerprints]]) -> None:
        """Write what is now remembered of each user, whole (the last entry of a user wins)."""
        self.save_packed(
            integration,
            [
                (user, fingerprints.get(ROW), _pack({k: v for k, v in fingerprints.items() if k != ROW}))
                for user, fingerprints in entries
            ],
        )

    def save_packed(self, integration: str, entries: Sequence[PackedEntry]) -> None:
        """:meth:`save` for entries already packed: (user, whole-object fingerprint, attribute fingerprints)."""
        if entries:
            latest = {user: (last_object, blob) for user, last_object, blob in entries}
            self._write((integration, user, _signed(last_object), blob) for user, (last_object, blob) in latest.items())

    def remember(self, integration: str, delivered: Iterable[tuple[str, Fingerprints]]) -> None:
        """Merge newly delivered fingerprints into what is remembered of each user."""
        merged: dict[str, Fingerprints] = {}
        for user, fingerprints in delivered:
            merged.setdefault(user, {}).update(fingerprints)
        if not merged:
            return
        known = self.lookup(integration, list(merged))
        rows = []
        for user, fingerprints in merged.items():
            remembered = known.get(user)
            combined = remembered.fingerprints() if remembered is not None else {}
            combined.update(fingerprints)
            rows.append((integration, user, None, _pack(combined)))
        self._write(rows)

    def set_row_fingerprints(self, integration: str, entries: Sequence[tuple[str, int]]) -> None:
        """Users whose row was unchanged value by value: the fingerprint of that row, so the next
        time it is read alike it is known unchanged at once (their values are left as they are)."""
        if entries:
            self._write(
                ((_signed(fingerprint), integration, user) for user, fingerprint in entries),
                "UPDATE delivered SET last_object = ? WHERE integration = ? AND user = ?",
            )

    def forget_integration(self, integration: str) -> None:
        """A full resync, or a new credential or table: everything is sent again."""
        with self._storage():
            self._conn.execute("DELETE FROM delivered WHERE integration = ?", (integration,))

    def forget_users(self, users: Sequence[str], integrations: Sequence[str] | None = None) -> None:
        """Users deleted from Braze: every integration (of ``integrations``: the same Braze
        workspace's; None: all) sends all their attributes again."""
        unique = list(dict.fromkeys(users))
        with self._storage():
            # by the primary key, one integration at a time (no second index to keep up on every save)
            known = [row[0] for row in self._conn.execute("SELECT DISTINCT integration FROM delivered")]
            integrations = known if integrations is None else [name for name in known if name in set(integrations)]
            for integration in integrations:
                for start in range(0, len(unique), LOOKUP_CHUNK):
                    chunk = unique[start : start + LOOKUP_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    self._conn.execute(
                        f"DELETE FROM delivered WHERE integration = ? AND user IN ({marks})", (integration, *chunk)
                    )

    def remembers_any(self, integration: str) -> bool:
        with self._storage():
            row = self._conn.execute("SELECT 1 FROM delivered WHERE integration = ? LIMIT 1", (integration,)).fetchone()
        return row is not None

    def users(self, integration: str) -> int:
        """How many users are remembered for ``integration``."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM delivered WHERE integration = ?", (integration,)).fetchone()
        return int(row[0])


def estimate(
    items: Sequence[BrazeObject], store: DeliveredStore | None, integration: str, whole_items: bool = False
) -> tuple[int, int]:
    """(data points, unchanged rows) that sending ``items`` now would give: with ``store``
    (send only changed) against what was delivered, else every object whole."""
    if store is None:
        return sum(data_points(item) for item in items), 0
    verdicts = ChangeFilter(store, integration, remember=False, whole_items=whole_items).filter(items)
    return sum(data_points(item) for item in verdicts if item is not None), sum(1 for item in verdicts if item is None)


class ChangeFilter:
    """One run's filter: unchanged attributes out before sending, delivered ones remembered after.

    Args:
        store: the remembered fingerprints.
        integration: whose.
        remember: False for a dry run or an estimate: nothing is remembered; a user's values
            compare with what was delivered and with that user's objects filtered since the
            last block began (what the run would have delivered by then).
        whole_items: catalog items: each compared whole (sent whole, or not at all).
    """

    # what was delivered is written with the watermark, as each answer is settled: after a crash
    # only what was in flight is sent again (the bound the README promises: max_in_flight
    # requests). Writing less often saves about 1 us of CPU a row, and loosens that bound.
    SAVE_SECONDS = 0.0
    SAVE_USERS = 4096

    def __init__(self, store: DeliveredStore, integration: str, remember: bool = True, whole_items: bool = False) -> None:
        self._store = store
        self._whole_items = whole_items
        self._integration = integration
        self._remember = remember
        # id(object sent) -> what is remembered of its user once it is delivered (packed: 12 bytes a value)
        self._sent: dict[int, PackedEntry] = {}
        self._unsaved: dict[str, PackedEntry] = {}  # delivered, not yet written: it wins over the store
        self._saved_at = time.monotonic()
        self._to_touch: list[tuple[str, int]] = []  # users whose unchanged row now has a new row fingerprint
        # nothing remembered when the run starts (a first sync): no look-ups, this run's values are in flight or saved
        self._look_up = store.remembers_any(integration)
        # what the last block's look-up found, until a user's answer makes it stale
        self._known: dict[str, Remembered] = {}
        self._would_have: dict[str, bytes] = {}  # a dry run: what it would have delivered, this block

    def sift(
        self, block: Sequence[Sequence[Any]], transformer: RowTransformer, busy: Callable[[str], bool] | None = None
    ) -> tuple[list[int | None], list[bool]]:
        """Before a block of rows is turned into objects: each row's fingerprint, and whether it is
        known unchanged already (read exactly as the row last delivered whole for its user).

        Only a user's one row of the block, with nothing of theirs open or under way (``busy``)
        and a readable UPDATED_AT, is judged here; every other row goes the way of :meth:`filter`.
        """
        positions = transformer.content_positions
        fingerprints = [row_fingerprint(row, positions) for row in block]
        self._would_have.clear()
        if not self._look_up:  # nothing remembered yet (a first sync): nothing to compare with
            self._known = {}
            return fingerprints, [False] * len(block)
        users: list[str | None] = []
        identifier = transformer.identifier
        moment = transformer.updated_at_position
        for row in block:
            found, problem = identifier(list(row)) if row[moment].__class__ is datetime else (None, None)
            users.append(user_key(found) if found is not None and problem is None else None)
        named = [user for user in users if user is not None]
        known = self._known = self._remembered(named)
        seen: dict[str, int] = {}
        for user in named:
            seen[user] = seen.get(user, 0) + 1
        quick = []
        for who, fingerprint in zip(users, fingerprints, strict=True):
            remembered = known.get(who) if who is not None else None
            quick.append(
                who is not None
                and remembered is not None
                and fingerprint is not None
                and remembered.last_object == _signed(fingerprint)
                and seen[who] == 1
                and (busy is None or not busy(who))
            )
        return fingerprints, quick

    def filter(self, items: Sequence[BrazeObject], rows: Sequence[int | None] | None = None) -> list[BrazeObject | None]:
        """For each object, the object to send with only its changed attributes, or None when
        nothing in it changed (it is not sent).

        Args:
            items: objects about to be sent (none of their users has anything under way).
            rows: the fingerprint of each object's newest row (:meth:`sift`), or None (objects
                without rows, as an estimate of preview rows has); an object whose values are
                all delivered records it, so that row is known unchanged at once next time.
        """
        users = [item.user or user_key(item.body) for item in items]
        known = self._known
        missing = [user for user in users if user not in known]
        if missing:
            known.update(self._remembered(missing))
        would_have = self._would_have
        verdicts: list[BrazeObject | None] = []
        fingerprints = rows if rows is not None else [None] * len(items)
        for item, user, row_fingerprint in zip(items, users, fingerprints, strict=True):
            remembered = known.get(user)
            stored = remembered.fingerprints() if remembered is not None else None
            if not self._remember and user in would_have:
                stored = {**(stored or {}), **_unpack(would_have[user])}
            if self._whole_items:
                everything = item_fingerprints(item)
                same = stored is not None and stored.get(ITEM) == everything[ITEM]
                verdict, operations = (None if same else item), False
            else:
                verdict, everything, operations = self._compare(item, stored or {})
            if verdict is None:
                verdicts.append(None)
                if (
                    row_fingerprint is not None
                    and remembered is not None
                    and remembered.last_object != _signed(row_fingerprint)
                    and self._remember
                ):
                    self._to_touch.append((user, row_fingerprint))  # next time the row is known unchanged at once
                continue
            verdicts.append(verdict)
            after = {**stored, **everything} if stored else everything
            packed = _pack(after)
            if self._remember:
                # an object with operations is never "the same again": no whole-object fingerprint
                self._sent[id(verdict)] = (user, None if operations else row_fingerprint, packed)
            else:
                would_have[user] = packed
        return verdicts

    def _remembered(self, users: Sequence[str]) -> dict[str, Remembered]:
        """What is remembered of ``users``: delivered in this run and not yet written, or in the store."""
        unsaved = self._unsaved
        found = self._store.lookup(self._integration, [user for user in users if user not in unsaved]) if self._look_up else {}
        for user in users:
            entry = unsaved.get(user)
            if entry is not None:
                found[user] = Remembered(_signed(entry[1]), entry[2])
        return found

    @staticmethod
    def _compare(item: BrazeObject, before: Fingerprints) -> tuple[BrazeObject | None, Fingerprints, bool]:
        """(what to send of ``item`` or None, the fingerprints once delivered, whether it holds operations)."""
        whole = item.body
        merge = whole.get("_merge_objects") is True
        names, name_hash, value_hash = _name_hashes, _name_hash, _value_hash
        dumps, sort_keys, xxh3 = orjson.dumps, orjson.OPT_SORT_KEYS, _xxh3
        if not before:  # a user's first values (a first sync): every one goes, fingerprinted once
            first: Fingerprints = {}
            count = 0
            operations = False
            for key, value in whole.items():
                if key in NOT_ATTRIBUTES:
                    continue
                count += 1
                if value.__class__ is dict:
                    found = fingerprints_of({key: value, "_merge_objects": merge})
                    operations = operations or STALE in found.values()
                    first.update(found)
                    continue
                try:
                    text = dumps(value, option=sort_keys)
                except TypeError:  # integers beyond 64 bits
                    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
                first[names.get(key) or name_hash(key)] = xxh3(text)
            return (item if count else None), first, operations
        body: dict[str, Any] = {}
        everything: Fingerprints = {}
        attributes = kept = 0
        operations = False
        partial: dict[str, Any] = {}  # nested objects whose changed keys alone can be sent
        replaced = False  # a nested object that gained or lost keys: no merge in this object
        for key, value in whole.items():
            if key in NOT_ATTRIBUTES:
                body[key] = value
                continue
            attributes += 1
            name = names.get(key) or name_hash(key)
            if value.__class__ is dict:
                if is_operation(value) or (merge and not is_date(value)):
                    body[key] = value
                    operations = True
                    everything[name] = STALE
                    everything[name_hash(key + "\x00")] = STALE
                    continue
                fingerprint = value_hash(value)
                everything[name] = fingerprint
                if value and not is_date(value):
                    keys_name, keys, named = _nested_fingerprints(key, value)
                    everything[keys_name] = keys
                    everything.update((leaf_name, leaf[2]) for leaf_name, leaf in named.items())
                    if before.get(name) == fingerprint:
                        kept += 1
                        continue
                    body[key] = value
                    if before.get(keys_name) == keys:
                        partial[key] = _partial([(path, leaf) for leaf_name, (path, leaf, print_) in named.items()
                                                 if before.get(leaf_name) != print_])  # fmt: skip
                    else:
                        replaced = True
                    continue
            else:
                fingerprint = value_hash(value)
                everything[name] = fingerprint
            if before.get(name) != fingerprint:
                body[key] = value
            else:
                kept += 1
        if kept == attributes:  # nothing changed (an object of operations only is always sent)
            return None, everything, operations
        if partial and not replaced and not merge:
            body.update(partial)
            body["_merge_objects"] = True
        if not kept and not partial:
            return item, everything, operations
        return BrazeObject(item.array, body, item.ref, item.user, item.fold), everything, operations

    def remember(self, delivered: Sequence[BrazeObject]) -> None:
        """Remember objects delivered outside :meth:`filter` (the retry list sends them as they were)."""
        if not self._remember:
            return
        fingerprints = item_fingerprints if self._whole_items else lambda item: fingerprints_of(item.body)
        self._store.remember(self._integration, [(item.user or user_key(item.body), fingerprints(item)) for item in delivered])

    def settled(self, delivered: Sequence[BrazeObject], sent: Sequence[BrazeObject]) -> None:
        """After an answer: remember what Braze accepted; let go of everything that was sent."""
        if not self._remember:
            return
        sent_entries = self._sent
        unsaved = self._unsaved
        for item in delivered:
            entry = sent_entries.get(id(item))
            if entry is not None:
                unsaved[entry[0]] = entry
        known = self._known
        for item in sent:
            entry = sent_entries.pop(id(item), None)
            if entry is not None:
                known.pop(entry[0], None)  # what was looked up of this user is stale now

    def save_due(self) -> bool:
        """Time to write what was delivered (the pump then saves the watermark with it: the
        watermark never passes a delivery that is not written)."""
        if not self._remember:
            return False
        return len(self._unsaved) >= self.SAVE_USERS or time.monotonic() - self._saved_at >= self.SAVE_SECONDS

    def flush(self) -> None:
        """Write what was delivered and not yet written (also when a run ends, whatever ended it).

        Until then a crash forgets it: those values are sent again later, which costs data
        points but loses nothing."""
        self._store.save_packed(self._integration, list(self._unsaved.values()))
        self._unsaved = {}
        self._saved_at = time.monotonic()
        to_touch, self._to_touch = self._to_touch, []
        self._store.set_row_fingerprints(self._integration, to_touch)
