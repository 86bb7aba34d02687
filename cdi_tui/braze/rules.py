"""Braze REST rules and limits (braze-facts.md): limits shared by the client and the stand-in,
and the product's own reading of the rules on nested attributes, data points and deletes
(the stand-in applies its own, written apart, so that tests compare the two)."""

from __future__ import annotations

import re
from typing import Any

import orjson

IDENTIFIER_KEYS = ("external_id", "user_alias", "braze_id", "email", "phone")
MAX_OBJECTS_PER_ARRAY = 75
MAX_OBJECTS_COMBINED_MAU = 50
MAX_DELETE_IDENTIFIERS = 50
NOTHING_VALID = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields."
# ISO 4217 alphabetic codes in current use (the stand-in rejects others as Braze does)
ISO_4217 = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SLL",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UYW",
        "UZS",
        "VES",
        "VED",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XCG",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
        "ZWL",
    ]
)
MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_ATTRIBUTE_KEYS = 250
MAX_STRING = 255

MAX_NESTED_OBJECT_BYTES = 100 * 1024

# Subscription states cost no data point (Braze's "Data points" doc).
SUBSCRIPTION_ATTRIBUTES = frozenset({"email_subscribe", "push_subscribe", "subscription_groups"})
ARRAY_OF_OBJECTS_OPERATIONS = frozenset({"$add", "$remove", "$update"})

# Deletes by email or phone: which user Braze deletes when several share the address.
PRIORITIZATION_WORDS = ("identified", "unidentified", "most_recently_updated")
DEFAULT_DELETE_PRIORITIZATION = ("identified", "most_recently_updated")


def prioritization_problem(words: tuple[str, ...] | list[str]) -> str | None:
    """Why a delete prioritization is not one Braze takes, or None."""
    if not words:
        return "a prioritization needs at least one of identified, unidentified, most_recently_updated"
    unknown = [word for word in words if word not in PRIORITIZATION_WORDS]
    if unknown:
        return f"unknown prioritization {unknown[0]!r}: use identified, unidentified and most_recently_updated"
    if len(set(words)) != len(words):
        return "each prioritization word may appear once"
    if "identified" in words and "unidentified" in words:
        return "a prioritization cannot hold both identified and unidentified"
    return None


# nested attributes -----------------------------------------------------------------------------
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")


def _path(parts: list[str | int]) -> str:
    """A key path as people read it: ``prefs."bad key"[2].name``."""
    text = ""
    for number, part in enumerate(parts):
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        shown = part if _PLAIN_KEY.fullmatch(part) else orjson.dumps(part).decode()
        text += shown if number == 0 else "." + shown
    return text


def is_date(value: Any) -> bool:
    """``{"$time": "..."}``: a date inside a nested object."""
    return value.__class__ is dict and len(value) == 1 and "$time" in value


def is_flat_operation(value: dict[str, Any]) -> bool:
    """``{"inc": n}``, or ``{"add": [...], "remove": [...]}`` on an array attribute."""
    if not value:
        return False
    if len(value) == 1 and "inc" in value:
        return True
    return value.keys() <= {"add", "remove"} and all(item.__class__ is list for item in value.values())


def _key_problem(key: Any) -> str | None:
    if not isinstance(key, str) or not key:
        return "an empty key"
    if len(key) > MAX_STRING:
        return "a key over 255 characters"
    if " " in key:
        return "a key with a space"
    if "." in key:
        return "a key with '.'"
    if "$" in key:
        return "a key with '$' (only a {\"$time\": ...} date may use it)"
    return None


