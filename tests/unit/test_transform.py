"""Rows to Braze objects: every identifier kind, every data type, every invalid-row rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdi_tui.engine.transform import BrazeObject, RowError, RowTransformer, braze_time, describe_identifier

COLUMNS = ("updated_at", "external_id", "alias_name", "alias_label", "braze_id", "email", "phone", "payload")
WHEN = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)


def row(payload: Any = "{}", updated_at: Any = WHEN, **identifiers: Any) -> list[Any]:
    values = {name: None for name in COLUMNS}
    values.update(identifiers)
    values["updated_at"] = updated_at
    values["payload"] = payload if payload is None or isinstance(payload, str) else json.dumps(payload)
    return [values[name] for name in COLUMNS]


def transform(data_type: str, the_row: list[Any], update_existing_only: bool = False) -> BrazeObject | RowError:
    return RowTransformer(COLUMNS, data_type, update_existing_only).transform(the_row)


@pytest.mark.parametrize(
    ("identifiers", "expected"),
    [
        ({"external_id": "u1"}, {"external_id": "u1"}),
        (
            {"alias_name": "n", "alias_label": "l"},
            {"user_alias": {"alias_name": "n", "alias_label": "l"}, "_update_existing_only": False},
        ),
        ({"braze_id": "b1"}, {"braze_id": "b1"}),
        ({"email": "a@example.com"}, {"email": "a@example.com"}),
        ({"phone": "+15555550100"}, {"phone": "+15555550100"}),
        ({"email": "a@example.com", "phone": "+15555550100"}, {"email": "a@example.com"}),
    ],
)
def test_each_identifier_kind_becomes_the_braze_identifier(identifiers: dict[str, str], expected: dict[str, Any]) -> None:
    result = transform("attributes", row({"plan": "Pro", "gone": None}, **identifiers))
    assert isinstance(result, BrazeObject)
    assert result.array == "attributes"
    assert result.body == {**expected, "plan": "Pro", "gone": None}  # null kept: it removes the attribute


def test_update_existing_only_marks_every_object() -> None:
    for data_type, payload in (
        ("attributes", {"a": 1}),
        ("events", {"name": "e"}),
        ("purchases", {"product_id": "p", "currency": "USD", "price": 1}),
    ):
        result = transform(data_type, row(payload, alias_name="n", alias_label="l"), update_existing_only=True)
        assert isinstance(result, BrazeObject)
        assert result.body["_update_existing_only"] is True


def test_an_event_gets_its_time_from_updated_at_in_utc() -> None:
    result = transform("events", row({"name": "opened", "properties": {"n": 1}}, external_id="u"))
    assert isinstance(result, BrazeObject)
    assert result.body == {"external_id": "u", "name": "opened", "time": "2026-03-01T12:30:15.250Z", "properties": {"n": 1}}
    kept = transform("events", row({"name": "opened", "time": "2020-01-01T00:00:00Z"}, external_id="u"))
    assert isinstance(kept, BrazeObject) and kept.body["time"] == "2020-01-01T00:00:00Z"


def test_a_purchase_gets_its_time_from_updated_at() -> None:
    payload = {"product_id": "plan", "currency": "EUR", "price": 9.99, "quantity": 2}
    result = transform("purchases", row(payload, braze_id="b"))
    assert isinstance(result, BrazeObject)
    assert result.array == "purchases"
    assert result.body == {"braze_id": "b", **payload, "time": "2026-03-01T12:30:15.250Z"}


def test_a_delete_row_becomes_one_identifier_of_the_right_list() -> None:
    columns = ("updated_at", "external_id", "alias_name", "alias_label", "braze_id", "email", "phone")
    transformer = RowTransformer(columns, "deletes")
    cases = [
        ([WHEN, "u1", None, None, None, None, None], "external_ids", {"external_id": "u1"}),
        ([WHEN, None, "n", "l", None, None, None], "user_aliases", {"user_alias": {"alias_name": "n", "alias_label": "l"}}),
        ([WHEN, None, None, None, "b", None, None], "braze_ids", {"braze_id": "b"}),
        # by email or phone: Braze's object form, with the prioritization (the default here)
        ([WHEN, None, None, None, None, "a@example.com", None], "email_addresses",
         {"email": "a@example.com", "prioritization": ["identified", "most_recently_updated"]}),
        ([WHEN, None, None, None, None, None, "+15550001"], "phone_numbers",
         {"phone": "+15550001", "prioritization": ["identified", "most_recently_updated"]}),
    ]  # fmt: skip
    for the_row, array, body in cases:
        result = transformer.transform(the_row)
        assert isinstance(result, BrazeObject)
        assert (result.array, result.body) == (array, body)


BIG = "x" * (1024 * 1024)


@pytest.mark.parametrize(
    ("data_type", "the_row", "code", "words"),
    [
        ("attributes", row({"a": 1}), "no_identifier", "no identifier"),
        ("attributes", row({"a": 1}, external_id="u", braze_id="b"), "multiple_identifiers", "EXTERNAL_ID and BRAZE_ID"),
        ("attributes", row({"a": 1}, external_id="u", email="e@example.com"), "multiple_identifiers", "EMAIL"),
        ("attributes", row({"a": 1}, alias_name="n"), "alias_incomplete", "ALIAS_LABEL is empty"),
        ("attributes", row({"a": 1}, alias_label="l"), "alias_incomplete", "ALIAS_NAME is empty"),
        ("attributes", row(None, external_id="u"), "payload_null", "PAYLOAD is NULL"),
        ("attributes", row("{not json", external_id="u"), "payload_not_json", "not valid JSON"),
        ("attributes", row("[1, 2]", external_id="u"), "payload_not_object", "not an object"),
        ("attributes", row('"text"', external_id="u"), "payload_not_object", "not an object"),
        ("attributes", row('{"a": "' + BIG + '"}', external_id="u"), "payload_too_large", "greater than 1MB"),
        ("attributes", row({f"k{n}": n for n in range(251)}, external_id="u"), "too_many_attributes", "251 keys"),
        ("attributes", row({"external_id": "x"}, braze_id="b"), "payload_has_identifier", "'external_id'"),
        ("attributes", row({"email": "x@example.com"}, external_id="u"), "payload_has_identifier", "'email'"),
        ("attributes", row({"bio": "y" * 256}, external_id="u"), "string_too_long", "bio"),
        ("attributes", row({"$x": 1}, external_id="u"), "attribute_name_dollar", "$x"),
        ("events", row({"properties": {}}, external_id="u"), "event_name_missing", "without 'name'"),
        ("events", row({"name": ""}, external_id="u"), "event_name_missing", "without 'name'"),
        ("events", row({"name": "e", "properties": [1]}, external_id="u"), "properties_not_object", "properties"),
        ("events", row({"name": "e", "properties": {"$p": 1}}, external_id="u"), "property_name_dollar", "$p"),
        ("purchases", row({"currency": "USD", "price": 1}, external_id="u"), "purchase_field_missing", "'product_id'"),
        ("purchases", row({"product_id": "p", "price": 1}, external_id="u"), "purchase_field_missing", "'currency'"),
        ("purchases", row({"product_id": "p", "currency": "USD"}, external_id="u"), "purchase_field_missing", "'price'"),
        ("purchases", row({"product_id": "p", "currency": "usd", "price": 1}, external_id="u"), "currency_invalid", "ISO 4217"),
        ("purchases", row({"product_id": "p", "currency": "ABC", "price": 1}, external_id="u"), "currency_invalid", "ISO 4217"),
        (
            "purchases",
            row({"product_id": "p", "currency": "USD", "price": "1"}, external_id="u"),
            "price_invalid",
            "not a number",
        ),
        (
            "purchases",
            row({"product_id": "p", "currency": "USD", "price": 1, "quantity": 0}, external_id="u"),
            "quantity_invalid",
            "1 to 100",
        ),
        (
            "purchases",
            row({"product_id": "p", "currency": "USD", "price": 1, "quantity": 101}, external_id="u"),
            "quantity_invalid",
            "1 to 100",
        ),
        (
            "purchases",
            row({"product_id": "p", "currency": "USD", "price": 1, "quantity": 2.5}, external_id="u"),
            "quantity_invalid",
            "1 to 100",
        ),
        ("attributes", row({"a": 1}, updated_at=None, external_id="u"), "updated_at_null", "UPDATED_AT is NULL"),
    ],
)
def test_every_invalid_row_rule_gives_a_precise_reason(data_type: str, the_row: list[Any], code: str, words: str) -> None:
    result = transform(data_type, the_row)
    assert isinstance(result, RowError), result
    assert result.code == code
    assert words in result.message


def test_quantity_bounds_are_inclusive() -> None:
    for quantity in (1, 100):
        payload = {"product_id": "p", "currency": "USD", "price": 0, "quantity": quantity}
        assert isinstance(transform("purchases", row(payload, external_id="u")), BrazeObject)


@given(st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda k: not k.startswith("$")), st.integers(), max_size=30))
def test_any_small_flat_payload_round_trips_into_the_attribute_object(payload: dict[str, int]) -> None:
    payload = {
        key: value
        for key, value in payload.items()
        if key not in ("external_id", "user_alias", "braze_id", "email", "phone", "alias_name", "alias_label")
    }
    result = transform("attributes", row(payload, external_id="u"))
    assert isinstance(result, BrazeObject)
    assert result.body == {"external_id": "u", **payload}


def test_identifier_labels_and_times() -> None:
    assert describe_identifier({"external_id": "u1"}) == "external_id=u1"
    assert describe_identifier({"user_alias": {"alias_name": "n", "alias_label": "l"}}) == "alias=l:n"
    assert describe_identifier(None) == "(none)"
    assert braze_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.text(min_size=250, max_size=260)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
ATTRIBUTE_NAMES = st.text(max_size=8) | st.just("") | st.just("$x") | st.just("a$") | st.text(min_size=256, max_size=260)


def nested_value_ok(value: Any, inside: bool = False) -> bool:
    """Braze's rules for a nested attribute (braze-facts.md): objects' keys non-empty, without a
    space, '.' or '$', at most 255 characters; strings inside at most 255 characters."""
    if isinstance(value, dict):
        if list(value) == ["$time"] and isinstance(value["$time"], str):
            return True
        keys_ok = all(key and len(key) <= 255 and not set(key) & {" ", ".", "$"} for key in value)
        return keys_ok and all(nested_value_ok(item, True) for item in value.values())
    if isinstance(value, list):
        objects = [item for item in value if isinstance(item, dict)]
        if not inside and not objects:
            return True  # an array of plain values is not a nested attribute
        return all(nested_value_ok(item, True) for item in value)
    return not (inside and isinstance(value, str) and len(value) > 255)


@settings(max_examples=300)
@given(st.dictionaries(ATTRIBUTE_NAMES, JSON_VALUES, max_size=4))
def test_attribute_rules_hold_for_short_and_long_payloads_alike(payload: dict[str, Any]) -> None:
    # the transform takes a shorter way for short texts without '$'; both ways must agree with the rules
    payload = {key: value for key, value in payload.items() if key not in ("external_id", "braze_id", "email", "phone")}
    payload = {key: value for key, value in payload.items() if key not in ("user_alias", "alias_name", "alias_label")}
    names_ok = all(key and not key.startswith("$") and len(key) <= 255 for key in payload)
    values_ok = all(not isinstance(value, str) or len(value) <= 255 for value in payload.values())
    nested_ok = all(nested_value_ok(value) for value in payload.values() if isinstance(value, (dict, list)))
    result = transform("attributes", row(json.dumps(payload), external_id="u"))
    if names_ok and values_ok and nested_ok:
        assert isinstance(result, BrazeObject), result
        assert result.body == {"external_id": "u", **payload}  # big integers included, exactly
        assert json.dumps(result.body) == json.dumps({"external_id": "u", **payload})
    else:
        assert isinstance(result, RowError)
        assert result.code in ("attribute_name_empty", "attribute_name_dollar", "attribute_name_too_long", "string_too_long",
                               "nested_key_invalid", "nested_string_too_long")  # fmt: skip


def test_short_payloads_keep_integers_beyond_64_bits_at_any_depth() -> None:
    huge = 2**64 + 1
    for payload in ({"n": huge}, {"n": -huge}, {"d": {"e": [1, huge]}}, {"price": "$5", "n": huge}):
        result = transform("attributes", row(json.dumps(payload), external_id="u"))
        assert isinstance(result, BrazeObject)
        assert result.body == {"external_id": "u", **payload}
    event = transform("events", row(json.dumps({"name": "e", "properties": {"n": huge}}), external_id="u"))
    assert isinstance(event, BrazeObject) and event.body["properties"]["n"] == huge


def test_an_empty_attribute_name_is_refused_in_a_short_payload() -> None:
    result = transform("attributes", row('{"": 1}', external_id="u"))
    assert isinstance(result, RowError) and result.code == "attribute_name_empty"


def test_the_object_carries_the_rows_updated_at_for_the_sender() -> None:
    for data_type, payload in (("attributes", {"a": 1}), ("events", {"name": "e"}), ("deletes", {})):
        result = transform(data_type, row(payload, external_id="u"))
        assert isinstance(result, BrazeObject) and result.ref == WHEN
