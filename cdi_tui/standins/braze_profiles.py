"""What the Braze stand-in holds: user profiles, changed the way Braze documents it.

Written apart from the product's own rules on purpose: the tests compare what cdi-tui meant
to send (its data-point counts, its checks) with what this model of Braze ends up holding.
The rules are those of ``braze-facts.md``:

- An attributes object finds its user by its one identifier, or creates one: an external id
  does unless ``_update_existing_only`` is true; a user alias only when it is explicitly
  false (Braze's default for alias-only attribute objects is true); an email or phone
  unless it is true; a Braze id never.
- Attributes apply in the order requests are processed: a value sets, ``null`` removes, an
  object replaces the stored object (or, with ``_merge_objects: true``, merges into it, key
  by key), ``{"inc": n}`` adds, ``{"add": [...]}``/``{"remove": [...]}`` change an array,
  ``$add``/``$remove``/``$update`` change an array of objects.
- Nested attributes: one invalid key or value anywhere in a request (a key with a space,
  ``.`` or a ``$`` other than a ``$time`` date, a key or string over 255 characters) makes
  Braze drop every nested update of that request, silently; an object over 100 KB is
  dropped alone.
- Data points: one an attribute set (``null`` included), each leaf key of a nested object,
  one a whole array, one per value added or removed, one an increment, none for
  subscription fields and identifiers; one an event or purchase; none for deletes.
- Deletes by email or phone take a prioritization; when more than one user still matches,
  nothing is deleted.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

import orjson

SUBSCRIPTION_FIELDS = frozenset({"email_subscribe", "push_subscribe", "subscription_groups"})
IDENTIFIER_FIELDS = frozenset({"external_id", "user_alias", "braze_id", "email", "phone"})
CONTROL_FIELDS = frozenset({"_update_existing_only", "_merge_objects"})
ARRAY_OF_OBJECTS_OPERATIONS = frozenset({"$add", "$remove", "$update"})
NESTED_OBJECT_LIMIT = 100 * 1024
TEXT_LIMIT = 255
PRIORITIZATION_WORDS = frozenset({"identified", "unidentified", "most_recently_updated"})


@dataclass
class Profile:
    """One user as the stand-in holds it."""

    number: int
    external_id: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)  # label -> name
    braze_id: str = ""
    email: str | None = None
    phone: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    purchases: list[dict[str, Any]] = field(default_factory=list)
    updated: int = 0  # the store's clock at the last change

    def as_json(self) -> dict[str, Any]:
        return {
            "braze_id": self.braze_id,
            "external_id": self.external_id,
            "aliases": [{"alias_label": label, "alias_name": name} for label, name in self.aliases.items()],
            "email": self.email,
            "phone": self.phone,
            "attributes": self.attributes,
            "events": self.events,
            "purchases": self.purchases,
        }


def _is_date(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == ["$time"]


def _is_flat_operation(value: dict[str, Any]) -> bool:
    """``{"inc": n}`` or ``{"add": [...], "remove": [...]}`` on a flat attribute."""
    if not value:
        return False
    if list(value) == ["inc"]:
        return True
    return set(value) <= {"add", "remove"} and all(isinstance(item, list) for item in value.values())


def _is_nested(value: Any) -> bool:
    """A nested custom attribute update: an object, an array of objects, or an operation on one."""
    if isinstance(value, dict):
        return not _is_flat_operation(value) and not _is_date(value)
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


def _bad_key(key: str) -> bool:
    return not key or len(key) > TEXT_LIMIT or " " in key or "." in key or "$" in key


def _nested_problem(value: Any) -> bool:
    """Whether a nested value breaks one of Braze's rules (anywhere inside it)."""
    if isinstance(value, str):
        return len(value) > TEXT_LIMIT
    if isinstance(value, list):
        return any(_nested_problem(item) for item in value)
    if isinstance(value, dict):
        if _is_date(value):
            return not isinstance(value["$time"], str)
        return any(_bad_key(key) or _nested_problem(item) for key, item in value.items())
    return False


def _operation_problem(value: dict[str, Any]) -> bool:
    """$add / $remove / $update of an array of objects: the objects added or put in are checked."""
    for operation, entries in value.items():
        if not isinstance(entries, list):
            return True
        for entry in entries:
            if not isinstance(entry, dict):
                return True
            if operation == "$add" and _nested_problem(entry):
                return True
            if operation == "$update" and _nested_problem(entry.get("$new_object", {})):
                return True
    return False


def request_drops_nested(attribute_objects: list[dict[str, Any]]) -> bool:
    """Braze drops every nested update of a request when one of them is invalid."""
    for body in attribute_objects:
        for key, value in body.items():
            if key in IDENTIFIER_FIELDS or key in CONTROL_FIELDS or not _is_nested(value):
                continue
            if isinstance(value, dict) and set(value) & ARRAY_OF_OBJECTS_OPERATIONS:
                if _operation_problem(value):
                    return True
            elif _nested_problem(value):
                return True
    return False


