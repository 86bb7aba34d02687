"""Rows to Braze objects, one data type at a time.

A row is a list in :attr:`~cdi_tui.warehouse.source.TableShape.select_columns` order.
:class:`RowTransformer` turns it into a :class:`BrazeObject` (the array it goes in and the
object itself) or a :class:`RowError` with a precise reason. An invalid row is never sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from cdi_tui.braze.objects import BrazeObject
from cdi_tui.braze.rules import (
    CATALOG_DELETES_ARRAY,
    CATALOG_ITEMS_ARRAY,
    DEFAULT_DELETE_PRIORITIZATION,
    ISO_4217,
    MAX_ATTRIBUTE_KEYS,
    MAX_PAYLOAD_BYTES,
    MAX_STRING,
    item_id_problem,
    nested_attribute_problem,
)
from cdi_tui.engine.depth import DEPTH_PROBLEM, text_too_deep, value_too_deep
from cdi_tui.enums import DataType
from cdi_tui.warehouse.timestamps import OutOfRangeTime, out_of_range_reason

__all__ = ["BrazeObject", "RowError", "RowTransformer", "braze_time", "describe_identifier", "split_identifier"]

IDENTIFIER_KEYS = frozenset({"external_id", "user_alias", "braze_id", "email", "phone", "alias_name", "alias_label"})
_QUICK_PAYLOAD = MAX_PAYLOAD_BYTES // 4  # a text this short is under 1 MB in UTF-8
_loads = orjson.loads
_HUGE = 9.2e18  # about 2**63: orjson gives integers past 64 bits as floats this large


def _has_huge_float(value: Any) -> bool:
    if value.__class__ is dict:
        return any(_has_huge_float(item) for item in value.values())
    if value.__class__ is list:
        return any(_has_huge_float(item) for item in value)
    return value.__class__ is float and (value >= _HUGE or value <= -_HUGE)


BODY_IDENTIFIER_KEYS = frozenset({"external_id", "user_alias", "braze_id", "email", "phone"})
DELETE_LISTS = {
    "external_id": "external_ids",
    "user_alias": "user_aliases",
    "braze_id": "braze_ids",
    "email": "email_addresses",
    "phone": "phone_numbers",
}
PRIORITIZED_DELETES = frozenset({"email", "phone"})  # Braze takes these only as objects with a prioritization


@dataclass(frozen=True, slots=True)
class RowError:
    """Why a row cannot be sent. ``code`` is stable (for filters); ``message`` is for people."""

    code: str
    message: str


def braze_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as Braze documents (``2026-03-01T12:00:00.000Z``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def describe_identifier(identifier: dict[str, Any] | None) -> str:
    """A short label for logs and the failed-rows view: ``external_id=user-1``."""
    if not identifier:
        return "(none)"
    key, value = next(iter(identifier.items()))
    if key == "user_alias":
        return f"alias={value['alias_label']}:{value['alias_name']}"
    return f"{key}={value}"


def split_identifier(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a Braze object into (identifier, rest); a catalog item's identifier is its ``id``."""
    identifier = {key: value for key, value in body.items() if key in BODY_IDENTIFIER_KEYS}
    if not identifier and "id" in body:  # a catalog item (a user's object always has a user identifier)
        return {"id": body["id"]}, {key: value for key, value in body.items() if key != "id"}
    rest = {key: value for key, value in body.items() if key not in BODY_IDENTIFIER_KEYS}
    return identifier, rest


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def _updated_at_problem(updated_at: Any) -> RowError | None:
    """Why an UPDATED_AT that is not a plain datetime cannot be sent, or None when it can."""
    if updated_at is None:
        return RowError("updated_at_null", "UPDATED_AT is NULL")
    if isinstance(updated_at, OutOfRangeTime):
        return RowError("updated_at_out_of_range", out_of_range_reason(updated_at))
    return None


_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", ""})


