"""The sync engine through the real stack: redshift-connector -> proxy -> PostgreSQL and
httpx -> Braze stand-in. Every row is delivered or accounted for."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import BASE, FAST, SyncEnv, at

from cdi_tui.braze.client import RetryPolicy
from cdi_tui.config import BrazeSettings
from cdi_tui.engine.lock import RunInProgress
from cdi_tui.engine.sync import Progress, SyncEngine, SyncRefused
from cdi_tui.runlog import RowErrorRecord, RunLog, to_text
from cdi_tui.standins.braze import BrazeStandIn, FaultPlan

pytestmark = pytest.mark.real
QUICK_RETRY = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.05)


def test_attributes_of_every_identifier_kind_arrive_at_braze(env: SyncEnv) -> None:
    env.create_integration("people")
    env.insert(
        "people",
        [
            {"updated_at": at(1), "external_id": "u1", "payload": {"plan": "Pro", "old": None}},
            {"updated_at": at(2), "alias_name": "lead-9", "alias_label": "crm", "payload": {"source": "ads"}},
            {"updated_at": at(3), "braze_id": "b-77", "payload": {"vip": True}},
            {"updated_at": at(4), "email": "ada@example.com", "phone": "+15555550100", "payload": {"lang": "en"}},
            {"updated_at": at(5), "phone": "+15555550199", "payload": {"lang": "de"}},
        ],
    )
    record = env.sync("people")
    assert (record.status, record.rows_read, record.rows_sent, record.rows_failed) == ("success", 5, 5, 0)
    assert env.braze.objects("attributes") == [
        {"external_id": "u1", "plan": "Pro", "old": None},
        {"user_alias": {"alias_name": "lead-9", "alias_label": "crm"}, "source": "ads", "_update_existing_only": False},
        {"braze_id": "b-77", "vip": True},
        {"email": "ada@example.com", "lang": "en"},
        {"phone": "+15555550199", "lang": "de"},
    ]
    assert all(item.bulk for item in env.braze.received)  # the first run is a backfill


def test_events_purchases_and_deletes_end_to_end(env: SyncEnv) -> None:
    env.create_integration("events", "events")
    env.create_integration("purchases", "purchases", update_existing_only=True)
    env.create_integration("deletes", "deletes")
    env.insert("events", [{"updated_at": at(1), "external_id": "u1", "payload": {"name": "opened", "properties": {"n": 1}}}])
    env.insert(
        "purchases",
        [{"updated_at": at(2), "email": "a@example.com", "payload": {"product_id": "p1", "currency": "EUR", "price": 9.5}}],
    )
    env.insert("deletes", [{"updated_at": at(3 + n), "external_id": f"gone-{n}"} for n in range(120)])
    env.insert("deletes", [{"updated_at": at(200), "alias_name": "n", "alias_label": "l"}])
    for name in ("events", "purchases", "deletes"):
        record = env.sync(name)
        assert record.status == "success", record.error
    assert env.braze.objects("events") == [
        {"external_id": "u1", "name": "opened", "properties": {"n": 1}, "time": "2026-03-01T12:00:01.000Z"}
    ]
    assert env.braze.objects("purchases") == [
        {
            "email": "a@example.com",
            "product_id": "p1",
            "currency": "EUR",
            "price": 9.5,
            "time": "2026-03-01T12:00:02.000Z",
            "_update_existing_only": True,
        }
    ]
    deleted = env.braze.objects("deletes")
    assert len(deleted) == 121
    assert env.braze.stats.bad_requests == 0  # one kind of identifier a delete request, as Braze wants
    assert {"user_aliases": {"alias_name": "n", "alias_label": "l"}} in deleted
    # at most 50 identifiers a request: 121 identifiers need 3 requests
    assert env.runlog.run(env.runlog.last_run("deletes").id).rows_sent == 121  # type: ignore[union-attr]


def test_invalid_rows_are_recorded_with_reasons_and_never_sent(env: SyncEnv) -> None:
    env.create_integration("mixed")
    env.insert(
        "mixed",
        [
            {"updated_at": at(1), "external_id": "good-1", "payload": {"a": 1}},
            {"updated_at": at(2), "payload": {"a": 1}},
            {"updated_at": at(3), "external_id": "bad-json", "payload": "{nope"},
            {"updated_at": at(4), "external_id": "x", "braze_id": "y", "payload": {"a": 1}},
            {"updated_at": at(5), "external_id": "good-2", "payload": {"a": 2}},
            {"updated_at": None, "external_id": "no-time", "payload": {"a": 3}},
        ],
    )
    record = env.sync("mixed")
    assert record.status == "partial"
    assert (record.rows_read, record.rows_sent, record.rows_failed) == (6, 2, 4)
    assert env.external_ids() == ["good-1", "good-2"]
    errors = {error.identifier: error for error in env.runlog.row_errors(record.id)}
    assert errors["(none)"].code == "no_identifier"
    assert errors["external_id=bad-json"].code == "payload_not_json"
    assert errors["external_id=bad-json"].payload_preview == "{nope"
    assert errors["external_id=x"].code == "multiple_identifiers"
    assert errors["external_id=no-time"].code == "updated_at_null"
    assert errors["external_id=bad-json"].updated_at == to_text(at(3))
    # a NULL-UPDATED_AT row is reported once, not on every run
    again = env.sync("mixed")
    assert (again.status, again.rows_read, again.rows_failed) == ("success", 0, 0)


def test_the_next_run_takes_only_changed_rows(env: SyncEnv) -> None:
    env.create_integration("incremental")
    env.fill("incremental", 100)
    first = env.sync("incremental")
    assert (first.rows_read, first.rows_sent) == (100, 100)
    env.fill("incremental", 10, start=101)
    second = env.sync("incremental")
    assert (second.rows_read, second.rows_sent) == (10, 10)
    assert env.external_ids()[-10:] == [f"user-{n}" for n in range(101, 111)]
    assert not env.braze.received[-1].bulk  # later runs are not backfills
    assert env.sync("incremental").rows_read == 0


def test_rows_at_the_boundary_timestamp_are_resent_when_new_ones_arrive(env: SyncEnv) -> None:
    env.create_integration("boundary")
    env.insert("boundary", [{"updated_at": at(5), "external_id": f"same-{n}", "payload": {"n": n}} for n in range(3)])
    assert env.sync("boundary").rows_sent == 3
    # nothing new at that timestamp: nothing is re-sent
    assert env.sync("boundary").rows_read == 0
    env.insert("boundary", [{"updated_at": at(5), "external_id": "same-late", "payload": {"n": 9}}])
    third = env.sync("boundary")
    assert third.rows_read == 4  # Braze's rule: all rows at that timestamp again (>=)
    assert Counter(env.external_ids())["same-late"] == 1
    # the three read again did not change since they were delivered: not sent again
    assert (third.rows_sent, third.rows_unchanged) == (1, 3)
    assert Counter(env.external_ids())["same-0"] == 1
    assert env.sync("boundary").rows_read == 0


def test_rows_written_while_a_run_is_under_way_wait_for_the_next_run(env: SyncEnv) -> None:
    env.create_integration("moving")
    env.fill("moving", 600)
    inserted = threading.Event()

    def insert_once_the_bounds_are_fixed(progress: Progress) -> None:
        # written after the run fixed its upper bound and before its read began: the read's
        # snapshot holds this row, so only the upper bound keeps it for the next run
        if progress.phase == "reading" and not inserted.is_set():
            inserted.set()
            env.insert("moving", [{"updated_at": datetime.now(UTC), "external_id": "late-row", "payload": {"late": True}}])

    first = env.sync("moving", progress=insert_once_the_bounds_are_fixed)
    assert inserted.is_set()
    assert first.rows_sent == 600 and first.rows_read == 600
    assert "late-row" not in env.external_ids()
    second = env.sync("moving")
    assert second.rows_sent == 1
    assert env.external_ids()[-1] == "late-row"


def test_future_timestamps_wait_and_never_freeze_the_integration(env: SyncEnv) -> None:
    env.create_integration("future")
    now = datetime(2026, 3, 2, tzinfo=UTC)
    env.insert(
        "future",
        [
            {"updated_at": now - timedelta(hours=1), "external_id": "past", "payload": {"a": 1}},
            {"updated_at": now + timedelta(days=1), "external_id": "tomorrow", "payload": {"a": 2}},
        ],
    )
    first = env.sync("future", clock=lambda: now)
    assert first.rows_sent == 1 and env.external_ids() == ["past"]
    assert any("later than now" in warning for warning in first.warnings)
    assert first.watermark_after is not None and first.watermark_after.startswith(to_text(now - timedelta(hours=1)) or "")
    # a row added later with a timestamp between the two is still picked up
    env.insert("future", [{"updated_at": now + timedelta(minutes=5), "external_id": "soon", "payload": {"a": 3}}])
    second = env.sync("future", clock=lambda: now + timedelta(hours=2))
    assert env.external_ids() == ["past", "soon"]
    assert second.rows_sent == 1
    third = env.sync("future", clock=lambda: now + timedelta(days=2))
    assert env.external_ids() == ["past", "soon", "tomorrow"]
    assert third.rows_sent == 1


@pytest.mark.serial  # timing: 28 of 48 requests were 429s once under -n 6 on a loaded machine (the client paces by the clock)
def test_a_429_storm_is_waited_out_and_every_row_arrives(env: SyncEnv, tmp_path: Path) -> None:
    limited = BrazeStandIn(api_keys=("storm-key",), rate_limit=4, rate_window_seconds=0.5).start()
    try:
        env.ws.set_braze(BrazeSettings(endpoint=limited.url, requests_per_window=100, window_seconds=0.5), "storm-key")
        env.create_integration("storm")
        env.fill("storm", 1_500)  # 20 requests against 4 allowed per half second
        limited.set_faults(FaultPlan(latency_seconds=0.01))  # slow enough for several in flight
        started = time.monotonic()
        record = env.sync("storm")
        assert record.status == "success"
        assert len(limited.objects("attributes")) == 1_500
        # the client kept to Braze's limit: by its X-RateLimit headers and by waiting out 429s
        assert time.monotonic() - started >= (20 / 4 - 1) * 0.5
        assert limited.stats.rate_limited <= limited.stats.requests // 2
    finally:
        limited.stop()


def test_server_errors_and_dropped_connections_are_retried(env: SyncEnv) -> None:
    env.create_integration("flaky")
    env.fill("flaky", 1_500)
    env.braze.set_faults(FaultPlan(server_error_share=0.3, drop_share=0.1, seed=3))
    record = env.sync("flaky", replace(FAST, retry=RetryPolicy(max_attempts=12, backoff_base=0.01, backoff_cap=0.05)))
    assert record.status == "success"
    assert sorted(set(env.external_ids())) == sorted(f"user-{n}" for n in range(1, 1_501))
    assert env.braze.stats.server_errors > 0 and env.braze.stats.dropped > 0


def test_objects_braze_rejects_become_row_errors_and_the_rest_is_delivered(env: SyncEnv) -> None:
    env.create_integration("partial")
    env.fill("partial", 200)
    env.braze.set_faults(FaultPlan(reject_external_ids=frozenset({"user-7", "user-150"})))
    record = env.sync("partial")
    assert (record.status, record.rows_sent, record.rows_failed) == ("partial", 198, 2)
    errors = env.runlog.row_errors(record.id)
    assert sorted(error.identifier for error in errors) == ["external_id=user-150", "external_id=user-7"]
    assert all("invalid_user" in error.reason for error in errors)


def test_a_400_for_a_whole_batch_is_split_until_the_bad_row_is_isolated(env: SyncEnv) -> None:
    env.create_integration("poison")
    env.fill("poison", 75)
    env.braze.set_faults(FaultPlan(poison_external_ids=frozenset({"user-33"})))
    record = env.sync("poison")
    assert (record.status, record.rows_sent, record.rows_failed) == ("partial", 74, 1)
    assert "user-33" not in env.external_ids() and len(env.external_ids()) == 74
    [error] = env.runlog.row_errors(record.id)
    assert error.identifier == "external_id=user-33" and "400" in error.reason


def test_braze_unreachable_ends_the_run_and_nothing_is_lost(env: SyncEnv) -> None:
    env.create_integration("down")
    env.fill("down", 1_000)
    closed = BrazeStandIn(api_keys=("test-key",)).start()
    dead_url = closed.url
    closed.stop()
    env.ws.set_braze(BrazeSettings(endpoint=dead_url), "test-key")
    failed = env.sync("down", replace(FAST, retry=QUICK_RETRY))
    assert failed.status == "error"
    assert "could not be reached" in (failed.error or "")
    assert failed.rows_sent == 0
    env.ws.set_braze(BrazeSettings(endpoint=env.braze.url), "test-key")
    recovered = env.sync("down")
    assert recovered.status == "success", recovered.error
    assert recovered.rows_retried > 0  # the rows that failed for a transient reason went first
    assert set(env.external_ids()) == {f"user-{n}" for n in range(1, 1_001)}


def test_a_sustained_503_outage_leaves_rows_to_retry_not_failed_for_good_and_the_next_run_delivers_them(env: SyncEnv) -> None:
    env.create_integration("outage")
    env.fill("outage", 300)
    env.braze.set_faults(FaultPlan(server_error_share=1.0))
    failed = env.sync("outage", replace(FAST, retry=QUICK_RETRY))
    assert failed.status == "error"
    assert "could not be reached" in (failed.error or "") and "503" in (failed.error or "")
    assert failed.rows_sent == 0 and failed.rows_failed > 0
    errors = env.runlog.row_errors(failed.id)
    assert {error.code for error in errors} == {"transient"}  # none is a permanent row error
    assert all("queued for the next run" in error.reason for error in errors)
    retried = env.runlog.retry_rows("outage")
    assert sorted(row.identifier for row in retried) == sorted(error.identifier for error in errors)
    env.braze.set_faults(FaultPlan())
    recovered = env.sync("outage")
    assert recovered.status == "success", recovered.error
    assert recovered.rows_retried == len(retried)
    assert set(env.external_ids()) == {f"user-{n}" for n in range(1, 301)}
    assert env.runlog.retry_rows("outage") == []


def test_a_rejected_api_key_ends_the_run_at_once(env: SyncEnv) -> None:
    env.create_integration("badkey")
    env.fill("badkey", 300)
    env.ws.set_braze(BrazeSettings(endpoint=env.braze.url), "wrong-key")
    record = env.sync("badkey")
    assert record.status == "error"
    assert "rejected the REST API key" in (record.error or "")
    assert env.braze.stats.requests <= 8  # stopped at once, not after every batch
    env.ws.set_braze(BrazeSettings(endpoint=env.braze.url), "test-key")
    assert env.sync("badkey").rows_sent == 300


def test_a_redshift_connection_cut_mid_stream_resumes_without_loss(env: SyncEnv) -> None:
    env.create_integration("cut")
    env.fill("cut", 5_000)
    cut = threading.Event()

    def cut_once(progress: Progress) -> None:
        if progress.read >= 1 and not cut.is_set():
            cut.set()
            assert env.redshift.proxy is not None
            env.redshift.proxy.cut_connections()

    broken = env.sync("cut", replace(FAST, fetch_rows=500), progress=cut_once)
    assert cut.is_set()
    assert broken.status == "error"
    assert "cut" in (broken.error or "") or "connection" in (broken.error or "").lower()
    resumed = env.sync("cut")
    assert resumed.status == "success"
    delivered = env.external_ids()
    assert set(delivered) == {f"user-{n}" for n in range(1, 5_001)}
    assert len(delivered) - 5_000 <= 500  # re-sent rows are bounded by what was in flight


def test_a_cancelled_run_resumes_near_where_it_stopped(env: SyncEnv) -> None:
    env.create_integration("cancel")
    env.fill("cancel", 3_000)
    env.braze.set_faults(FaultPlan(latency_seconds=0.02))
    cancel = threading.Event()

    def stop_early(progress: Progress) -> None:
        if progress.sent >= 300:
            cancel.set()

    first = env.sync("cancel", replace(FAST, concurrency=2), progress=stop_early, cancel=cancel)
    assert first.status == "cancelled"
    assert 300 <= first.rows_sent < 3_000
    env.braze.set_faults(FaultPlan())
    second = env.sync("cancel")
    assert second.status == "success"
    delivered = env.external_ids()
    assert set(delivered) == {f"user-{n}" for n in range(1, 3_001)}
    assert len(delivered) - 3_000 <= 2 * 2 * 75


def test_runs_of_one_integration_never_overlap(env: SyncEnv) -> None:
    env.create_integration("lock")
    env.fill("lock", 400)
    env.braze.set_faults(FaultPlan(latency_seconds=0.2))
    started = threading.Event()
    outcome: list[object] = []

    def slow_run() -> None:
        outcome.append(env.sync("lock", replace(FAST, concurrency=1), progress=lambda p: started.set()))

    thread = threading.Thread(target=slow_run)
    thread.start()
    assert started.wait(10)
    with pytest.raises(RunInProgress, match="another run is in progress"):
        env.sync("lock")
    thread.join(60)
    assert outcome and outcome[0].status == "success"  # type: ignore[attr-defined]
    assert len(env.runlog.runs("lock")) == 1  # the refused start recorded nothing


@pytest.mark.parametrize("fetch_rows", [10_000, 60])  # the cap inside one read block, and across blocks
def test_rows_per_run_are_capped_with_limit_exceeded(env: SyncEnv, fetch_rows: int) -> None:
    env.create_integration("capped")
    env.fill("capped", 250)
    capped = replace(FAST, max_rows=100, fetch_rows=fetch_rows)
    first = env.sync("capped", capped)
    assert (first.status, first.rows_read, first.rows_sent) == ("limit_exceeded", 100, 100)
    second = env.sync("capped", capped)
    assert (second.status, second.rows_read, second.rows_sent) == ("limit_exceeded", 100, 100)
    third = env.sync("capped", capped)
    assert (third.status, third.rows_sent) == ("success", 50)
    assert sorted(env.external_ids()) == sorted(f"user-{n}" for n in range(1, 251))


def test_a_dry_run_reads_validates_and_counts_but_sends_nothing(env: SyncEnv) -> None:
    env.create_integration("dry")
    env.fill("dry", 90)
    env.insert("dry", [{"updated_at": at(1_000), "payload": {"a": 1}}])
    record = env.sync("dry", replace(FAST, dry_run=True))
    assert (record.status, record.rows_read, record.rows_sent, record.rows_failed, record.rows_skipped) == (
        "partial",
        91,
        0,
        1,
        90,
    )
    assert env.braze.objects() == []
    assert env.runlog.watermark("dry") is None
    assert env.sync("dry").rows_sent == 90


def test_a_full_resync_starts_over_with_the_bulk_header(env: SyncEnv) -> None:
    env.create_integration("resync")
    env.fill("resync", 80)
    env.sync("resync")
    env.braze.reset()
    record = env.sync("resync", replace(FAST, full_resync=True))
    assert record.rows_sent == 80
    assert all(item.bulk for item in env.braze.received)


def test_drafts_and_untested_changes_cannot_sync(env: SyncEnv) -> None:
    env.create_integration("drafty", activate=False)
    with pytest.raises(SyncRefused, match="draft"):
        env.sync("drafty")
    env.create_integration("tested")
    env.create_integration("spare", activate=False)
    env.ws.remove_integration("spare")
    env.ws.update_integration("tested", table=f"{env.schema}.spare")
    assert env.ws.integration("tested").state == "draft"
    with pytest.raises(SyncRefused, match="draft"):
        env.sync("tested")


def test_progress_reports_phases_totals_rate_and_eta(env: SyncEnv) -> None:
    env.create_integration("progress")
    env.fill("progress", 2_000)
    seen: list[Progress] = []
    env.braze.set_faults(FaultPlan(latency_seconds=0.03))
    env.sync("progress", replace(FAST, fetch_rows=250, concurrency=2), progress=seen.append)
    phases = [item.phase for item in seen]
    for phase in ("connecting", "counting", "reading", "sending", "finishing"):
        assert phase in phases
    assert seen[-1].total == 2_000 and seen[-1].done == 2_000
    middle = [item for item in seen if item.phase == "sending" and 0 < item.done < 2_000]
    assert middle and middle[0].rate > 0 and middle[0].eta_seconds is not None


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(env: SyncEnv) -> None:
    env.create_integration("ghost")
    run_id = env.runlog.start_run("ghost", "manual", False, False, None, 999_999)
    env.sync("ghost")
    ghost = env.runlog.run(run_id)
    assert ghost is not None and ghost.status == "interrupted"


def test_old_runs_and_row_errors_are_pruned(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "runs.sqlite3")
    run_id = runlog.start_run("x", "manual", False, False, None, 1)
    runlog.update_run(run_id, status="partial", ended_at=datetime.now(UTC))
    from cdi_tui.runlog import RowErrorRecord

    runlog.add_row_errors([RowErrorRecord(run_id, "x", None, "(none)", "no_identifier", "no identifier", None)])
    runlog.prune(datetime.now(UTC) + timedelta(days=31))
    assert runlog.row_errors(run_id) == [] and runlog.run(run_id) is not None
    runlog.prune(datetime.now(UTC) + timedelta(days=366))
    assert runlog.run(run_id) is None


def test_checkpoints_move_the_watermark_during_a_long_run(env: SyncEnv) -> None:
    env.create_integration("checkpoint")
    env.fill("checkpoint", 2_000)
    env.braze.set_faults(FaultPlan(latency_seconds=0.05))
    marks: list[object] = []

    def watch(progress: Progress) -> None:
        if progress.phase == "sending":
            marks.append(env.runlog.watermark("checkpoint"))

    env.sync("checkpoint", replace(FAST, concurrency=2), progress=watch)
    moving = [mark for mark in marks if mark is not None]
    assert len({mark.updated_at for mark in moving}) > 3  # type: ignore[attr-defined]
    assert all(mark.updated_at <= BASE + timedelta(seconds=2_000) for mark in moving)  # type: ignore[attr-defined]
    as_saved = [(mark.updated_at, mark.rows_at_updated_at) for mark in moving]  # type: ignore[attr-defined]
    assert as_saved == sorted(as_saved)  # the watermark only ever moves forward


def test_invalid_rows_at_the_watermark_count_toward_it_across_requests(env: SyncEnv) -> None:
    env.create_integration("tail")
    rows: list[dict[str, object]] = [{"updated_at": at(1), "external_id": f"u-{n}", "payload": {"n": n}} for n in range(80)]
    rows += [{"updated_at": at(1), "external_id": f"bad-{n}", "payload": None} for n in range(3)]
    env.insert("tail", rows)
    first = env.sync("tail")
    assert (first.rows_read, first.rows_sent, first.rows_failed) == (83, 80, 3)
    mark = env.runlog.watermark("tail")
    assert mark is not None and (mark.updated_at, mark.rows_at_updated_at) == (at(1), 83)
    assert env.sync("tail").rows_read == 0  # every row at the mark was accounted for: none is read again


def test_a_long_stretch_of_invalid_rows_is_recorded_as_it_is_read(env: SyncEnv) -> None:
    env.create_integration("stretch")
    env.fill("stretch", 2_500, payload_sql="NULL")
    env.fill("stretch", 100, start=2_501)
    written: list[int] = []

    class WatchedRunLog(RunLog):
        def add_row_errors(self, records: list[RowErrorRecord]) -> None:
            written.append(len(records))
            super().add_row_errors(records)

    runlog = WatchedRunLog(env.paths.run_log)
    engine = SyncEngine(env.ws.config(), env.secrets, runlog, env.paths.data_dir / "locks")
    record = engine.run("stretch", FAST)
    assert (record.status, record.rows_read, record.rows_sent, record.rows_failed) == ("partial", 2_600, 100, 2_500)
    assert sum(written) == 2_500 and max(written) <= 1_000  # written as they come, not held until a request fills
    assert {error.code for error in runlog.row_errors(record.id)} == {"payload_null"}
    mark = runlog.watermark("stretch")
    assert mark is not None and mark.updated_at == at(2_600)
    assert env.sync("stretch").rows_read == 0
    runlog.close()


def test_a_timestamp_column_without_time_zone_and_a_json_payload_column_sync(env: SyncEnv) -> None:
    # UPDATED_AT as `timestamp` (UTC by Braze's advice) and PAYLOAD as a JSON column
    table = "plain_types"
    env.redshift.admin_execute(
        [
            f'CREATE TABLE "{env.schema}".{table} (updated_at timestamp, external_id varchar, payload json)',
            f"INSERT INTO \"{env.schema}\".{table} VALUES ('2026-03-01 12:00:01', 'u1', '{{\"name\": \"opened\"}}'), "
            f"('2026-03-01 12:00:02', 'u2', '[1, 2]'), ('2026-03-01 12:00:03', 'u3', '{{\"name\": \"closed\"}}')",
            f'GRANT SELECT ON "{env.schema}".{table} TO "{env.user}"',
        ]
    )
    from cdi_tui.config import Integration

    env.ws.add_integration(
        Integration(
            name="plain",
            credential="warehouse",
            table=f"{env.schema}.{table}",
            data_type="events",
            contact_emails=("a@example.com",),
        )
    )
    assert env.ws.test_integration("plain").ok
    env.ws.activate("plain")
    first = env.sync("plain")
    assert (first.status, first.rows_sent, first.rows_failed) == ("partial", 2, 1)
    assert [obj["time"] for obj in env.braze.objects("events")] == ["2026-03-01T12:00:01.000Z", "2026-03-01T12:00:03.000Z"]
    env.redshift.admin_execute(
        f"INSERT INTO \"{env.schema}\".{table} VALUES ('2026-03-01 12:00:04', 'u4', '{{\"name\": \"again\"}}')"
    )
    second = env.sync("plain")
    assert (second.status, second.rows_read, second.rows_sent) == ("success", 1, 1)
