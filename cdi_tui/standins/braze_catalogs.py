"""What the Braze stand-in holds of catalogs: each catalog's fields and items, changed the way
Braze's catalog API documents it.

Written apart from the product's own rules on purpose (as :mod:`cdi_tui.standins.braze_profiles`
is for users): the tests compare what cdi-tui meant to send and what it refused with what this
model of Braze ends up holding. The rules are those of ``braze-facts.md`` ("Catalogs"):

- A catalog exists before items are written to it; its fields (name and type) are defined
  there (here: by the tests and the demo, :meth:`CatalogStore.define`). ``GET /catalogs`` lists
  the catalogs with their fields.
- ``PUT /catalogs/{name}/items`` replaces each item whole (creates a missing one);
  ``DELETE /catalogs/{name}/items`` deletes them. At most 50 items a request.
- One bad item fails the **whole** request with a 400 and ``errors`` (``id``, ``message``,
  ``parameters``, ``parameter_values``): ``items-missing-ids``, ``ids-too-large`` (an id over 250
  characters), ``invalid-ids`` (anything but letters, digits, ``-`` and ``_``), ``invalid-fields``
  (a field the catalog does not have), ``items-too-large`` (a value over 5,000 characters),
  ``request-includes-too-many-items``. An unknown catalog is a 404 (``catalog-not-found``).
- Items are applied in the order requests are processed (with latency and jitter, not the order
  they were sent).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

ITEMS_A_REQUEST = 50
ID_LIMIT = 250
VALUE_LIMIT = 5000
_ID_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class StandInCatalog:
    name: str
    fields: dict[str, str]  # field name -> type (string, number, boolean, time, object, array); "id" is implicit
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # item id -> its fields (id included)
    description: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "fields": [{"name": "id", "type": "string"}] + [{"name": name, "type": kind} for name, kind in self.fields.items()],
            "num_items": len(self.items),
        }


def _error(error_id: str, message: str, values: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": error_id,
        "message": message,
        "parameters": ["id"] if values else [],
        "parameter_values": values or [],
    }


def _too_large(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) > VALUE_LIMIT
    if isinstance(value, (dict, list)):
        return len(orjson.dumps(value)) > VALUE_LIMIT
    return False


class CatalogStore:
    """The catalogs of one stand-in workspace."""

    def __init__(self) -> None:
        self.catalogs: dict[str, StandInCatalog] = {}

    def define(self, name: str, fields: dict[str, str], description: str = "") -> StandInCatalog:
        """A catalog made in Braze (fields by name and type); an existing one of that name is replaced."""
        catalog = StandInCatalog(name, dict(fields), description=description)
        self.catalogs[name] = catalog
        return catalog

    def listing(self) -> list[dict[str, Any]]:
        return [catalog.as_json() for catalog in self.catalogs.values()]

    def request_errors(self, catalog: StandInCatalog, body: Any, deleting: bool) -> list[dict[str, Any]]:
        """Why Braze refuses a whole request (empty: it takes it)."""
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return [_error("invalid-items", "The 'items' field must be a non-empty array")]
        if len(items) > ITEMS_A_REQUEST:
            return [_error("request-includes-too-many-items", f"Request includes more than {ITEMS_A_REQUEST} items")]
        errors: list[dict[str, Any]] = []
        missing = [item for item in items if not isinstance(item, dict) or item.get("id") in (None, "")]
        if missing:
            errors.append(_error("items-missing-ids", f"There are {len(missing)} item(s) that do not have ids"))
        named = [item for item in items if isinstance(item, dict) and item.get("id") not in (None, "")]
        too_long = [str(item["id"]) for item in named if isinstance(item["id"], str) and len(item["id"]) > ID_LIMIT]
        if too_long:
            errors.append(_error("ids-too-large", f"Item IDs can't be more than {ID_LIMIT} characters", too_long))
        bad_ids = [
            str(item["id"])[:ID_LIMIT]
            for item in named
            if not isinstance(item["id"], str) or (len(item["id"]) <= ID_LIMIT and not _ID_CHARACTERS.fullmatch(item["id"]))
        ]
        if bad_ids:
            errors.append(_error("invalid-ids", "Item IDs can only include letters, numbers, hyphens, and underscores", bad_ids))
        if deleting:
            return errors
        unknown = [str(item["id"]) for item in named if any(key != "id" and key not in catalog.fields for key in item)]
        if unknown:
            errors.append(_error("invalid-fields", "Some of the fields given do not exist in the catalog", unknown))
        large = [str(item["id"]) for item in named if any(_too_large(value) for key, value in item.items() if key != "id")]
        if large:
            errors.append(_error("items-too-large", f"Item values can't exceed {VALUE_LIMIT:,} characters", large))
        return errors

    @staticmethod
    def replace(catalog: StandInCatalog, items: list[dict[str, Any]]) -> None:
        for item in items:
            catalog.items[item["id"]] = copy.deepcopy(item)

    @staticmethod
    def delete(catalog: StandInCatalog, items: list[dict[str, Any]]) -> None:
        for item in items:
            catalog.items.pop(item["id"], None)
