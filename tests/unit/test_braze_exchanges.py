"""The Braze exchanges (``cdi_tui.braze.client``) driven by scripted answers, without a socket.

An exchange is a generator that yields the I/O it needs (a POST, or a pause) and is handed back
Braze's answer. Here the answers are ``httpx.Response`` objects made by the test, so each rule
of retry, backoff, rate-limit pause, ``errors[]`` mapping and split can be looked at alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

import httpx
import orjson
import pytest
from fakes import at

from cdi_tui.braze import client as client_module
from cdi_tui.braze.client import (
    BrazeAuthError,
    BrazeClient,
    BrazeEndpointError,
    RateLimiter,
    RetryPolicy,
    SendCancelled,
    SendOutcome,
    _Pause,
    _Request,
)
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.engine.transform import RowTransformer
from cdi_tui.enums import DataType

Reply = httpx.Response | httpx.TransportError
Answer = Callable[[dict[str, Any]], Reply]


def make_client(**retry: Any) -> BrazeClient:
    return BrazeClient("https://rest.iad-03.braze.com", "key", limiter=RateLimiter(3000, 3.0), retry=RetryPolicy(**retry))


def attributes(*users: str) -> list[BrazeObject]:
    return [
        BrazeObject("attributes", {"external_id": user, "plan": "pro"}, index, f"external_id={user}")
        for index, user in enumerate(users)
    ]


def ok(**payload: Any) -> httpx.Response:
    return httpx.Response(201, json={"message": "success", **payload})


def status(code: int, headers: dict[str, str] | None = None, message: str = "nope") -> httpx.Response:
    return httpx.Response(code, json={"message": message}, headers=headers)


class Script:
    """Answers each POST of an exchange from ``answer`` (given the request body); records the steps."""

    def __init__(self, answer: Answer | list[Reply]) -> None:
        if isinstance(answer, list):
            replies = iter(answer)
            self.answer: Answer = lambda _body: next(replies)
        else:
            self.answer = answer
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.pauses: list[float] = []

    def drive(self, exchange: Generator[Any, Any, Any]) -> Any:
        reply: Any = None
        try:
            while True:
                step = exchange.send(reply)
                if isinstance(step, _Pause):
                    self.pauses.append(step.seconds)
                    reply = None
                else:
                    assert isinstance(step, _Request)
                    body = orjson.loads(step.content)
                    self.posts.append((step.path, body))
                    reply = self.answer(body)
        except StopIteration as done:
            return done.value


def ids(items: list[BrazeObject]) -> list[str]:
    return [item.body.get("external_id", "") for item in items]


def paused_for(client: BrazeClient) -> float:
    """How long the client's rate limiter now holds every request back."""
    return client.limiter.reserve()


# success and errors[] ----------------------------------------------------------------------------------


def test_a_201_delivers_every_object_in_one_request() -> None:
    client, script = make_client(), Script([ok()])
    outcome = script.drive(client._track(attributes("a", "b", "c")))
    assert ids(outcome.delivered) == ["a", "b", "c"] and outcome.rejected == outcome.transient == []
    assert [path for path, _body in script.posts] == ["/users/track"]
    assert script.posts[0][1] == {"attributes": [{"external_id": user, "plan": "pro"} for user in "abc"]}


def test_a_202_queued_during_maintenance_counts_as_accepted() -> None:
    outcome = Script([httpx.Response(202, json={"message": "queued"})]).drive(make_client()._track(attributes("a")))
    assert ids(outcome.delivered) == ["a"]


def test_partial_errors_reject_only_the_objects_they_point_at() -> None:
    items = [
        *attributes("a", "b"),
        BrazeObject("events", {"external_id": "c", "name": "played"}, 2, "external_id=c"),
        BrazeObject("events", {"external_id": "d", "name": "played"}, 3, "external_id=d"),
    ]
    answer = ok(
        errors=[
            {"type": "invalid_user", "input_array": "events", "index": 1},
            {"type": "bad", "input_array": "attributes", "index": 0},
        ]
    )
    script = Script([answer])
    outcome = script.drive(make_client()._track(items))
    assert ids(outcome.delivered) == ["b", "c"]
    assert [(item.body["external_id"], reason) for item, reason in outcome.rejected] == [
        ("a", "Braze rejected the object: bad"),
        ("d", "Braze rejected the object: invalid_user"),
    ]
    assert len(script.posts) == 1  # a partial success is final: nothing is sent again
    assert script.posts[0][1] == {"attributes": [item.body for item in items[:2]], "events": [item.body for item in items[2:]]}


