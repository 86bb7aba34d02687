"""The pump with a fake dispatcher whose answers overtake each other: settling, the watermark,
and the per-user order (never two objects of one user under way; the newest value wins;
superseded rows counted; a user whose object could not be delivered is parked)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fakes import PumpWorld, ScriptedClient, ScriptedDispatcher, at, row

from cdi_tui.braze.client import BrazeAuthError, SendCancelled, SendOutcome
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.engine.pump import EXHAUSTED_BATCHES_BEFORE_STOP, Pump
from cdi_tui.runlog import Watermark


@pytest.fixture
def worlds(tmp_path: Path) -> Iterator[list[PumpWorld]]:
    made: list[PumpWorld] = []
    yield made
    for world in made:
        world.close()


def world_of(worlds: list[PumpWorld], tmp_path: Path, dispatcher: ScriptedDispatcher | None, **options: object) -> PumpWorld:
    folder = tmp_path / f"run{len(worlds)}"
    folder.mkdir()
    made = PumpWorld(folder, dispatcher, **options)  # type: ignore[arg-type]
    worlds.append(made)
    return made


def answer_by_user(rejected: set[str] = frozenset(), transient: set[str] = frozenset()):  # type: ignore[no-untyped-def]
    def answer(items: Sequence[BrazeObject]) -> SendOutcome:
        outcome = SendOutcome(requests=1)
        for item in items:
            user = item.body["external_id"]
            if user in rejected:
                outcome.rejected.append((item, "Braze rejected the object: invalid_user"))
            elif user in transient:
                outcome.transient.append((item, "Braze answered 503; gave up after 6 attempts"))
            else:
                outcome.delivered.append(item)
        return outcome

    return answer


# settling ----------------------------------------------------------------------------------------------------


def test_every_row_is_sent_and_the_watermark_reaches_the_last_one_when_answers_come_out_of_order(
    worlds: list[PumpWorld], tmp_path: Path
) -> None:
    dispatcher = ScriptedDispatcher(in_flight=4)  # newest answered first
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=5)
    world.run([row(n, f"u{n}", {"n": n}) for n in range(1, 101)])
    assert (world.state.read, world.state.sent, world.state.failed) == (100, 100, 0)
    assert len(dispatcher.sent) == 20 and dispatcher.pending == 0
    assert world.runlog.watermark("attrs") == Watermark(at(100), 1)


def test_rejected_objects_become_row_errors_and_transient_ones_go_on_the_retry_list(
    worlds: list[PumpWorld], tmp_path: Path
) -> None:
    dispatcher = ScriptedDispatcher(answer_by_user(rejected={"bad"}, transient={"flaky"}), in_flight=2)
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=3)
    world.run([row(1, "a", {"n": 1}), row(2, "bad", {"n": 2}), row(3, "flaky", {"n": 3}), row(4, "b", {"n": 4})])
    assert (world.state.sent, world.state.failed) == (2, 2)
    errors = {error.identifier: (error.code, error.reason) for error in world.runlog.row_errors(world.state.run_id)}
    assert errors == {
        "external_id=bad": ("braze_rejected", "Braze rejected the object: invalid_user"),
        "external_id=flaky": ("transient", "Braze answered 503; gave up after 6 attempts; queued for the next run"),
    }
    [retry] = world.runlog.retry_rows("attrs")
    assert retry.body == {"external_id": "flaky", "n": 3} and retry.array_name == "attributes"
    assert world.runlog.watermark("attrs") == Watermark(at(4), 1)  # every row accounted for: the watermark passes them


def test_a_split_request_settles_each_object_on_its_own(worlds: list[PumpWorld], tmp_path: Path) -> None:
    def split(items: Sequence[BrazeObject]) -> SendOutcome:  # what a 400 split into halves ends in
        return SendOutcome(
            delivered=[items[0], items[2]], rejected=[(items[1], "Braze rejected the object: 400 bad")], requests=5
        )

    world = world_of(worlds, tmp_path, ScriptedDispatcher(split), batch_limit=3)
    world.run([row(n, f"u{n}", {"n": n}) for n in range(1, 4)])
    assert (world.state.sent, world.state.failed) == (2, 1)
    assert world.codes() == ["braze_rejected"]
    assert world.runlog.watermark("attrs") == Watermark(at(3), 1)


def test_invalid_rows_are_row_errors_and_count_toward_the_watermark(worlds: list[PumpWorld], tmp_path: Path) -> None:
    world = world_of(worlds, tmp_path, ScriptedDispatcher(), batch_limit=75)
    world.run([row(1, "a", {"n": 1}), row(2, None, {"n": 2}), row(2, "c", None)])  # type: ignore[arg-type]
    assert (world.state.read, world.state.sent, world.state.failed) == (3, 1, 2)
    assert sorted(world.codes()) == ["no_identifier", "payload_null"]
    assert world.runlog.watermark("attrs") == Watermark(at(2), 2)


def test_a_send_that_ends_the_run_stops_it_and_the_watermark_stays_before_that_request(
    worlds: list[PumpWorld], tmp_path: Path
) -> None:
    def refuse_the_second(items: Sequence[BrazeObject]) -> SendOutcome:
        if items[0].body["external_id"] == "u3":
            raise BrazeAuthError("Braze rejected the REST API key: 401")
        return SendOutcome(delivered=list(items), requests=1)

    world = world_of(worlds, tmp_path, ScriptedDispatcher(refuse_the_second, in_flight=0), batch_limit=2)
    world.run([row(n, f"u{n}", {"n": n}) for n in range(1, 9)], block=2)
    assert isinstance(world.state.fatal, BrazeAuthError)
    assert world.state.sent == 2 and world.runlog.watermark("attrs") == Watermark(at(2), 1)


def test_a_request_cancelled_before_it_went_out_is_not_passed_by_the_watermark(worlds: list[PumpWorld], tmp_path: Path) -> None:
    def cancel_the_second(items: Sequence[BrazeObject]) -> SendOutcome:
        if items[0].body["external_id"] == "u3":
            raise SendCancelled("stopping")
        return SendOutcome(delivered=list(items), requests=1)

    world = world_of(worlds, tmp_path, ScriptedDispatcher(cancel_the_second, in_flight=0), batch_limit=2)
    world.run([row(n, f"u{n}", {"n": n}) for n in range(1, 7)], block=6)
    assert world.state.sent == 4 and world.state.failed == 0
    assert world.runlog.watermark("attrs") == Watermark(at(2), 1)  # rows 3 and 4 are sent again next run


def test_three_requests_in_a_row_whose_retries_ran_out_stop_the_run(worlds: list[PumpWorld], tmp_path: Path) -> None:
    everyone = {f"u{n}" for n in range(1, 41)}
    world = world_of(worlds, tmp_path, ScriptedDispatcher(answer_by_user(transient=everyone), in_flight=0), batch_limit=2)
    world.run([row(n, f"u{n}", {"n": n}) for n in range(1, 41)], block=2)
    assert world.state.stop_reason == "Braze could not be reached: Braze answered 503; gave up after 6 attempts"
    assert world.state.sent == 0 and world.state.failed == 2 * EXHAUSTED_BATCHES_BEFORE_STOP
    assert set(world.codes()) == {"transient"}  # never a permanent row error
    assert len(world.runlog.retry_rows("attrs")) == 2 * EXHAUSTED_BATCHES_BEFORE_STOP


def test_reading_waits_while_too_many_segments_are_open(worlds: list[PumpWorld], tmp_path: Path) -> None:
    dispatcher = ScriptedDispatcher(in_flight=100)  # answers only when the pump waits for one
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=1, max_open_segments=3)
    most_open: list[int] = []
    submit = dispatcher.submit

    def watched(job, items, on_result):  # type: ignore[no-untyped-def]
        submit(job, items, on_result)
        most_open.append(world.frontier.open_segments)

    dispatcher.submit = watched  # type: ignore[method-assign]
    world.run([row(n, f"u{n}", {"n": n}) for n in range(1, 21)])
    assert max(most_open) == 3 and world.state.sent == 20


def test_a_dry_run_counts_what_it_would_send_and_spend(worlds: list[PumpWorld], tmp_path: Path) -> None:
    world = world_of(worlds, tmp_path, None)
    world.run([row(1, "a", {"plan": "pro", "prefs": {"x": 1, "y": 2}}), row(2, "b", {"n": 1})])
    assert (world.state.sent, world.state.skipped, world.state.data_points) == (0, 2, 4)


# per-user order ----------------------------------------------------------------------------------------------


def hot_user_rows(count: int) -> list[list[object]]:
    """One user ("hot") every other row, each row setting its score and one attribute of its own."""
    rows: list[list[object]] = []
    for n in range(1, count + 1):
        if n % 2:
            rows.append(row(n, "hot", {"score": n, f"seen_{n % 7}": n}))
        else:
            rows.append(row(n, f"u{n}", {"score": n}))
    return rows


@pytest.mark.parametrize("in_flight", [1, 3, 8])
def test_a_user_never_has_two_objects_under_way_and_braze_ends_with_the_newest_values(
    worlds: list[PumpWorld], tmp_path: Path, in_flight: int
) -> None:
    dispatcher = ScriptedDispatcher(in_flight=in_flight)  # the newest request under way is answered first
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=4)
    rows = hot_user_rows(120)
    world.run(rows, block=7)
    assert dispatcher.overlaps == []
    expected: dict[str, object] = {}
    for _moment, user, payload in rows:
        if user == "hot":
            expected.update(json.loads(payload))  # type: ignore[arg-type]
    assert dispatcher.held("hot") == expected
    assert all(dispatcher.held(f"u{n}") == {"score": n} for n in range(2, 121, 2))
    state = world.state
    assert state.sent + state.superseded == 120 and state.failed == 0
    assert state.superseded > 0  # the hot user's rows folded while one object of theirs was under way
    assert world.runlog.watermark("attrs") == Watermark(at(120), 1)


def test_without_the_order_the_fake_braze_would_see_one_user_twice_under_way(worlds: list[PumpWorld], tmp_path: Path) -> None:
    """The check above can fail: the same rows sent unordered overlap, and an older value can land last."""
    dispatcher = ScriptedDispatcher(in_flight=3)
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=4, ordered=False)
    world.run(hot_user_rows(120), block=7)
    assert dispatcher.overlaps != []
    assert dispatcher.held("hot")["score"] != 119


def test_rows_of_one_user_in_one_request_fold_newest_value_first_and_superseded_rows_are_counted(
    worlds: list[PumpWorld], tmp_path: Path
) -> None:
    dispatcher = ScriptedDispatcher(in_flight=0)
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=75)
    world.run([
        row(1, "u", {"plan": "free", "tier": 1}),
        row(2, "u", {"plan": "pro"}),
        row(3, "u", {"plan": "team"}),
        row(4, "v", {"plan": "free"}),
    ])  # fmt: skip
    [request] = dispatcher.sent
    assert [item.body for item in request] == [
        {"external_id": "u", "plan": "team", "tier": 1},
        {"external_id": "v", "plan": "free"},
    ]
    assert (world.state.sent, world.state.superseded) == (3, 1)  # row 2 set nothing row 3 does not set again
    assert world.runlog.watermark("attrs") == Watermark(at(4), 1)


def test_rows_read_while_the_users_object_is_under_way_wait_and_go_once_it_is_answered(
    worlds: list[PumpWorld], tmp_path: Path
) -> None:
    dispatcher = ScriptedDispatcher(in_flight=10)
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=1)
    world.run([row(1, "u", {"a": 1}), row(2, "u", {"a": 2, "b": 2}), row(3, "u", {"a": 3})], block=1)
    bodies = [[item.body for item in request] for request in dispatcher.sent]
    assert bodies == [[{"external_id": "u", "a": 1}], [{"external_id": "u", "a": 3, "b": 2}]]
    assert dispatcher.overlaps == []
    assert (world.state.sent, world.state.superseded) == (3, 0)  # row 2 still gives b: carried, not superseded
    assert world.runlog.watermark("attrs") == Watermark(at(3), 1)


def test_an_operation_is_never_folded_with_another_change_of_its_attribute(worlds: list[PumpWorld], tmp_path: Path) -> None:
    dispatcher = ScriptedDispatcher(in_flight=0)
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=75)
    world.run([row(1, "u", {"n": 1}), row(2, "u", {"n": {"inc": 2}}), row(3, "u", {"n": {"inc": 3}})])
    bodies = [[item.body for item in request] for request in dispatcher.sent]
    assert bodies == [
        [{"external_id": "u", "n": 1}],
        [{"external_id": "u", "n": {"inc": 2}}],
        [{"external_id": "u", "n": {"inc": 3}}],
    ]
    assert dispatcher.held("u") == {"n": 6}
    assert (world.state.sent, world.state.superseded) == (3, 0)


def test_a_user_whose_object_could_not_be_delivered_is_parked_with_the_rest_of_their_rows_in_order(
    worlds: list[PumpWorld], tmp_path: Path
) -> None:
    failed_once: list[bool] = []

    def first_hot_object_fails(items: Sequence[BrazeObject]) -> SendOutcome:
        outcome = SendOutcome(requests=1)
        for item in items:
            if item.body["external_id"] == "hot" and not failed_once:
                failed_once.append(True)
                outcome.transient.append((item, "Braze answered 503; gave up after 6 attempts"))
            else:
                outcome.delivered.append(item)
        return outcome

    dispatcher = ScriptedDispatcher(first_hot_object_fails, in_flight=1, pick=lambda _count: 0)  # answered while rows are read
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=2)
    world.run(hot_user_rows(40), block=3)
    hot_sent = [item.body for request in dispatcher.sent for item in request if item.body["external_id"] == "hot"]
    assert len(hot_sent) == 1  # nothing more of theirs was sent after their object failed
    assert dispatcher.held("hot") == {}
    retry_rows = world.runlog.retry_rows("attrs")
    assert {retry.body["external_id"] for retry in retry_rows} == {"hot"}
    newest: dict[str, object] = {}
    for retry in retry_rows:  # the next run sends them in this order: Braze ends with the newest values
        newest.update({key: value for key, value in retry.body.items() if key != "external_id"})
    assert newest["score"] == 39
    assert all(dispatcher.held(f"u{n}") == {"score": n} for n in range(2, 41, 2))
    hot_rows = 20
    assert world.state.failed + world.state.superseded == hot_rows and world.state.sent == 20
    assert set(world.codes()) == {"transient"}
    assert world.runlog.watermark("attrs") == Watermark(at(40), 1)


def test_the_retry_list_never_sends_two_entries_of_one_user_in_one_request(worlds: list[PumpWorld], tmp_path: Path) -> None:
    world = world_of(worlds, tmp_path, ScriptedDispatcher())
    world.runlog.add_retry_rows(
        "attrs",
        [(None, "external_id=u", "attributes", {"external_id": "u", "a": n}, "503", 1) for n in range(3)]
        + [(None, "external_id=v", "attributes", {"external_id": "v", "a": 9}, "503", 1)],
    )
    client = ScriptedClient()
    Pump.send_retry_list(world.pump, client, world.runlog.retry_rows("attrs"))
    assert [[item.body["a"] for item in request] for request in client.requests] == [[0], [1], [2, 9]]
    assert world.runlog.retry_rows("attrs") == [] and (world.state.retried, world.state.sent) == (4, 4)


# segment cutting -------------------------------------------------------------------------------------------------


def test_a_segment_is_cut_at_the_batch_limit_and_a_long_stretch_without_objects_is_recorded_as_it_is_read(
    worlds: list[PumpWorld], tmp_path: Path
) -> None:
    dispatcher = ScriptedDispatcher(in_flight=0)
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=75)
    written: list[int] = []
    add_row_errors = world.runlog.add_row_errors

    def watched(records):  # type: ignore[no-untyped-def]
        written.append(len(records))
        add_row_errors(records)

    world.runlog.add_row_errors = watched  # type: ignore[method-assign]
    rows = [row(n, f"bad{n}", None) for n in range(1, 2_501)] + [row(2_500 + n, f"u{n}", {"n": n}) for n in range(1, 151)]
    world.run(rows, block=500)
    assert sum(written) == 2_500 and max(written) <= 1_000  # written as they come, not held until a request fills
    assert [len(request) for request in dispatcher.sent] == [75, 75]
    assert (world.state.read, world.state.sent, world.state.failed) == (2_650, 150, 2_500)
    assert world.runlog.watermark("attrs") == Watermark(at(2_650), 1)


def test_an_empty_block_ends_a_chunk_that_is_settled_whole_before_the_next_is_read(
    worlds: list[PumpWorld], tmp_path: Path
) -> None:
    dispatcher = ScriptedDispatcher(in_flight=100)  # answers only when the pump waits for them
    world = world_of(worlds, tmp_path, dispatcher, batch_limit=2)
    seen_before_the_second_chunk: list[object] = []

    def blocks() -> Iterator[list[list[object]]]:
        yield [row(n, f"u{n}", {"n": n}) for n in range(1, 6)]
        yield []  # the end of the first chunk
        seen_before_the_second_chunk.extend([dispatcher.pending, world.runlog.watermark("attrs")])
        yield [row(n, f"u{n}", {"n": n}) for n in range(6, 9)]

    world.pump.run(blocks())
    assert seen_before_the_second_chunk == [0, Watermark(at(5), 1)]
    assert world.state.sent == 8 and world.runlog.watermark("attrs") == Watermark(at(8), 1)