def nested_attribute_problem(name: str, value: Any) -> tuple[str, str] | None:
    """(code, reason) when a nested attribute breaks Braze's rules, else None.

    Braze drops every nested update of a request when one is invalid, silently, so such a row
    must never be sent: keys without spaces, ``.`` or ``$`` (but ``$time`` dates), keys and
    strings of at most 255 characters, an object of at most 100 KB. Walked without recursion:
    a payload nested thousands deep is a row error, not a crash.
    """
    if value.__class__ is dict:
        if is_flat_operation(value) or is_date(value):
            return None
        operations = value.keys() & ARRAY_OF_OBJECTS_OPERATIONS
        if operations:
            if len(operations) != len(value):
                return "nested_key_invalid", f"nested attribute {name}: mixes $add/$remove/$update with other keys"
            pending = []
            for operation in operations:
                entries = value[operation]
                if entries.__class__ is not list:
                    return "nested_key_invalid", f"nested attribute {name}.{operation}: must be an array"
                for index, entry in enumerate(entries):
                    if operation == "$add" and entry.__class__ is dict:
                        pending.append(([name, operation, index], entry))
                    elif operation == "$update" and entry.__class__ is dict and entry.get("$new_object").__class__ is dict:
                        pending.append(([name, operation, index, "$new_object"], entry["$new_object"]))
            roots = pending
        else:
            roots = [([name], value)]
    elif value.__class__ is list:
        if not any(item.__class__ is dict for item in value):
            return None  # an array of plain values is not a nested attribute
        roots = [([name, index], item) for index, item in enumerate(value)]
    else:
        return None
    stack: list[tuple[list[str | int], Any]] = list(roots)
    while stack:
        path, current = stack.pop()
        if current.__class__ is dict:
            if is_date(current):
                if not isinstance(current["$time"], str):
                    return "nested_value_invalid", f"nested attribute {_path(path)}: a $time date must be a string"
                continue
            for key, item in current.items():
                problem = _key_problem(key)
                if problem is not None:
                    return "nested_key_invalid", f"nested attribute {_path([*path, key])}: {problem}"
                stack.append(([*path, key], item))
        elif current.__class__ is list:
            stack.extend(([*path, index], item) for index, item in enumerate(current))
        elif current.__class__ is str and len(current) > MAX_STRING:
            return "nested_string_too_long", f"nested attribute {_path(path)}: a string over 255 characters"
    try:
        size = len(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        size = 0  # integers beyond 64 bits: orjson cannot say; they are few bytes each
    if size > MAX_NESTED_OBJECT_BYTES:
        return "nested_object_too_large", f"nested attribute {name}: {size:,} bytes, over Braze's 100 KB for an object"
    return None


# data points -----------------------------------------------------------------------------------
def _leaves(value: dict[str, Any]) -> int:
    """Each key of a nested object whose value is not itself an object (a date is a value)."""
    count = 0
    stack = [value]
    while stack:
        current = stack.pop()
        for item in current.values():
            if item.__class__ is dict and item and not is_date(item):
                stack.append(item)
            else:
                count += 1
    return count


def attribute_data_points(name: str, value: Any) -> int:
    """Data points Braze counts for setting one attribute (braze-facts.md, "Data points").

    One a value (``null`` included); each key of a nested object; one a whole array; one per
    value added or removed; none for subscription states.
    """
    if name in SUBSCRIPTION_ATTRIBUTES:
        return 0
    if value.__class__ is not dict or not value or is_date(value):
        return 1
    if len(value) == 1 and "inc" in value:
        return 1
    if value.keys() & ARRAY_OF_OBJECTS_OPERATIONS or is_flat_operation(value):
        return sum(len(entries) for entries in value.values() if entries.__class__ is list)
    return _leaves(value)


# catalogs ------------------------------------------------------------------------------------------
# Braze's "Sync catalogs data" and catalog API docs (braze-facts.md, "Catalogs")
MAX_CATALOG_ITEMS = 50  # items a request to the asynchronous item endpoints
MAX_ITEM_ID = 250  # characters of an item id
MAX_CATALOG_VALUE = 5000  # characters of a field's value
MAX_CATALOG_NAME = 250
CATALOG_REQUESTS_PER_MINUTE = 16_000  # shared by every asynchronous catalog item endpoint of a workspace
CATALOG_ITEMS_ARRAY = "items"  # PUT /catalogs/{name}/items: written (created or replaced whole)
CATALOG_DELETES_ARRAY = "delete_items"  # DELETE /catalogs/{name}/items
CATALOG_ARRAYS = frozenset({CATALOG_ITEMS_ARRAY, CATALOG_DELETES_ARRAY})
_ITEM_ID = re.compile(r"[A-Za-z0-9_\-]+")


def item_id_problem(item_id: str) -> tuple[str, str] | None:
    """(code, reason) when an item id breaks Braze's rules (letters, digits, ``-`` and ``_``;
    at most 250 characters), else None. Braze would refuse the whole request it is in."""
    if not item_id:
        return "item_id_missing", "ID is empty"
    if len(item_id) > MAX_ITEM_ID:
        return "item_id_too_long", f"item id of {len(item_id):,} characters: Braze takes at most {MAX_ITEM_ID} (ids-too-large)"
    if not _ITEM_ID.fullmatch(item_id):
        bad = next(char for char in item_id if not _ITEM_ID.fullmatch(char))
        return "item_id_invalid", f"item id holds {bad!r}: Braze takes only letters, digits, '-' and '_' (invalid-ids)"
    return None


def catalog_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a Braze catalog (letters, digits, ``-`` and ``_``, at most 250), or None."""
    if not name or len(name) > MAX_CATALOG_NAME or not _ITEM_ID.fullmatch(name):
        return f"a catalog name is 1-{MAX_CATALOG_NAME} letters, digits, '-' or '_'"
    return None