def test_a_400_for_the_whole_batch_is_split_until_the_bad_object_stands_alone() -> None:
    users = [f"u{n}" for n in range(8)]

    def answer(body: dict[str, Any]) -> Reply:
        sent = [obj["external_id"] for obj in body["attributes"]]
        return status(400, message="Valid data must be provided") if "u5" in sent else ok()

    script = Script(answer)
    outcome = script.drive(make_client()._track(attributes(*users)))
    assert sorted(ids(outcome.delivered)) == sorted(user for user in users if user != "u5")
    [(bad, reason)] = outcome.rejected
    assert bad.body["external_id"] == "u5" and reason == "Braze rejected the object: 400 Valid data must be provided"
    sizes = [len(body["attributes"]) for _path, body in script.posts]
    assert sizes == [8, 4, 4, 2, 1, 1, 2]  # halves down to the one object, which is refused alone
    assert script.posts[4][1]["attributes"] == [{"external_id": "u4", "plan": "pro"}]
    assert script.posts[5][1]["attributes"] == [{"external_id": "u5", "plan": "pro"}]
    assert outcome.transient == []


def test_a_400_naming_some_objects_rejects_those_and_sends_the_rest_once_more() -> None:
    refused = httpx.Response(400, json={"errors": [{"type": "bad", "input_array": "attributes", "index": 1}]})
    script = Script([refused, ok()])
    outcome = script.drive(make_client()._track(attributes("a", "b", "c")))
    assert [item.body["external_id"] for item, _reason in outcome.rejected] == ["b"]
    assert ids(outcome.delivered) == ["a", "c"]
    assert [len(body["attributes"]) for _path, body in script.posts] == [3, 2]


# answers that end the run --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "words"),
    [
        (401, BrazeAuthError, "rejected the REST API key: 401"),
        (403, BrazeAuthError, "permission users.track needed"),
        (404, BrazeEndpointError, "404 for /users/track: check the instance or URL"),
    ],
)
def test_401_403_and_404_end_the_run_after_one_request(code: int, error: type[Exception], words: str) -> None:
    script = Script([status(code)] * 5)
    with pytest.raises(error, match=words):
        script.drive(make_client()._track(attributes("a", "b")))
    assert len(script.posts) == 1 and script.pauses == []


def test_a_401_on_a_delete_ends_the_run_too() -> None:
    script = Script([status(401)])
    with pytest.raises(BrazeAuthError):
        script.drive(make_client()._delete([BrazeObject("external_ids", {"external_id": "a"}, 0, "external_id=a")]))


# 429 and the rate-limit headers --------------------------------------------------------------------------


def test_a_429_without_headers_holds_every_request_for_a_second_then_sends_again() -> None:
    client = make_client()
    script = Script([status(429), ok()])
    outcome = script.drive(client._track(attributes("a")))
    assert ids(outcome.delivered) == ["a"] and len(script.posts) == 2
    assert script.pauses == []  # the wait is the limiter's, shared by every request of the workspace
    assert 0.5 < paused_for(client) <= 1.01


def test_retry_after_is_obeyed() -> None:
    client = make_client()
    Script([status(429, {"Retry-After": "7"}), ok()]).drive(client._track(attributes("a")))
    assert 6.0 < paused_for(client) <= 7.01


