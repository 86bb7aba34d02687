"""The per-user order rules, data points and nested-attribute checks, without sockets.

The product's reading of Braze's rules (``cdi_tui.braze.rules``, ``cdi_tui.engine.order``)
is compared with the Braze stand-in's own model (``cdi_tui.standins.braze_profiles``),
written apart: folding a user's rows must leave Braze holding what sending them one by one
would; data points and nested-attribute verdicts must agree.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cdi_tui.braze.objects import BrazeObject
from cdi_tui.braze.rules import attribute_data_points, nested_attribute_problem, prioritization_problem
from cdi_tui.engine.changes import data_points
from cdi_tui.engine.order import FoldRow, compatible, join
from cdi_tui.standins.braze_profiles import ProfileStore, request_drops_nested


def obj(body: dict[str, Any], moment: int = 0) -> BrazeObject:
    return BrazeObject("attributes", {"external_id": "u", **body}, moment, "external_id=u")


def fold_all(bodies: list[dict[str, Any]]) -> tuple[list[BrazeObject], list[FoldRow]]:
    """Fold rows in order as the pump does: into the last object when they can join, else a new one."""
    superseded: list[FoldRow] = []
    objects: list[BrazeObject] = []
    for moment, body in enumerate(bodies):
        item = obj(body, moment)
        if not objects or not join(objects[-1], item, None, None, superseded.append):
            objects.append(item)
    return objects, superseded


def braze_after(bodies: list[dict[str, Any]], start: dict[str, Any] | None = None) -> dict[str, Any]:
    store = ProfileStore()
    if start is not None:
        store.add(external_id="u", attributes=copy.deepcopy(start))
    store.apply_track([("attributes", {"external_id": "u", **body}) for body in bodies], drop_nested=False)
    found = store.find("u")
    return found.attributes if found is not None else {}


# folding ---------------------------------------------------------------------------------------


def test_a_newer_value_replaces_an_older_one_and_a_row_left_with_nothing_is_superseded() -> None:
    objects, superseded = fold_all([{"plan": "a", "tier": 1}, {"plan": "b"}, {"tier": 2}])
    assert len(objects) == 1 and objects[0].body == {"external_id": "u", "plan": "b", "tier": 2}
    assert [row.moment for row in superseded] == [0]  # both its values were set again
    assert [row.moment for row in objects[0].fold.rows] == [1, 2]


def test_a_row_keeping_one_value_is_carried_not_superseded() -> None:
    objects, superseded = fold_all([{"plan": "a", "tier": 1}, {"plan": "b"}])
    assert superseded == [] and [row.moment for row in objects[0].fold.rows] == [0, 1]


def test_null_in_a_newer_row_removes_the_attribute() -> None:
    objects, _ = fold_all([{"plan": "a"}, {"plan": None}])
    assert objects[0].body["plan"] is None
    assert braze_after([objects[0].body]) == braze_after([{"plan": "a"}, {"plan": None}]) == {}


def test_operations_on_one_attribute_are_not_folded_but_a_value_after_one_is() -> None:
    assert not compatible({"n": {"inc": 1}}, {"n": {"inc": 2}})
    assert not compatible({"n": 5}, {"n": {"inc": 2}})
    assert compatible({"n": {"inc": 1}}, {"n": 7})
    assert compatible({"n": {"inc": 1}}, {"m": {"inc": 1}})  # different attributes do not interfere


def test_rows_with_different_control_keys_are_not_folded() -> None:
    assert not compatible({"_update_existing_only": True, "a": 1}, {"a": 2})
    assert not compatible({"a": {"x": 1}}, {"_merge_objects": True, "a": {"y": 1}})


def test_merged_objects_fold_key_by_key_and_a_merge_onto_a_plain_value_waits() -> None:
    objects, superseded = fold_all([
        {"_merge_objects": True, "prefs": {"a": 1, "b": {"c": 1}}},
        {"_merge_objects": True, "prefs": {"b": {"d": 2}}},
    ])  # fmt: skip
    assert objects[0].body["prefs"] == {"a": 1, "b": {"c": 1, "d": 2}} and superseded == []
    assert not compatible({"_merge_objects": True, "prefs": None}, {"_merge_objects": True, "prefs": {"b": 1}})


row_values = st.one_of(
    st.integers(-5, 5),
    st.sampled_from(["x", "y", None, True]),
    st.just({"inc": 1}),
    st.dictionaries(st.sampled_from(["p", "q"]), st.integers(0, 3), max_size=2),
)
rows = st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), row_values, max_size=3), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(rows, st.booleans(), st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 3), max_size=3))
def test_folding_then_sending_leaves_braze_as_sending_every_row_in_turn(
    bodies: list[dict[str, Any]], merge: bool, start: dict[str, Any]
) -> None:
    if merge:
        bodies = [{**body, "_merge_objects": True} for body in bodies]
    objects, _superseded = fold_all(copy.deepcopy(bodies))
    folded = [{key: value for key, value in item.body.items() if key != "external_id"} for item in objects]
    assert braze_after(folded, start) == braze_after(bodies, start)


# data points --------------------------------------------------------------------------------------


def test_data_points_of_the_issues_three_rows() -> None:
    items = [
        obj({"plan": "pro", "prefs": {"a": 1, "b": 2, "c": 3}}),
        obj({"email_subscribe": "opted_in", "tags": ["x", "y"]}),
        obj({"tags": {"add": ["x", "y"]}}),
    ]
    assert [data_points(item) for item in items] == [4, 1, 2]
    assert attribute_data_points("prefs", None) == 1
    assert attribute_data_points("pets", {"$add": [{"id": 1}, {"id": 2}], "$remove": [{"$identifier_key": "id"}]}) == 3
    assert data_points(BrazeObject("events", {"external_id": "u", "name": "e"})) == 1
    assert data_points(BrazeObject("external_ids", {"external_id": "u"})) == 0


attribute_values = st.recursive(
    st.one_of(st.integers(0, 9), st.text(max_size=3), st.none(), st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["k", "m", "n"]), inner, max_size=3),
    ),
    max_leaves=8,
)
attribute_objects = st.dictionaries(
    st.sampled_from(["plan", "prefs", "tags", "email_subscribe", "push_subscribe", "score"]),
    st.one_of(
        attribute_values,
        st.builds(lambda n: {"inc": n}, st.integers(1, 3)),
        st.builds(lambda values: {"add": values}, st.lists(st.text(max_size=2), max_size=3)),
        st.just({"$time": "2026-01-01T00:00:00Z"}),
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(attribute_objects)
def test_the_products_data_points_equal_what_the_stand_in_counts_as_braze(body: dict[str, Any]) -> None:
    store = ProfileStore()
    store.add(external_id="u")
    store.apply_track([("attributes", {"external_id": "u", **body})], drop_nested=False)
    assert data_points(obj(body)) == store.data_points


# nested attributes ----------------------------------------------------------------------------------

nested_keys = st.sampled_from(["ok", "a b", "a.b", "$x", "k" * 256, "good_key", "x-y"])
nested_values = st.recursive(
    st.one_of(st.integers(0, 3), st.sampled_from(["s", "t" * 256]), st.just({"$time": "2026-01-01T00:00:00Z"})),
    lambda inner: st.one_of(st.dictionaries(nested_keys, inner, max_size=3), st.lists(inner, max_size=2)),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(nested_keys, nested_values, min_size=1, max_size=3))
def test_a_nested_object_the_product_refuses_is_one_braze_would_drop_the_request_for(value: dict[str, Any]) -> None:
    refused = nested_attribute_problem("attr", value) is not None
    assert refused == request_drops_nested([{"external_id": "u", "attr": value}])


def test_the_reason_names_the_key_path() -> None:
    assert 'prefs."bad key"' in nested_attribute_problem("prefs", {"bad key": 1})[1]  # type: ignore[index]
    assert 'prefs.inner."a.b"' in nested_attribute_problem("prefs", {"inner": {"a.b": 1}})[1]  # type: ignore[index]
    assert "prefs.list[1].bio" in nested_attribute_problem("prefs", {"list": [{}, {"bio": "x" * 256}]})[1]  # type: ignore[index]
    assert nested_attribute_problem("prefs", {"when": {"$time": "2026-01-01T00:00:00Z"}}) is None
    assert nested_attribute_problem("big", {"k": ["x" * 200] * 600})[0] == "nested_object_too_large"  # type: ignore[index]


def test_a_payload_nested_thousands_deep_is_refused_without_a_crash() -> None:
    deep: dict[str, Any] = {"leaf": "x" * 300}
    for _ in range(5_000):
        deep = {"k": deep}
    problem = nested_attribute_problem("deep", deep)
    assert problem is not None and problem[0] == "nested_string_too_long"


def test_prioritization_rules() -> None:
    assert prioritization_problem(("identified", "most_recently_updated")) is None
    assert prioritization_problem(("identified", "unidentified")) is not None
    assert prioritization_problem(("oldest",)) is not None
    assert prioritization_problem(()) is not None
    assert prioritization_problem(("identified", "identified")) is not None
