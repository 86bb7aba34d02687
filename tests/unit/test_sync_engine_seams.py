"""SyncEngine through its seams: a table in memory and a scripted Braze, no warehouse, no socket.

Pins what the engine itself decides: the run's bounds (Braze's boundary rule, a fixed upper
bound, rows stamped in the future), the retry list first, and the run's record.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from fakes import EngineWorld, MemorySource, ScriptedClient, at, row

from cdi_tui.braze.client import BrazeAuthError, SendOutcome
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.checks import integration_fingerprint
from cdi_tui.engine.run_state import Progress
from cdi_tui.engine.sync import SyncOptions
from cdi_tui.runlog import Watermark

FAST = SyncOptions(checkpoint_seconds=0.0)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[EngineWorld]:
    made = EngineWorld(tmp_path, MemorySource([]), ScriptedClient())
    yield made
    made.close()


def sent_ids(client: ScriptedClient) -> list[str]:
    return [item.body["external_id"] for request in client.requests for item in request]


def test_a_run_reads_from_the_source_it_is_given_and_sends_with_the_client_it_is_given(world: EngineWorld) -> None:
    world.source.rows.extend(row(n, f"u{n}", {"n": n}) for n in range(1, 4))
    record = world.engine().run("attrs", FAST)
    assert (record.status, record.rows_read, record.rows_sent) == ("success", 3, 3)
    assert sent_ids(world.client) == ["u1", "u2", "u3"]
    [(settings, table)] = world.made_for
    assert (settings.host, settings.password, table.schema, table.table) == (
        "warehouse.example.com",
        "warehouse-password",
        "ingestion",
        "attrs",
    )
    assert world.client.opened_with["api_key"] == "braze-key" and world.client.opened_with["bulk"] is True  # a first run
    assert world.source.connected and world.source.closed
    assert world.runlog.watermark("attrs") == Watermark(at(3), 1)


def test_later_runs_take_only_rows_after_the_watermark_and_are_not_bulk(world: EngineWorld) -> None:
    world.source.rows.extend(row(n, f"u{n}", {"n": n}) for n in range(1, 4))
    world.engine().run("attrs", FAST)
    world.source.rows.append(row(4, "u4", {"n": 4}))
    second = world.engine().run("attrs", FAST)
    assert (second.rows_read, second.rows_sent) == (1, 1)
    assert world.source.streamed[-1] == (at(3), False, at(4))
    assert world.client.opened_with["bulk"] is False


def test_rows_at_the_watermark_are_read_again_only_when_more_now_carry_that_timestamp(world: EngineWorld) -> None:
    world.source.rows.extend(row(5, f"same-{n}", {"n": n}) for n in range(3))
    assert world.engine().run("attrs", FAST).rows_sent == 3
    assert world.runlog.watermark("attrs") == Watermark(at(5), 3)
    again = world.engine().run("attrs", FAST)
    assert again.rows_read == 0 and world.source.streamed[-1][:2] == (at(5), False)  # '>': nothing new at the mark
    world.source.rows.append(row(5, "same-late", {"n": 9}))
    third = world.engine().run("attrs", FAST)
    assert world.source.streamed[-1][:2] == (at(5), True)  # '>=': every row at that timestamp again
    assert third.rows_read == 4
    assert (third.rows_sent, third.rows_unchanged) == (1, 3)  # the three read again were delivered as they are
    assert sent_ids(world.client)[-1] == "same-late"


def test_the_upper_bound_is_fixed_when_the_run_starts_and_future_rows_wait_for_their_time(world: EngineWorld) -> None:
    world.source.rows.extend([row(1, "past", {"n": 1}), row(100, "future", {"n": 2})])
    first = world.engine(now=at(50)).run("attrs", FAST)
    assert (first.rows_read, first.rows_sent) == (1, 1)
    assert any("1 row(s) have an UPDATED_AT later than now" in warning for warning in first.warnings)
    second = world.engine(now=at(200)).run("attrs", FAST)
    assert (second.rows_read, sent_ids(world.client)) == (1, ["past", "future"])


def test_a_row_written_once_the_bounds_are_fixed_waits_for_the_next_run(world: EngineWorld) -> None:
    world.source.rows.extend(row(n, f"u{n}", {"n": n}) for n in range(1, 4))

    def write_one() -> None:  # written after the run fixed its bounds, before its read began
        world.source.rows.append(row(20, "late", {"n": 20}))

    world.source.before_stream = write_one
    first = world.engine(now=at(30)).run("attrs", FAST)
    assert first.rows_sent == 3 and "late" not in sent_ids(world.client)
    world.source.before_stream = None
    second = world.engine(now=at(30)).run("attrs", FAST)
    assert second.rows_sent == 1 and sent_ids(world.client)[-1] == "late"


def test_a_rejected_key_ends_the_run_with_nothing_passed_by_the_watermark(world: EngineWorld) -> None:
    world.source.rows.extend(row(n, f"u{n}", {"n": n}) for n in range(1, 4))
    world.client.answer = lambda _items: BrazeAuthError("Braze rejected the REST API key: 401 Invalid API key")
    record = world.engine().run("attrs", FAST)
    assert (record.status, record.rows_sent) == ("error", 0)
    assert record.error == "Braze rejected the REST API key: 401 Invalid API key"
    assert world.runlog.watermark("attrs") is None
    assert world.source.closed


def test_rows_whose_retries_ran_out_go_first_in_the_next_run(world: EngineWorld) -> None:
    world.source.rows.extend(row(n, f"u{n}", {"n": n}) for n in range(1, 4))

    def u2_unreachable(items: Sequence[BrazeObject]) -> SendOutcome:
        outcome = SendOutcome(requests=1)
        for item in items:
            if item.body["external_id"] == "u2":
                outcome.transient.append((item, "Braze answered 503; gave up after 6 attempts"))
            else:
                outcome.delivered.append(item)
        return outcome

    world.client.answer = u2_unreachable
    first = world.engine().run("attrs", FAST)
    assert (first.status, first.rows_sent, first.rows_failed) == ("partial", 2, 1)
    world.source.rows.append(row(4, "u4", {"n": 4}))
    world.client.answer = lambda items: SendOutcome(delivered=list(items), requests=1)
    world.client.requests.clear()
    second = world.engine().run("attrs", FAST)
    assert (second.status, second.rows_retried, second.rows_sent) == ("success", 1, 2)
    assert sent_ids(world.client) == ["u2", "u4"]  # the retry list first
    assert world.runlog.retry_rows("attrs") == []


def test_a_dry_run_reads_and_counts_but_opens_no_sender_and_moves_no_watermark(world: EngineWorld) -> None:
    world.source.rows.extend(row(n, f"u{n}", {"plan": "pro", "n": n}) for n in range(1, 4))
    record = world.engine().run("attrs", SyncOptions(dry_run=True))
    assert (record.rows_read, record.rows_sent, record.rows_skipped, record.data_points) == (3, 0, 3, 6)
    assert world.client.opened_with == {} and world.runlog.watermark("attrs") is None


def test_progress_reports_the_phases_in_order(world: EngineWorld) -> None:
    world.source.rows.extend(row(n, f"u{n}", {"n": n}) for n in range(1, 4))
    phases: list[str] = []

    def note(progress: Progress) -> None:
        if not phases or phases[-1] != progress.phase:
            phases.append(progress.phase)

    world.engine().run("attrs", FAST, progress=note)
    assert phases == ["connecting", "counting", "reading", "sending", "finishing"]


def test_the_read_asks_no_query_for_more_rows_than_the_credential_allows(tmp_path: Path) -> None:
    source = MemorySource([row(n, f"u{n}", {"n": n}) for n in range(1, 8)])
    made = EngineWorld(tmp_path, source, ScriptedClient())
    try:
        credential = made.config.credentials["wh"]
        made.config.credentials["wh"] = replace(credential, max_rows_per_query=3)
        made.runlog.record_test("attrs", integration_fingerprint(made.config.credentials["wh"], made.integration))
        record = made.engine().run("attrs", FAST)
        assert source.max_rows_per_query == 3
        assert (record.status, record.rows_read, record.rows_sent) == ("success", 7, 7)
        assert made.runlog.watermark("attrs") == Watermark(at(7), 1)
    finally:
        made.close()