def _leaves(value: dict[str, Any]) -> int:
    """Data points of a nested object: each key whose value is not itself an object (a date is a value)."""
    count = 0
    for item in value.values():
        count += _leaves(item) if isinstance(item, dict) and item and not _is_date(item) else 1
    return count


def _deep_merge(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(stored)
    for key, value in update.items():
        before = merged.get(key)
        if isinstance(value, dict) and isinstance(before, dict) and not _is_date(value) and not _is_date(before):
            merged[key] = _deep_merge(before, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class ProfileStore:
    """The users of one stand-in, and the data points their changes cost."""

    def __init__(self) -> None:
        self.profiles: dict[int, Profile] = {}
        self.data_points = 0
        self.nested_requests_dropped = 0
        self._numbers = itertools.count(1)
        self._clock = itertools.count(1)
        # identifier -> profile numbers (an email or phone may be shared by several users)
        self._index: dict[tuple[str, Any], set[int]] = {}

    # finding ---------------------------------------------------------------------------
    def _tick(self, profile: Profile) -> None:
        profile.updated = next(self._clock)

    @staticmethod
    def _keys(profile: Profile) -> list[tuple[str, Any]]:
        keys: list[tuple[str, Any]] = [("braze_id", profile.braze_id)]
        keys += [(kind, value) for kind, value in (("external_id", profile.external_id), ("email", profile.email),
                                                   ("phone", profile.phone)) if value is not None]  # fmt: skip
        keys += [("user_alias", (label, name)) for label, name in profile.aliases.items()]
        return keys

    def _indexed(self, profile: Profile) -> Profile:
        for key in self._keys(profile):
            self._index.setdefault(key, set()).add(profile.number)
        return profile

    def _new(self, **identity: Any) -> Profile:
        number = next(self._numbers)
        profile = Profile(number, braze_id=f"standin-{number:08d}", **identity)
        self.profiles[number] = profile
        self._tick(profile)
        return self._indexed(profile)

    def matching(self, kind: str, value: Any) -> list[Profile]:
        """Every user an identifier names (an email or phone may name several)."""
        if kind == "user_alias":
            value = (value.get("alias_label"), value.get("alias_name"))
        return [self.profiles[number] for number in sorted(self._index.get((kind, value), ()))]

    def find(self, external_id: str) -> Profile | None:
        found = self.matching("external_id", external_id)
        return found[0] if found else None

    def add(self, **identity: Any) -> Profile:
        """A user made outside the sync (the SDK, another import): ``external_id``, ``email``, ..."""
        aliases = identity.pop("aliases", {})
        attributes = identity.pop("attributes", {})
        profile = self._new(**identity)
        profile.aliases.update(aliases)
        profile.attributes.update(attributes)
        return self._indexed(profile)

    def _user_for(self, body: dict[str, Any], array: str) -> Profile | None:
        """The user an object is about, created when Braze would create it."""
        kind = next((key for key in ("external_id", "user_alias", "braze_id", "email", "phone") if key in body), None)
        if kind is None:
            return None
        value = body[kind]
        found = self.matching(kind, value)
        if found:
            return max(found, key=lambda profile: profile.updated)  # an email several users share: the newest
        existing_only = body.get("_update_existing_only")
        if kind == "braze_id":
            return None
        if kind == "user_alias":
            creates = existing_only is False if array == "attributes" else existing_only is not True
            if not creates:
                return None
            profile = self._new()
            profile.aliases[value["alias_label"]] = value["alias_name"]
            return self._indexed(profile)
        if existing_only is True:
            return None
        return self._new(**{kind: value})

    # changing --------------------------------------------------------------------------
    def apply_track(self, accepted: list[tuple[str, dict[str, Any]]], drop_nested: bool) -> None:
        """Apply the valid objects of one /users/track request, in order."""
        if drop_nested:
            self.nested_requests_dropped += 1
        for array, body in accepted:
            profile = self._user_for(body, array)
            if profile is None:
                continue  # update-existing-only for a user Braze does not have: skipped
            if array == "attributes":
                self._set_attributes(profile, body, drop_nested)
            else:
                entry = {key: copy.deepcopy(value) for key, value in body.items() if key not in IDENTIFIER_FIELDS}
                (profile.events if array == "events" else profile.purchases).append(entry)
                self.data_points += 1
            self._tick(profile)

    def _set_attributes(self, profile: Profile, body: dict[str, Any], drop_nested: bool) -> None:
        merge = body.get("_merge_objects") is True
        stored = profile.attributes
        for key, value in body.items():
            if key in IDENTIFIER_FIELDS or key in CONTROL_FIELDS:
                continue
            if drop_nested and _is_nested(value):
                continue
            cost = 0 if key in SUBSCRIPTION_FIELDS else 1
            if value is None:
                stored.pop(key, None)
            elif isinstance(value, dict) and _is_flat_operation(value):
                cost = self._flat_operation(stored, key, value) if cost else 0
            elif isinstance(value, dict) and set(value) & ARRAY_OF_OBJECTS_OPERATIONS:
                cost = self._objects_operation(stored, key, value) if cost else 0
            elif isinstance(value, dict) and not _is_date(value):
                if len(orjson.dumps(value)) > NESTED_OBJECT_LIMIT:
                    continue  # Braze drops an update that makes the object larger than 100 KB
                before = stored.get(key)
                if merge and isinstance(before, dict) and not _is_date(before):
                    stored[key] = _deep_merge(before, value)
                else:
                    stored[key] = copy.deepcopy(value)
                cost = (_leaves(value) or 1) if cost else 0
            else:
                stored[key] = copy.deepcopy(value)
            self.data_points += cost

    @staticmethod
    def _flat_operation(stored: dict[str, Any], key: str, value: dict[str, Any]) -> int:
        if "inc" in value:
            before = stored.get(key)
            stored[key] = (before if isinstance(before, (int, float)) and not isinstance(before, bool) else 0) + value["inc"]
            return 1
        array = list(stored.get(key) or []) if isinstance(stored.get(key), list) else []
        added, removed = value.get("add", []), value.get("remove", [])
        array.extend(added)
        array = [item for item in array if item not in removed]
        stored[key] = array
        return len(added) + len(removed)

    @staticmethod
    def _objects_operation(stored: dict[str, Any], key: str, value: dict[str, Any]) -> int:
        array = [item for item in stored.get(key) or [] if isinstance(item, dict)] if isinstance(stored.get(key), list) else []
        cost = 0
        for entry in value.get("$add", []):
            array.append(copy.deepcopy(entry))
            cost += 1
        for entry in value.get("$remove", []):
            name, wanted = entry.get("$identifier_key"), entry.get("$identifier_value")
            array = [item for item in array if item.get(name) != wanted]
            cost += 1
        for entry in value.get("$update", []):
            name, wanted = entry.get("$identifier_key"), entry.get("$identifier_value")
            array = [_deep_merge(item, entry.get("$new_object", {})) if item.get(name) == wanted else item for item in array]
            cost += 1
        stored[key] = array
        return cost

    def delete(self, kind: str, entry: Any) -> bool:
        """Delete the one user an entry of /users/delete names; False when none or several match."""
        if kind in ("email_addresses", "phone_numbers"):
            field_name = "email" if kind == "email_addresses" else "phone"
            candidates = self.matching(field_name, entry[field_name])
            for rule in entry["prioritization"]:
                if len(candidates) <= 1:
                    break
                if rule == "identified":
                    narrowed = [profile for profile in candidates if profile.external_id is not None]
                elif rule == "unidentified":
                    narrowed = [profile for profile in candidates if profile.external_id is None]
                else:
                    newest = max(profile.updated for profile in candidates)
                    narrowed = [profile for profile in candidates if profile.updated == newest]
                if narrowed:
                    candidates = narrowed
        else:
            single = {"external_ids": "external_id", "user_aliases": "user_alias", "braze_ids": "braze_id"}[kind]
            candidates = self.matching(single, entry)
        if len(candidates) != 1:
            return False
        gone = self.profiles.pop(candidates[0].number)
        for key in self._keys(gone):
            self._index.get(key, set()).discard(gone.number)
        return True


def delete_entry_problem(kind: str, entry: Any) -> str | None:
    """Why one entry of a /users/delete list is not in the form Braze takes, or None."""
    if kind == "user_aliases":
        if not isinstance(entry, dict) or not entry.get("alias_name") or not entry.get("alias_label"):
            return "user_aliases need alias_name and alias_label"
        return None
    if kind in ("email_addresses", "phone_numbers"):
        field_name = "email" if kind == "email_addresses" else "phone"
        if not isinstance(entry, dict) or not isinstance(entry.get(field_name), str):
            return f"{kind} entries must be objects with '{field_name}' and 'prioritization'"
        prioritization = entry.get("prioritization")
        if not isinstance(prioritization, list) or not prioritization:
            return f"{kind} entries need a 'prioritization' array"
        if any(word not in PRIORITIZATION_WORDS for word in prioritization) or len(set(prioritization)) != len(prioritization):
            return "prioritization takes identified, unidentified and most_recently_updated, each once"
        if "identified" in prioritization and "unidentified" in prioritization:
            return "prioritization cannot hold both identified and unidentified"
        return None
    if not isinstance(entry, str) or not entry:
        return f"{kind} entries must be non-empty strings"
    return None
