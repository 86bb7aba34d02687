"""Syncs against a Braze that answers after 50-150 ms, as one across the internet does:
many requests in flight, every row delivered, and crashes, cancels and SIGTERM bounded by
what was in flight. Through the real stack (redshift-connector -> proxy -> PostgreSQL, httpx
-> the Braze stand-in on a real socket)."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace

import pytest
from helpers import FAST, SyncEnv
from test_cli_commands import Cli, last_json, make_table, setup  # noqa: F401  (setup is a fixture)

from cdi_tui.braze.client import BrazeClient, RateLimiter, RetryPolicy, SendCancelled, SendOutcome
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.config import BrazeSettings
from cdi_tui.engine.senders import Dispatcher, Result
from cdi_tui.engine.sync import Progress
from cdi_tui.runlog import RunLog
from cdi_tui.standins.braze import BrazeStandIn, FaultPlan
from cdi_tui.standins.postgres import RedshiftStandIn

pytestmark = pytest.mark.real


def set_braze(env: SyncEnv, **settings: object) -> None:
    env.ws.set_braze(BrazeSettings(endpoint=env.braze.url, **settings), env.api_key)  # type: ignore[arg-type]


# the dispatcher ---------------------------------------------------------------------------


def send_jobs(braze: BrazeStandIn, jobs: int, max_in_flight: int, rate: float) -> tuple[list[int], Dispatcher[int]]:
    done: list[int] = []

    def on_result(job: int, result: Result) -> None:
        assert isinstance(result, SendOutcome) and len(result.delivered) == 1, result
        done.append(job)

    with BrazeClient(braze.url, "test-key", limiter=RateLimiter(3000, 3.0), max_in_flight=max_in_flight) as client:
        dispatcher: Dispatcher[int] = Dispatcher(client, deletes=False, max_in_flight=max_in_flight, rate_per_second=rate)
        for job in range(jobs):
            dispatcher.submit(job, [BrazeObject("attributes", {"external_id": f"u{job}", "n": job}, job)], on_result)
        dispatcher.finish(on_result)
    return done, dispatcher


@pytest.mark.serial  # timing: measured alone, not beside other tests
def test_a_near_braze_is_sent_to_inline_and_a_distant_one_from_many_requests_at_once(braze: BrazeStandIn) -> None:
    # 100 requests/s: one at a time is enough while answers come within 10 ms
    near, dispatcher = send_jobs(braze, 200, max_in_flight=64, rate=100)
    assert sorted(near) == list(range(200))
    assert not dispatcher.concurrent and dispatcher.peak_in_flight == 0  # no hand-off: the cheapest path

    braze.reset()
    braze.set_faults(FaultPlan(latency_seconds=0.1))
    far, dispatcher = send_jobs(braze, 300, max_in_flight=64, rate=1000)
    assert sorted(far) == list(range(300))  # each job back exactly once
    assert dispatcher.concurrent
    # Little's law: 1,000 requests/s x 0.1 s needs ~125 under way; the cap is 64
    assert dispatcher.peak_in_flight == 64
    assert braze.stats.peak_in_flight >= 48
    assert sorted(obj["n"] for obj in braze.objects("attributes")) == list(range(300))


def test_a_stop_ends_waits_on_the_limit_but_lets_requests_under_way_finish(braze: BrazeStandIn) -> None:
    braze.set_faults(FaultPlan(latency_seconds=0.2))
    results: list[Result] = []
    stop = threading.Event()
    limiter = RateLimiter(13, 60.0)  # 13 requests go out (3 inline, 10 at once), the rest wait a minute
    with BrazeClient(braze.url, "test-key", limiter=limiter, stop=stop) as client:
        dispatcher: Dispatcher[int] = Dispatcher(client, deletes=False, max_in_flight=32, rate_per_second=1000)
        for job in range(30):
            dispatcher.submit(job, [BrazeObject("attributes", {"external_id": f"u{job}"}, job)], lambda j, r: results.append(r))
        assert dispatcher.concurrent  # three slow answers were enough
        deadline = time.monotonic() + 5
        while braze.stats.in_flight < 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        stop.set()  # ten under way at the stand-in, seventeen waiting for the limit
        started = time.monotonic()
        dispatcher.finish(lambda j, r: results.append(r))
    assert time.monotonic() - started < 5
    assert len(results) == 30
    delivered = [r for r in results if isinstance(r, SendOutcome)]
    assert len(delivered) == 13 and sum(isinstance(r, SendCancelled) for r in results) == 17
    assert len(braze.objects("attributes")) == 13  # the ten under way were answered, and counted


# syncs --------------------------------------------------------------------------------------


def test_a_sync_to_a_distant_braze_keeps_many_requests_in_flight_and_delivers_every_row(env: SyncEnv) -> None:
    env.create_integration("far")
    env.fill("far", 30_000)
    env.braze.set_faults(FaultPlan(latency_seconds=0.15))
    started = time.monotonic()
    record = env.sync("far")
    elapsed = time.monotonic() - started
    assert record.status == "success" and record.rows_sent == 30_000
    delivered = env.external_ids()
    assert sorted(delivered) == sorted(f"user-{n}" for n in range(1, 30_001))  # each once
    # 400 requests one at a time would take 60 s; Little's law wants ~190 under way at the
    # limit, fewer when the reading is what sets the pace (a busy machine): far beyond the
    # 16 of the earlier thread pool all the same
    assert env.braze.stats.peak_in_flight >= 48, env.braze.stats.peak_in_flight
    assert elapsed < 30
    assert env.runlog.watermark("far") is not None


def test_max_in_flight_caps_the_requests_under_way(env: SyncEnv) -> None:
    set_braze(env, max_in_flight=6)
    env.create_integration("capped")
    env.fill("capped", 3_000)
    env.braze.set_faults(FaultPlan(latency_seconds=0.05))
    record = env.sync("capped")
    assert record.status == "success" and record.rows_sent == 3_000
    assert 3 <= env.braze.stats.peak_in_flight <= 6


def test_a_cancel_at_150_ms_lets_the_requests_in_flight_finish_and_records_them(env: SyncEnv) -> None:
    env.create_integration("cancel")
    env.fill("cancel", 30_000)
    env.braze.set_faults(FaultPlan(latency_seconds=0.15))
    cancel = threading.Event()

    def stop_early(progress: Progress) -> None:
        if progress.sent >= 3_000:
            cancel.set()

    record = env.sync("cancel", replace(FAST, concurrency=64), progress=stop_early, cancel=cancel)
    assert record.status == "cancelled"
    assert env.braze.stats.in_flight == 0  # nothing was still under way when the run ended
    # every object Braze took was answered, settled and counted by the run
    assert env.braze.accepted_count == record.rows_sent
    assert 3_000 <= record.rows_sent < 30_000
    env.braze.set_faults(FaultPlan())
    resumed = env.sync("cancel")
    assert resumed.status == "success"
    delivered = env.external_ids()
    assert set(delivered) == {f"user-{n}" for n in range(1, 30_001)}
    assert len(delivered) - 30_000 <= 64 * 75


@pytest.mark.serial  # timing: measured alone, not beside other tests
def test_two_syncs_at_once_share_the_rate_limit(env: SyncEnv) -> None:
    set_braze(env, requests_per_window=40, window_seconds=1.0)
    env.create_integration("first")
    env.create_integration("second")
    env.fill("first", 3_000)
    env.fill("second", 3_000, start=100_001)
    env.braze.set_faults(FaultPlan(latency_seconds=0.05))
    records = {}

    def run(name: str) -> None:
        records[name] = env.sync(name)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert {name: record.status for name, record in records.items()} == {"first": "success", "second": "success"}
    assert env.braze.stats.rate_limited == 0  # one limiter for the workspace key: 40 a second together
    order = env.external_ids()
    assert len(order) == 6_000
    # fair: in the first half of what Braze received, each sync had at least a third
    first_half = order[:3_000]
    share_of_first = sum(1 for external_id in first_half if int(external_id[5:]) < 100_001) / len(first_half)
    assert 1 / 3 <= share_of_first <= 2 / 3, share_of_first


def test_retries_rejections_and_splits_hold_with_many_requests_in_flight(env: SyncEnv) -> None:
    env.create_integration("flaky")
    env.fill("flaky", 6_000)
    env.braze.set_faults(
        FaultPlan(
            latency_seconds=0.03,
            server_error_share=0.2,
            drop_share=0.05,
            seed=5,
            reject_external_ids=frozenset({"user-7", "user-4000"}),
            poison_external_ids=frozenset({"user-2500"}),
        )
    )
    retry = RetryPolicy(max_attempts=12, backoff_base=0.01, backoff_cap=0.05)
    record = env.sync("flaky", replace(FAST, retry=retry))
    assert env.braze.stats.peak_in_flight > 4  # sent from the event loop, many at once
    assert env.braze.stats.server_errors > 0 and env.braze.stats.dropped > 0
    assert (record.status, record.rows_sent, record.rows_failed) == ("partial", 5_997, 3)
    errors = {error.identifier: error.reason for error in env.runlog.row_errors(record.id)}
    assert set(errors) == {"external_id=user-7", "external_id=user-4000", "external_id=user-2500"}
    assert "invalid_user" in errors["external_id=user-7"] and "400" in errors["external_id=user-2500"]
    delivered = set(env.external_ids())
    assert delivered == {f"user-{n}" for n in range(1, 6_001)} - {"user-7", "user-4000", "user-2500"}
    assert env.runlog.watermark("flaky") is not None


def test_a_429_storm_with_many_requests_in_flight_is_waited_out(env: SyncEnv) -> None:
    limited = BrazeStandIn(api_keys=("storm-key",), rate_limit=20, rate_window_seconds=0.5).start()
    try:
        # the workspace believes in 200 a half second; Braze allows 20 and answers 429 past them
        env.ws.set_braze(BrazeSettings(endpoint=limited.url, requests_per_window=200, window_seconds=0.5), "storm-key")
        env.create_integration("storm")
        env.fill("storm", 7_500)  # 100 requests
        limited.set_faults(FaultPlan(latency_seconds=0.05))
        record = env.sync("storm")
        assert record.status == "success"
        assert sorted(obj["external_id"] for obj in limited.objects("attributes")) == sorted(f"user-{n}" for n in range(1, 7_501))
        assert limited.stats.peak_in_flight > 4
        # X-RateLimit-* and Retry-After obeyed: every request went through once, and the 429s (what was
        # already in flight when a window filled) stayed a bounded share, not a storm of retries
        assert limited.stats.accepted_requests == 100
        assert limited.stats.rate_limited <= limited.stats.requests * 3 // 4
    finally:
        limited.stop()


def test_a_key_revoked_mid_run_ends_it_at_once_and_nothing_is_lost(env: SyncEnv) -> None:
    env.create_integration("revoked")
    env.fill("revoked", 30_000)
    env.braze.set_faults(FaultPlan(latency_seconds=0.1))
    revoked = threading.Event()

    def revoke(progress: Progress) -> None:
        if progress.sent >= 3_000 and not revoked.is_set():
            revoked.set()
            env.braze.api_keys.discard("test-key")

    record = env.sync("revoked", replace(FAST, concurrency=32), progress=revoke)
    assert record.status == "error" and "rejected the REST API key" in (record.error or "")
    assert record.rows_sent < 30_000
    requests_after = env.braze.stats.unauthorized
    assert requests_after <= 32 + 1  # only what was already under way
    env.braze.api_keys.add("test-key")
    env.braze.set_faults(FaultPlan())
    resumed = env.sync("revoked")
    assert resumed.status == "success"
    assert set(env.external_ids()) == {f"user-{n}" for n in range(1, 30_001)}


# the command line ------------------------------------------------------------------------------


def add_big(cli: Cli, redshift: RedshiftStandIn, schema: str, rows: int) -> None:
    user = f"{schema}_u"
    make_table(redshift, schema, "big", "attributes", user, rows)
    assert cli("integrations", "add", "big", "--credential", "wh", "--table", f"{schema}.big", "--data-type", "attributes",
               "--contact-email", "ops@example.com").returncode == 0  # fmt: skip
    assert cli("test", "big").returncode == 0 and cli("activate", "big").returncode == 0


def wait_for(condition: object, process: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:  # type: ignore[attr-defined]
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)


def test_a_sigkill_at_150_ms_resends_at_most_max_in_flight_requests(
    setup: tuple[Cli, str, str],  # noqa: F811
    redshift: RedshiftStandIn,
    braze: BrazeStandIn,
) -> None:
    cli, schema, _password = setup
    result = cli("braze", "set", "--endpoint", braze.url, "--max-in-flight", "16", "--keep-key")
    assert result.returncode == 0, result.stderr
    shown = cli("braze", "show", "--json")
    assert '"max_in_flight": 16' in shown.stdout
    total = 30_000
    add_big(cli, redshift, schema, total)
    braze.set_faults(FaultPlan(latency_seconds=0.15))
    process = cli.popen("sync", "big", "--json")
    runlog = RunLog(cli.home / "data" / "runs.sqlite3")
    wait_for(lambda: braze.accepted_count >= 3_000 and runlog.watermark("big") is not None, process)
    assert process.poll() is None, "the sync ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    time.sleep(0.5)  # requests the stand-in was answering when the client died
    assert braze.accepted_count < total

    braze.set_faults(FaultPlan())
    resumed = cli("sync", "big", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert last_json(resumed.stdout)["rows_read"] < total  # it resumed, it did not start over
    delivered = [obj["external_id"] for obj in braze.objects("attributes")]
    assert set(delivered) == {f"user-{n}" for n in range(1, total + 1)}
    assert len(delivered) - total <= 16 * 75  # at most max_in_flight requests' objects sent twice
    runlog.close()


def test_sigterm_at_150_ms_finishes_the_requests_in_flight_and_records_the_run(
    setup: tuple[Cli, str, str],  # noqa: F811
    redshift: RedshiftStandIn,
    braze: BrazeStandIn,
) -> None:
    cli, schema, _password = setup
    add_big(cli, redshift, schema, 30_000)
    braze.set_faults(FaultPlan(latency_seconds=0.15))
    process = cli.popen("sync", "big", "--json")
    wait_for(lambda: braze.accepted_count >= 3_000, process)
    assert process.poll() is None, "the sync ended before SIGTERM"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    summary = last_json(stdout)
    assert summary["status"] == "cancelled"
    assert braze.stats.in_flight == 0
    assert summary["rows_sent"] == braze.accepted_count  # every request under way was answered and counted
    runlog = RunLog(cli.home / "data" / "runs.sqlite3")
    [run] = runlog.runs("big")
    assert run.status == "cancelled" and run.rows_sent == braze.accepted_count
    runlog.close()
