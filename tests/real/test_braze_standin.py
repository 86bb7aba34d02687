"""The Braze stand-in, over a real socket with httpx."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cdi_tui.standins.braze import NOTHING_VALID, BrazeStandIn, FaultPlan
from cdi_tui.tls import tls_context  # one CA bundle loaded, not one a request

AUTH = {"Authorization": "Bearer test-key"}


def track(braze: BrazeStandIn, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{braze.url}/users/track", json=body, headers=headers if headers is not None else AUTH, timeout=10, verify=tls_context()
    )


def attribute(n: int, **extra: Any) -> dict[str, Any]:
    return {"external_id": f"user-{n}", "plan": "Pro", **extra}


def listening_addresses(port: int) -> list[str]:
    """The local addresses the kernel has a TCP socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # each 32-bit word is in the host's (little-endian) order
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, width // 2, 4))
                found.append(str(ipaddress.ip_address(words)))
    return found


def test_it_binds_loopback_only(braze: BrazeStandIn) -> None:
    assert braze.url == f"http://127.0.0.1:{braze.port}"
    assert listening_addresses(braze.port) == ["127.0.0.1"]  # not 0.0.0.0 or ::, whatever the URL says


def test_a_missing_or_wrong_key_gets_401_and_a_key_without_permission_403(braze: BrazeStandIn) -> None:
    assert track(braze, {"attributes": [attribute(1)]}, headers={}).status_code == 401
    assert track(braze, {"attributes": [attribute(1)]}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert track(braze, {"attributes": [attribute(1)]}, headers={"Authorization": "Bearer no-permission-key"}).status_code == 403
    assert braze.objects() == []


def test_valid_objects_are_accepted_and_recorded(braze: BrazeStandIn) -> None:
    body = {
        "attributes": [
            attribute(1),
            {"user_alias": {"alias_name": "a", "alias_label": "crm"}, "vip": True, "_update_existing_only": False},
        ],
        "events": [{"email": "a@example.com", "name": "opened", "time": "2026-01-01T00:00:00Z", "properties": {"n": 1}}],
        "purchases": [
            {
                "phone": "+15555550100",
                "product_id": "p1",
                "currency": "EUR",
                "price": 9.5,
                "quantity": 2,
                "time": "2026-01-01T00:00:00Z",
            }
        ],
    }
    response = track(braze, body, headers={**AUTH, "X-Braze-Bulk": "true"})
    assert response.status_code == 201
    assert response.json() == {
        "message": "success",
        "attributes_processed": 2,
        "events_processed": 1,
        "purchases_processed": 1,
    }
    assert braze.objects("attributes") == body["attributes"]
    assert braze.objects("events") == body["events"]
    assert braze.objects("purchases") == body["purchases"]
    assert all(item.bulk for item in braze.received)


def test_more_than_75_objects_in_an_array_is_refused_whole(braze: BrazeStandIn) -> None:
    assert track(braze, {"attributes": [attribute(n) for n in range(75)]}).status_code == 201
    braze.reset()
    response = track(braze, {"attributes": [attribute(n) for n in range(76)]})
    assert response.status_code == 400
    assert response.json()["message"] == "Max Input Length Exceeded"
    assert braze.objects() == []


def test_the_mau_plan_allows_50_objects_combined() -> None:
    with BrazeStandIn(api_keys=("test-key",), combined_limit=True) as braze:
        body = {
            "attributes": [attribute(n) for n in range(30)],
            "events": [{"external_id": "u", "name": "e", "time": "2026-01-01T00:00:00Z"}] * 21,
        }
        assert track(braze, body).status_code == 400
        body["events"] = body["events"][:20]
        assert track(braze, body).status_code == 201


@pytest.mark.parametrize(
    ("array", "obj", "error_type"),
    [
        ("attributes", {"plan": "Pro"}, "missing_identifier"),
        ("attributes", {"external_id": "a", "braze_id": "b"}, "multiple_identifiers"),
        ("attributes", {"user_alias": {"alias_name": "a"}}, "invalid_user_alias"),
        ("attributes", {"external_id": "a", "bio": "x" * 256}, "string_too_long"),
        ("attributes", {"external_id": "a", "$bad": 1}, "invalid_attribute_name"),
        ("events", {"external_id": "a", "time": "2026-01-01T00:00:00Z"}, "missing_name"),
        ("events", {"external_id": "a", "name": "e"}, "missing_time"),
        ("events", {"external_id": "a", "name": "e", "time": "t", "properties": {"$x": 1}}, "invalid_property_name"),
        ("purchases", {"external_id": "a", "currency": "USD", "price": 1, "time": "t"}, "missing_product_id"),
        (
            "purchases",
            {"external_id": "a", "product_id": "p", "currency": "usd", "price": 1, "time": "t"},
            "invalid_currency",
        ),
        (
            "purchases",
            {"external_id": "a", "product_id": "p", "currency": "XYZ", "price": 1, "time": "t"},
            "invalid_currency",
        ),
        (
            "purchases",
            {"external_id": "a", "product_id": "p", "currency": "USD", "price": "1", "time": "t"},
            "invalid_price",
        ),
        (
            "purchases",
            {"external_id": "a", "product_id": "p", "currency": "USD", "price": 1, "quantity": 101, "time": "t"},
            "invalid_quantity",
        ),
    ],
)
def test_invalid_objects_are_reported_by_array_and_index_while_the_rest_is_processed(
    braze: BrazeStandIn, array: str, obj: dict[str, Any], error_type: str
) -> None:
    good = {
        "attributes": attribute(9),
        "events": {"external_id": "a", "name": "e", "time": "2026-01-01T00:00:00Z"},
        "purchases": {
            "external_id": "a",
            "product_id": "p",
            "currency": "USD",
            "price": 1,
            "time": "2026-01-01T00:00:00Z",
        },
    }[array]
    response = track(braze, {array: [good, obj, good]})
    assert response.status_code == 201
    assert response.json()["errors"] == [{"type": error_type, "input_array": array, "index": 1}]
    assert braze.objects(array) == [good, good]


def test_nothing_valid_is_a_400_with_the_braze_message(braze: BrazeStandIn) -> None:
    response = track(braze, {"attributes": [{"plan": "x"}]})
    assert response.status_code == 400
    assert response.json()["message"] == NOTHING_VALID
    assert track(braze, {}).status_code == 400  # the no-cost key check: 400 with a valid key
    assert track(braze, {}, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_rate_limit_headers_and_429_past_the_limit() -> None:
    with BrazeStandIn(api_keys=("test-key",), rate_limit=5, rate_window_seconds=30) as braze:
        statuses = []
        for n in range(7):
            response = track(braze, {"attributes": [attribute(n)]})
            statuses.append(response.status_code)
            assert response.headers["X-RateLimit-Limit"] == "5"
            assert int(response.headers["X-RateLimit-Reset"]) >= int(time.time())
        assert statuses == [201] * 5 + [429] * 2
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert 1 <= int(response.headers["Retry-After"]) <= 30
        assert len(braze.objects()) == 5


@pytest.mark.serial  # timing: measured alone, not beside other tests
def test_the_rate_window_resets() -> None:
    with BrazeStandIn(api_keys=("test-key",), rate_limit=2, rate_window_seconds=0.5) as braze:
        assert [track(braze, {"attributes": [attribute(n)]}).status_code for n in range(3)] == [201, 201, 429]
        time.sleep(0.6)
        assert track(braze, {"attributes": [attribute(9)]}).status_code == 201


def test_injected_server_errors_drops_and_latency(braze: BrazeStandIn) -> None:
    braze.set_faults(FaultPlan(fail_next=2))
    assert [track(braze, {"attributes": [attribute(n)]}).status_code for n in range(3)] == [503, 503, 201]
    braze.set_faults(FaultPlan(drop_next=1))
    with pytest.raises(httpx.TransportError):
        track(braze, {"attributes": [attribute(4)]})
    assert track(braze, {"attributes": [attribute(5)]}).status_code == 201
    braze.set_faults(FaultPlan(latency_seconds=0.3))
    started = time.monotonic()
    track(braze, {"attributes": [attribute(6)]})
    assert time.monotonic() - started >= 0.3
    braze.set_faults(FaultPlan(server_error_share=0.5, seed=1))
    statuses = [track(braze, {"attributes": [attribute(n)]}).status_code for n in range(40)]
    assert 8 <= statuses.count(503) <= 32 and statuses.count(201) == 40 - statuses.count(503)
    assert braze.stats.dropped == 1


def test_deletes_take_at_most_50_identifiers_of_one_kind(braze: BrazeStandIn) -> None:
    url = f"{braze.url}/users/delete"
    response = httpx.post(url, json={"external_ids": [f"u{n}" for n in range(50)]}, headers=AUTH)
    assert response.status_code == 201 and response.json()["deleted"] == 50
    aliases = httpx.post(url, json={"user_aliases": [{"alias_name": "a", "alias_label": "l"}]}, headers=AUTH)
    assert aliases.status_code == 201
    assert len(braze.objects("deletes")) == 51
    mixed = httpx.post(url, json={"external_ids": ["u1"], "braze_ids": ["b1"]}, headers=AUTH)
    assert mixed.status_code == 400 and "Only one of" in mixed.json()["message"]
    too_many = httpx.post(url, json={"external_ids": [f"u{n}" for n in range(51)]}, headers=AUTH)
    assert too_many.status_code == 400 and too_many.json()["message"] == "Max Input Length Exceeded"
    assert len(braze.objects("deletes")) == 51  # refused requests delete nothing


def test_the_record_can_be_read_over_http(braze: BrazeStandIn) -> None:
    track(braze, {"attributes": [attribute(1)]})
    dump = httpx.get(f"{braze.url}/_standin/received").json()
    assert dump["received"] == [{"endpoint": "attributes", "body": attribute(1), "bulk": False}]


# catalogs --------------------------------------------------------------------------------------------


def items_request(braze: BrazeStandIn, method: str, catalog: str, items: list[dict[str, Any]]) -> httpx.Response:
    url = f"{braze.url}/catalogs/{catalog}/items"
    return httpx.request(method, url, json={"items": items}, headers=AUTH, timeout=10, verify=tls_context())


def test_catalogs_are_listed_and_one_bad_item_fails_its_whole_request(braze: BrazeStandIn) -> None:
    braze.define_catalog("products", {"name": "string", "price": "number"})
    listed = httpx.get(f"{braze.url}/catalogs", headers=AUTH, timeout=10).json()["catalogs"]
    assert [entry["name"] for entry in listed] == ["products"]
    assert {field["name"] for field in listed[0]["fields"]} == {"id", "name", "price"}
    good = [{"id": f"p{n}", "name": f"n{n}", "price": n} for n in range(3)]
    assert items_request(braze, "PUT", "products", good).status_code == 202
    refused = items_request(braze, "PUT", "products", [{"id": "p9", "name": "x"}, {"id": "p8", "colour": "red"}])
    assert refused.status_code == 400
    assert [error["id"] for error in refused.json()["errors"]] == ["invalid-fields"]
    for bad, error_id in (({"id": "a b"}, "invalid-ids"), ({"id": "x" * 251}, "ids-too-large"), ({"id": "p1", "name": "y" * 5001}, "items-too-large"), ({"name": "no id"}, "items-missing-ids")):  # fmt: skip
        answer = items_request(braze, "PUT", "products", [good[0], bad])
        assert answer.status_code == 400 and answer.json()["errors"][0]["id"] == error_id
    assert items_request(braze, "PUT", "products", [{"id": f"q{n}"} for n in range(51)]).json()["errors"][0]["id"] == (
        "request-includes-too-many-items"
    )
    assert items_request(braze, "DELETE", "products", [{"id": "p1"}]).status_code == 202
    assert items_request(braze, "PUT", "nope", good).status_code == 404
    assert sorted(braze.catalog_items("products")) == ["p0", "p2"]  # nothing of a refused request was applied


def test_the_catalog_endpoints_have_a_rate_limit_of_their_own() -> None:
    with BrazeStandIn(api_keys=("test-key",), rate_limit=2, catalog_rate_limit=3, catalog_rate_window_seconds=60) as braze:
        braze.define_catalog("products", {"name": "string"})
        statuses = [items_request(braze, "PUT", "products", [{"id": "p1", "name": "n"}]).status_code for _ in range(4)]
        assert statuses == [202, 202, 202, 429]
        assert track(braze, {"attributes": [attribute(1)]}).status_code == 201  # /users/track's budget is untouched