class RowTransformer:
    """Turns rows of one table into Braze objects for one data type.

    A catalogs row becomes an item to write (array ``items``: ``{"id": ID, **PAYLOAD}``, sent to
    ``PUT /catalogs/{name}/items``) or, with DELETED true, an item to delete (array
    ``delete_items``: ``{"id": ID}``); its ``user`` is ``id=ID``, so that the per-user order and
    "send only changed" work per item.

    Args:
        columns: canonical column names in row order (``TableShape.select_columns``).
        data_type: attributes, events, purchases, deletes or catalogs.
        update_existing_only: add ``"_update_existing_only": true`` to every object.
        delete_prioritization: for deletes by email or phone: which user Braze deletes when
            several share the address (``identified``, ``unidentified``, ``most_recently_updated``).
    """

    def __init__(
        self,
        columns: tuple[str, ...],
        data_type: DataType,
        update_existing_only: bool = False,
        delete_prioritization: tuple[str, ...] = DEFAULT_DELETE_PRIORITIZATION,
    ) -> None:
        self.data_type = data_type
        self.delete_prioritization = list(delete_prioritization)
        # decided once: transform() runs every row, and looking up an enum member
        # (DataType.EVENTS) costs ~0.2 us a time on Python 3.11
        self._sends_deletes = data_type == DataType.DELETES
        self._sends_attributes = data_type == DataType.ATTRIBUTES
        self._sends_events = data_type == DataType.EVENTS
        self._sends_items = data_type == DataType.CATALOGS
        self.update_existing_only = update_existing_only
        index = {name: position for position, name in enumerate(columns)}
        self._item_id = index.get("id")
        self._deleted = index.get("deleted")
        self._updated_at = index["updated_at"]
        self.updated_at_position = self._updated_at
        # every column but UPDATED_AT: what a row's object is made of
        self.content_positions = tuple(position for position in range(len(columns)) if position != self._updated_at)
        self._payload = index.get("payload")
        # (ALIAS_NAME, ALIAS_LABEL) positions: the table check makes sure both or neither are there
        self._alias = (index["alias_name"], index["alias_label"]) if "alias_name" in index and "alias_label" in index else None
        # single-column identifiers in the order they are checked; email before phone (email wins)
        self._single = tuple((name, index[name]) for name in ("external_id", "braze_id", "email", "phone") if name in index)

    # identifiers -------------------------------------------------------------------
    def identifier(self, row: list[Any]) -> tuple[dict[str, Any] | None, RowError | None]:
        """The row's one identifier as Braze wants it, or why it has none (or too many); for a
        catalog, ``{"id": ...}`` (with why Braze would refuse it, when it would)."""
        if self._sends_items:
            return self._item_identifier(row)
        alias = self._alias
        if alias is None or (row[alias[0]] is None and row[alias[1]] is None):
            # the common case first: one column set, to a non-blank text
            key = value = None
            for name, position in self._single:
                candidate = row[position]
                if candidate is not None:
                    if key is not None:
                        key = None
                        break
                    key, value = name, candidate
            if key is not None and value.__class__ is str and value and not value.isspace():
                return {key: value}, None
        found: list[tuple[str, Any]] = []
        for name, position in self._single:
            value = row[position]
            if value is not None and (value.strip() if isinstance(value, str) else str(value).strip()):
                if name == "phone" and found and found[-1][0] == "email":
                    continue  # email wins over phone
                found.append((name, value if isinstance(value, str) else str(value)))
        if alias is not None and (row[alias[0]] is not None or row[alias[1]] is not None):
            alias_name, alias_label = _text(row[alias[0]]), _text(row[alias[1]])
            if (alias_name is None) != (alias_label is None):
                missing = "ALIAS_LABEL" if alias_label is None else "ALIAS_NAME"
                return None, RowError("alias_incomplete", f"user alias needs both ALIAS_NAME and ALIAS_LABEL; {missing} is empty")
            if alias_name is not None:
                found.insert(
                    1 if found and found[0][0] == "external_id" else 0,
                    ("user_alias", {"alias_name": alias_name, "alias_label": alias_label}),
                )
        if len(found) == 1:
            return {found[0][0]: found[0][1]}, None
        if not found:
            return None, RowError(
                "no_identifier", "no identifier: EXTERNAL_ID, ALIAS_NAME + ALIAS_LABEL, BRAZE_ID, EMAIL and PHONE are all empty"
            )
        names = " and ".join(name.upper() if name != "user_alias" else "ALIAS_NAME + ALIAS_LABEL" for name, _ in found)
        problem = RowError("multiple_identifiers", f"a row takes exactly one identifier; this one has {names}")
        return {found[0][0]: found[0][1]}, problem

    def _item_identifier(self, row: list[Any]) -> tuple[dict[str, Any] | None, RowError | None]:
        """A catalog item's id, checked against Braze's rules before anything is sent."""
        assert self._item_id is not None
        raw = row[self._item_id]
        if raw is None:
            return None, RowError("item_id_missing", "ID is NULL")
        if isinstance(raw, (bool, float)):
            return None, RowError("item_id_invalid", f"ID is {raw!r}: an item id is text (or a whole number)")
        text = raw if isinstance(raw, str) else str(raw)
        problem = item_id_problem(text)
        if problem is None:
            return {"id": text}, None
        shown = text if len(text) <= 300 else text[:300] + "..."  # the failed row still names the item
        return {"id": shown}, RowError(*problem)

    def _is_deleted(self, row: list[Any]) -> bool | RowError:
        """DELETED: true deletes the item; NULL or false (or no such column) writes it."""
        if self._deleted is None:
            return False
        value = row[self._deleted]
        if value is None or value is False or value is True:
            return value is True
        if isinstance(value, int) and value in (0, 1):
            return value == 1
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return value.strip().lower() in _TRUE_WORDS
        return RowError("deleted_invalid", f"DELETED is {str(value)[:40]!r}, not true or false")

    def _catalog_item(self, row: list[Any], updated_at: datetime) -> BrazeObject | RowError:
        identifier, problem = self._item_identifier(row)
        if problem is not None:
            return problem
        assert identifier is not None
        user = describe_identifier(identifier)
        deleted = self._is_deleted(row)
        if isinstance(deleted, RowError):
            return deleted
        if deleted:
            return BrazeObject(CATALOG_DELETES_ARRAY, identifier, updated_at, user)
        parsed = self._payload_object(row, refuse_identifiers=False)
        if isinstance(parsed, RowError):
            return parsed
        payload, text = parsed
        if "id" in payload:
            return RowError("payload_has_id", "PAYLOAD holds 'id'; an item's id comes from the ID column")
        if _has_huge_float(payload):
            payload = json.loads(text)
        identifier.update(payload)
        return BrazeObject(CATALOG_ITEMS_ARRAY, identifier, updated_at, user)

    # payload -----------------------------------------------------------------------
    def _payload_object(self, row: list[Any], refuse_identifiers: bool = True) -> tuple[dict[str, Any], str] | RowError:
        """The row's PAYLOAD as a dict (and its text), or why it is not a usable object.

        orjson parses several times cheaper than the stdlib, but turns integers beyond 64 bits
        into floats: the callers parse ``text`` again with the stdlib when they meet a float
        that large.
        """
        assert self._payload is not None
        raw = row[self._payload]
        if raw is None:
            return RowError("payload_null", "PAYLOAD is NULL")
        if isinstance(raw, dict):  # a JSON column the driver has already parsed: checked as text, like the rest
            if value_too_deep(raw):
                return RowError("payload_too_deep", DEPTH_PROBLEM)
            try:
                raw = orjson.dumps(raw).decode()
            except TypeError:  # integers beyond 64 bits
                raw = json.dumps(raw)
        elif isinstance(raw, list):
            return RowError("payload_not_object", "PAYLOAD is a JSON list, not an object")
        text = raw if isinstance(raw, str) else str(raw)
        if text_too_deep(text):
            return RowError("payload_too_deep", DEPTH_PROBLEM)
        if len(text) > MAX_PAYLOAD_BYTES // 4 and len(text.encode("utf-8")) > MAX_PAYLOAD_BYTES:
            return RowError("payload_too_large", "Payload was greater than 1MB")
        try:
            payload = orjson.loads(text)
        except ValueError as error:  # orjson.JSONDecodeError is one
            return RowError("payload_not_json", f"PAYLOAD is not valid JSON ({error})")
        if payload.__class__ is not dict:
            return RowError("payload_not_object", f"PAYLOAD is a JSON {type(payload).__name__}, not an object")
        if refuse_identifiers and not IDENTIFIER_KEYS.isdisjoint(payload):
            key = next(key for key in payload if key in IDENTIFIER_KEYS)
            return RowError(
                "payload_has_identifier", f"PAYLOAD holds the identifier key '{key}'; identifiers come from their columns"
            )
        return payload, text

    @staticmethod
    def _check_properties(properties: Any, where: str) -> RowError | None:
        if not isinstance(properties, dict):
            return RowError("properties_not_object", f"{where} must be a JSON object")
        for key, value in properties.items():
            if not key:
                return RowError("property_name_empty", f"{where} has an empty property name")
            if len(key) > MAX_STRING:
                return RowError("property_name_too_long", f"{where} property name '{key[:30]}...' is over 255 characters")
            if key.startswith("$"):
                return RowError("property_name_dollar", f"{where} property name '{key}' starts with '$'")
            if isinstance(value, str) and len(value) > MAX_STRING:
                return RowError("string_too_long", f"{where} value of '{key}' is over 255 characters")
        return None

    # per data type ---------------------------------------------------------------------
    def transform(self, row: list[Any]) -> BrazeObject | RowError:
        """The Braze object for a row (its ``ref`` is the row's UPDATED_AT), or the reason it cannot be sent.

        This runs once a row on the sync's hot path: the common shapes (one identifier set, a
        short text payload) take the shortest way.
        """
        updated_at = row[self._updated_at]
        if updated_at.__class__ is not datetime:
            problem = _updated_at_problem(updated_at)
            if problem is not None:
                return problem
        if self._sends_items:
            return self._catalog_item(row, updated_at)
        identifier, problem = self.identifier(row)
        if problem is not None:
            return problem
        assert identifier is not None
        if self._sends_deletes:
            key, value = next(iter(identifier.items()))
            user = describe_identifier(identifier)
            if key in PRIORITIZED_DELETES:
                return BrazeObject(
                    DELETE_LISTS[key], {key: value, "prioritization": list(self.delete_prioritization)}, updated_at, user
                )
            return BrazeObject(DELETE_LISTS[key], {key: value}, updated_at, user)
        text = row[self._payload]  # type: ignore[index]
        if text.__class__ is str and text_too_deep(text):
            return RowError("payload_too_deep", DEPTH_PROBLEM)  # refused before anything walks it (RecursionError)
        payload = None
        if text.__class__ is str and len(text) <= _QUICK_PAYLOAD:
            try:  # noqa: SIM105 (contextlib.suppress costs a context manager a row)
                payload = _loads(text)
            except ValueError:
                pass  # the careful way below says why
        if payload.__class__ is not dict or not IDENTIFIER_KEYS.isdisjoint(payload):
            parsed = self._payload_object(row)  # the careful way, with the reason when it is not usable
            if parsed.__class__ is RowError:
                return parsed
            payload, text = parsed  # type: ignore[misc]
        assert payload is not None
        if self._sends_attributes:
            return self._attributes(identifier, payload, text, updated_at)
        if _has_huge_float(payload):
            payload = json.loads(text)
        if self._sends_events:
            return self._event(identifier, payload, updated_at)
        return self._purchase(identifier, payload, updated_at)

    def _finish(self, array: str, identifier: dict[str, Any], payload: dict[str, Any], updated_at: datetime) -> BrazeObject:
        user = describe_identifier(identifier)
        body = identifier  # a fresh dict made for this row: extend it in place
        body.update(payload)
        if self.update_existing_only:
            body["_update_existing_only"] = True
        elif array == "attributes" and "user_alias" in identifier and "_update_existing_only" not in payload:
            # Braze defaults alias-only attribute objects to update-only; the seed says aliases create users
            body["_update_existing_only"] = False
        return BrazeObject(array, body, updated_at, user)

    def _attributes(
        self, identifier: dict[str, Any], payload: dict[str, Any], text: str, updated_at: datetime
    ) -> BrazeObject | RowError:
        if len(payload) > MAX_ATTRIBUTE_KEYS:
            return RowError("too_many_attributes", f"PAYLOAD has {len(payload)} keys; at most 250 attributes a row")
        inexact = False  # integers orjson could not keep: the text is parsed again, exactly
        if len(text) > MAX_STRING or "" in payload or "$" in text:
            for key, value in payload.items():
                if not key or key[0] == "$" or len(key) > MAX_STRING:
                    return self._attribute_problem(key, value)
                kind = value.__class__
                if kind is str:
                    if len(value) > MAX_STRING:
                        return self._attribute_problem(key, value)
                elif kind is float:
                    inexact = inexact or value >= _HUGE or value <= -_HUGE
                elif kind is dict or kind is list:
                    problem = nested_attribute_problem(key, value)
                    if problem is not None:
                        return RowError(*problem)
                    inexact = inexact or _has_huge_float(value)
        else:
            # a short text with no '$' cannot hold a name or string that breaks a rule: only
            # numbers and the keys of nested objects are looked at
            for key, value in payload.items():
                kind = value.__class__
                if kind is float:
                    if value >= _HUGE or value <= -_HUGE:
                        inexact = True
                elif kind is dict or kind is list:
                    problem = nested_attribute_problem(key, value)
                    if problem is not None:
                        return RowError(*problem)
                    if _has_huge_float(value):
                        inexact = True
        if inexact:
            payload = json.loads(text)
        return self._finish("attributes", identifier, payload, updated_at)

    @staticmethod
    def _attribute_problem(key: str, value: Any) -> RowError:
        if not key:
            return RowError("attribute_name_empty", "PAYLOAD has an empty attribute name")
        if key.startswith("$"):
            return RowError("attribute_name_dollar", f"attribute name '{key}' starts with '$'")
        if len(key) > MAX_STRING:
            return RowError("attribute_name_too_long", f"attribute name '{key[:30]}...' is over 255 characters")
        return RowError("string_too_long", f"value of attribute '{key}' is over 255 characters")

    def _timed(self, payload: dict[str, Any], updated_at: datetime) -> dict[str, Any] | RowError:
        if "time" not in payload or payload["time"] is None:
            payload = {**payload, "time": braze_time(updated_at)}
        elif not isinstance(payload["time"], str) or not payload["time"].strip():
            return RowError("time_invalid", "'time' must be an ISO 8601 string")
        if "properties" in payload and payload["properties"] is not None:
            problem = self._check_properties(payload["properties"], "'properties'")
            if problem is not None:
                return problem
        if "app_id" in payload and payload["app_id"] is not None and not isinstance(payload["app_id"], str):
            return RowError("app_id_invalid", "'app_id' must be a string")
        return payload

    def _event(self, identifier: dict[str, Any], payload: dict[str, Any], updated_at: datetime) -> BrazeObject | RowError:
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip():
            return RowError("event_name_missing", "event without 'name' (a non-empty string is required)")
        if len(name) > MAX_STRING:
            return RowError("string_too_long", "event 'name' is over 255 characters")
        timed = self._timed(payload, updated_at)
        if isinstance(timed, RowError):
            return timed
        return self._finish("events", identifier, timed, updated_at)

    def _purchase(self, identifier: dict[str, Any], payload: dict[str, Any], updated_at: datetime) -> BrazeObject | RowError:
        missing = [key for key in ("product_id", "currency", "price") if payload.get(key) is None]
        if missing:
            return RowError("purchase_field_missing", f"purchase without {', '.join(repr(key) for key in missing)}")
        product_id = payload["product_id"]
        if not isinstance(product_id, str) or not product_id.strip():
            return RowError("product_id_invalid", "'product_id' must be a non-empty string")
        if len(product_id) > MAX_STRING:
            return RowError("string_too_long", "'product_id' is over 255 characters")
        currency = payload["currency"]
        if not isinstance(currency, str) or currency not in ISO_4217:
            return RowError("currency_invalid", f"currency {currency!r} is not an ISO 4217 code (such as USD or EUR)")
        price = payload["price"]
        if isinstance(price, bool) or not isinstance(price, (int, float)):
            return RowError("price_invalid", f"price {price!r} is not a number")
        quantity = payload.get("quantity")
        if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 100):
            return RowError("quantity_invalid", f"quantity {quantity!r} is not a whole number from 1 to 100")
        timed = self._timed(payload, updated_at)
        if isinstance(timed, RowError):
            return timed
        return self._finish("purchases", identifier, timed, updated_at)