def test_retry_after_is_obeyed_even_when_the_rate_limit_headers_say_sooner() -> None:
    client = make_client()
    soon = str(int(time.time()) + 2)
    answer = status(429, {"Retry-After": "7", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": soon})
    Script([answer, ok()]).drive(client._track(attributes("a")))
    assert 6.0 < paused_for(client) <= 7.01


def test_a_429_with_only_a_reset_time_waits_until_then() -> None:
    client = make_client()
    reset = time.time() + 4
    Script([status(429, {"X-RateLimit-Reset": f"{reset:.3f}"}), ok()]).drive(client._track(attributes("a")))
    assert 3.0 < paused_for(client) <= 4.01


def test_no_requests_remaining_in_the_window_holds_the_next_ones_until_the_reset() -> None:
    client = make_client()
    reset = time.time() + 5
    answer = httpx.Response(
        201, json={"message": "success"}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": f"{reset:.3f}"}
    )
    outcome = Script([answer]).drive(client._track(attributes("a")))
    assert ids(outcome.delivered) == ["a"]
    assert 4.0 < paused_for(client) <= 5.01


def test_requests_remaining_hold_nothing_back() -> None:
    client = make_client()
    answer = httpx.Response(201, json={}, headers={"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": str(int(time.time()) + 5)})
    Script([answer]).drive(client._track(attributes("a")))
    assert paused_for(client) == 0


def test_a_429_storm_ends_as_transient_never_as_rejected() -> None:
    client = make_client(max_rate_limited=4)
    script = Script([status(429)] * 4)
    outcome = script.drive(client._track(attributes("a", "b")))
    assert outcome.delivered == outcome.rejected == []
    assert [(item.body["external_id"], reason) for item, reason in outcome.transient] == [
        ("a", "Braze kept answering 429 (rate limited)"),
        ("b", "Braze kept answering 429 (rate limited)"),
    ]
    assert len(script.posts) == 4


# 5xx, timeouts, dropped connections: backoff -----------------------------------------------------------------


def at_the_top_of_the_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Full jitter draws each pause from 0 to the backoff: take the top, so the backoff itself shows."""
    monkeypatch.setattr(client_module.random, "uniform", lambda _low, high: high)


def test_a_sustained_503_backs_off_exponentially_then_leaves_every_object_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    at_the_top_of_the_jitter(monkeypatch)
    client = make_client(max_attempts=6, backoff_base=0.5, backoff_cap=30.0)
    script = Script([status(503, message="Service Unavailable")] * 6)
    outcome = script.drive(client._track(attributes("a", "b", "c")))
    assert script.pauses == [1.0, 2.0, 4.0, 8.0, 16.0]  # doubling between the six attempts
    assert len(script.posts) == 6 and all(len(body["attributes"]) == 3 for _path, body in script.posts)  # never split
    assert outcome.delivered == outcome.rejected == []
    assert [item.body["external_id"] for item, _reason in outcome.transient] == ["a", "b", "c"]
    assert all(
        reason == "Braze answered 503 Service Unavailable; gave up after 6 attempts" for _item, reason in outcome.transient
    )


def test_the_backoff_stops_growing_at_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    at_the_top_of_the_jitter(monkeypatch)
    script = Script([status(500)] * 8)
    script.drive(make_client(max_attempts=8, backoff_base=1.0, backoff_cap=10.0)._track(attributes("a")))
    assert script.pauses == [2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]


def test_each_pause_is_drawn_between_nothing_and_the_backoff() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=30.0)
    for attempt in range(1, 8):
        delays = [policy.delay(attempt) for _ in range(200)]
        top = min(30.0, 0.5 * 2**attempt)
        assert all(0 <= delay <= top for delay in delays)
        assert max(delays) > top / 2  # spread over the range, not stuck low


def test_a_server_error_then_success_delivers_after_one_pause() -> None:
    script = Script([status(502), ok()])
    outcome = script.drive(make_client(backoff_base=0.5)._track(attributes("a")))
    assert ids(outcome.delivered) == ["a"] and len(script.pauses) == 1 and len(script.posts) == 2


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (httpx.ReadTimeout("slow"), "Braze did not answer in time"),
        (httpx.ConnectError("refused"), "connection to Braze failed (ConnectError)"),
        (httpx.RemoteProtocolError("dropped"), "connection to Braze failed (RemoteProtocolError)"),
    ],
)
def test_timeouts_and_dropped_connections_are_retried_then_transient(failure: httpx.TransportError, words: str) -> None:
    script = Script([failure] * 3)
    outcome = script.drive(make_client(max_attempts=3)._track(attributes("a")))
    assert len(script.posts) == 3 and len(script.pauses) == 2
    [(_item, reason)] = outcome.transient
    assert reason == f"{words}; gave up after 3 attempts"


def test_a_sustained_503_on_deletes_leaves_them_transient() -> None:
    script = Script([status(503)] * 2)
    items = [BrazeObject("external_ids", {"external_id": f"u{n}"}, n, f"external_id=u{n}") for n in range(3)]
    outcome = script.drive(make_client(max_attempts=2, backoff_base=0.0)._delete(items))
    assert len(outcome.transient) == 3 and outcome.rejected == [] and len(script.posts) == 2


# deletes ---------------------------------------------------------------------------------------------------


def delete_objects(prioritization: tuple[str, ...] = ("identified", "most_recently_updated")) -> list[BrazeObject]:
    columns = ("updated_at", "external_id", "alias_name", "alias_label", "braze_id", "email", "phone")
    transformer = RowTransformer(columns, DataType.DELETES, delete_prioritization=prioritization)
    rows = [
        [at(1), "u1", None, None, None, None, None],
        [at(2), None, None, None, None, "a@example.com", None],
        [at(3), None, "ann", "crm", None, None, None],
        [at(4), None, None, None, None, None, "+15555550100"],
        [at(5), None, None, None, "b-id-1", None, None],
        [at(6), "u2", None, None, None, None, None],
        [at(7), None, None, None, None, "b@example.com", "+15555550199"],  # email wins over phone
    ]
    made = [transformer.transform(row) for row in rows]
    assert all(isinstance(item, BrazeObject) for item in made)
    return made  # type: ignore[return-value]


def test_deletes_go_one_request_a_kind_of_identifier_in_braze_form() -> None:
    script = Script(lambda _body: ok())
    outcome = script.drive(make_client()._delete(delete_objects(("unidentified", "most_recently_updated"))))
    assert len(outcome.delivered) == 7
    bodies = {tuple(body): body for _path, body in script.posts}
    assert all(path == "/users/delete" for path, _body in script.posts)
    assert sorted(bodies) == [("braze_ids",), ("email_addresses",), ("external_ids",), ("phone_numbers",), ("user_aliases",)]
    assert bodies[("external_ids",)] == {"external_ids": ["u1", "u2"]}
    assert bodies[("braze_ids",)] == {"braze_ids": ["b-id-1"]}
    assert bodies[("user_aliases",)] == {"user_aliases": [{"alias_name": "ann", "alias_label": "crm"}]}
    prioritization = ["unidentified", "most_recently_updated"]
    assert bodies[("email_addresses",)] == {
        "email_addresses": [
            {"email": "a@example.com", "prioritization": prioritization},
            {"email": "b@example.com", "prioritization": prioritization},
        ]
    }
    assert bodies[("phone_numbers",)] == {"phone_numbers": [{"phone": "+15555550100", "prioritization": prioritization}]}


def test_a_refused_delete_batch_is_split_down_to_the_bad_identifier() -> None:
    items = [BrazeObject("external_ids", {"external_id": f"u{n}"}, n, f"external_id=u{n}") for n in range(6)]

    def answer(body: dict[str, Any]) -> Reply:
        return status(400, message="bad id") if "u2" in body["external_ids"] else ok()

    script = Script(answer)
    outcome = script.drive(make_client()._delete(items))
    assert [item.body["external_id"] for item, _reason in outcome.rejected] == ["u2"]
    assert outcome.rejected[0][1] == "Braze rejected the delete: 400 bad id"
    assert len(outcome.delivered) == 5
    assert [len(body["external_ids"]) for _path, body in script.posts] == [6, 3, 1, 2, 1, 1, 3]
    assert script.posts[5][1] == {"external_ids": ["u2"]}  # refused alone


# the blocking driver, over a transport that is no socket ------------------------------------------------------


def test_the_blocking_driver_sends_the_key_and_the_bulk_header_and_stops_when_told() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok()

    client = BrazeClient("https://rest.iad-03.braze.com", "the-key", limiter=RateLimiter(3000, 3.0), bulk=True)
    client._transport = httpx.MockTransport(handler)  # type: ignore[assignment]
    outcome = client.send_track(attributes("a"))
    assert isinstance(outcome, SendOutcome) and ids(outcome.delivered) == ["a"]
    [request] = seen
    assert str(request.url) == "https://rest.iad-03.braze.com/users/track"
    assert request.headers["Authorization"] == "Bearer the-key" and request.headers["X-Braze-Bulk"] == "true"
    client.stop.set()
    with pytest.raises(SendCancelled):
        client.send_track(attributes("b"))
    assert len(seen) == 1  # nothing went out once the run was stopping


def test_a_first_run_is_not_marked_bulk_unless_asked() -> None:
    assert "X-Braze-Bulk" not in make_client()._request(_Request("/users/track", b"{}")).headers
