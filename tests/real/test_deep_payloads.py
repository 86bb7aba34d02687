"""One row cannot stop an integration: a PAYLOAD nested ~900 deep (past Python's recursion limit)
is recorded as a row error with its reason while the rows after it are delivered, on the real
stand-ins; and a run that ends on an error nobody expected still emails its contacts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from helpers import BASE, FAST, SyncEnv

from cdi_tui.config import SmtpSettings
from cdi_tui.engine.depth import MAX_PAYLOAD_DEPTH
from cdi_tui.engine.transform import RowTransformer
from cdi_tui.standins.braze import BrazeStandIn

pytestmark = pytest.mark.real

DEEP = 900


def nested(depth: int) -> str:
    """A JSON value of arrays ``depth`` levels deep, as text (no Python recursion builds it)."""
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("data_type", "good", "deep"),
    [
        ("attributes", '{"plan": "pro"}', '{"history": ' + nested(DEEP) + "}"),
        ("events", '{"name": "opened"}', '{"name": "opened", "properties": {"path": ' + nested(DEEP) + "}}"),
    ],
    ids=["attributes", "events"],
)
def test_a_payload_nested_900_deep_is_a_row_error_and_the_rows_after_it_are_delivered(
    env: SyncEnv, data_type: str, good: str, deep: str
) -> None:
    env.create_integration("deep", data_type)
    env.insert(
        "deep",
        [
            {"updated_at": BASE + timedelta(seconds=1), "external_id": "user-1", "payload": good},
            {"updated_at": BASE + timedelta(seconds=2), "external_id": "user-2", "payload": deep},
            {"updated_at": BASE + timedelta(seconds=3), "external_id": "user-3", "payload": good},
        ],
    )
    record = env.ws.sync("deep", FAST)
    assert record.status == "partial" and (record.rows_read, record.rows_sent, record.rows_failed) == (3, 2, 1), record
    [failed] = env.ws.row_errors(record.id)
    assert failed.identifier == "external_id=user-2" and failed.code == "payload_too_deep"
    assert f"more than {MAX_PAYLOAD_DEPTH} levels deep" in failed.reason
    assert sorted(env.external_ids(data_type)) == ["user-1", "user-3"]
    assert record.watermark_after is not None and (BASE + timedelta(seconds=3)).isoformat()[:19] in record.watermark_after
    again = env.ws.sync("deep", FAST)  # the watermark moved past it: the integration is not stuck
    assert again.status == "success" and again.rows_read == 0


def test_a_payload_at_the_depth_limit_is_still_sent() -> None:
    transformer = RowTransformer(("updated_at", "external_id", "payload"), "attributes")
    at_limit = '{"a": ' + nested(MAX_PAYLOAD_DEPTH - 1) + "}"
    assert transformer.transform([BASE, "u", at_limit]).__class__.__name__ == "BrazeObject"
    over = '{"a": ' + nested(MAX_PAYLOAD_DEPTH) + "}"
    assert transformer.transform([BASE, "u", over]).code == "payload_too_deep"  # type: ignore[union-attr]
    # brackets inside strings are text, not nesting
    assert transformer.transform([BASE, "u", '{"a": "' + "[" * 200 + '"}']).__class__.__name__ == "BrazeObject"


def test_the_braze_stand_in_never_fails_on_a_deeply_nested_body(braze: BrazeStandIn) -> None:
    def post(depth: int) -> int:
        body = '{"attributes": [{"external_id": "u", "x": ' + nested(depth) + "}]}"
        answer = httpx.post(
            f"{braze.url}/users/track",
            content=body.encode(),
            headers={"Authorization": "Bearer test-key", "Content-Type": "application/json"},
            timeout=10,
        )
        return answer.status_code

    assert post(DEEP) == 400  # as deep as the row above: refused as bad data before anything walks it
    assert post(5_000) == 400  # past what any JSON parser here reads: the same, never a server error
    assert post(MAX_PAYLOAD_DEPTH) == 201  # as deep as cdi-tui ever sends: taken


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def test_a_run_ended_by_an_unexpected_error_still_emails_its_contacts(
    env: SyncEnv, mailbox: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = mailbox
    env.ws.set_smtp(SmtpSettings(host="127.0.0.1", port=port, sender="cdi@example.com", security="none"), None)
    env.create_integration("buggy")
    env.fill("buggy", 10)

    def a_bug(self: RowTransformer, row: list[Any]) -> Any:
        raise RuntimeError("a bug nobody expected")

    monkeypatch.setattr(RowTransformer, "transform", a_bug)  # a defect in the engine, met mid-run
    with pytest.raises(RuntimeError, match="a bug nobody expected"):
        env.ws.sync("buggy", FAST)
    record = env.ws.last_run("buggy")
    assert record is not None and record.status == "error" and "a bug nobody expected" in (record.error or "")
    [mail] = box.messages
    assert b"the sync failed" in mail and b"buggy" in mail
    assert record.notification is not None and record.notification.startswith("emailed")
