"""Braze ends up holding what the table holds: each user's profile, as the Braze stand-in holds
it after the run, carries the values of that user's newest rows, whatever the timing.

The stand-in processes each request after 50 ms plus a random 0-250 ms, so requests under way
together are applied out of order (as across the internet); it applies Braze's rules to
profiles (``null`` removes, objects replace or merge, nested updates dropped when one is
invalid) and counts data points by Braze's rules. Through the real stack: redshift-connector
-> the Redshift proxy -> PostgreSQL, httpx -> the stand-in on a real socket.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import replace
from typing import Any

import pytest
from helpers import BASE, FAST, SyncEnv, at
from test_cli_commands import Cli, last_json, setup  # noqa: F401  (setup is a fixture)

from cdi_tui.braze.client import RetryPolicy
from cdi_tui.standins.braze import BrazeStandIn, FaultPlan
from cdi_tui.standins.demo_data import create_table_sql
from cdi_tui.standins.postgres import RedshiftStandIn

pytestmark = pytest.mark.real

OVERTAKING = FaultPlan(latency_seconds=0.05, jitter_seconds=0.25, seed=11)


def fill_versions(env: SyncEnv, name: str, users: int, versions: int, extra_sql: str = "") -> None:
    """``versions`` rows a user, each newer than the last: version v of user u at BASE + v*users + u seconds.

    A user's rows are ``users`` rows apart in reading order, so several of them are under way at once.
    """
    table = env.ws.integration(name).table_name
    env.redshift.admin_execute(
        f"INSERT INTO {table.sql} (updated_at, external_id, payload) "
        f"SELECT timestamptz '{BASE.isoformat()}' + ((v * {users} + u) || ' seconds')::interval, 'user-' || u, "
        f"'{{\"version\": ' || v || ', \"plan\": \"plan-' || v || '\"{extra_sql}}}' "
        f"FROM generate_series(1, {users}) u, generate_series(1, {versions}) v"
    )


def stale_users(braze: BrazeStandIn, users: int, newest: int) -> list[str]:
    """Users whose profile does not end on their newest row's values."""
    stale = []
    for number in range(1, users + 1):
        profile = braze.profile(f"user-{number}")
        attributes = profile["attributes"] if profile else {}
        if attributes.get("version") != newest or attributes.get("plan") != f"plan-{newest}":
            stale.append(f"user-{number}")
    return stale


def rows_accounted(record: Any) -> int:
    return record.rows_sent + record.rows_failed + record.rows_unchanged + record.rows_superseded


@pytest.mark.parametrize("send_changed_only", [True, False], ids=["send-changed-only", "send-all"])
def test_each_user_ends_on_their_newest_row_when_answers_overtake_each_other(env: SyncEnv, send_changed_only: bool) -> None:
    env.create_integration("versions")
    if not send_changed_only:
        env.ws.update_integration("versions", send_changed_only=False)
    fill_versions(env, "versions", 1_500, 4)
    env.braze.set_faults(OVERTAKING)
    record = env.sync("versions", replace(FAST, concurrency=64))
    assert record.status == "success", record.error
    assert env.braze.stats.peak_in_flight > 8  # requests overtook each other
    assert env.braze.stats.user_overlaps == 0  # never two requests about one user under way at once
    assert stale_users(env.braze, 1_500, 4) == []
    assert record.rows_read == 6_000 and rows_accounted(record) == 6_000
    assert record.rows_superseded > 0  # rows a newer row of the same user made moot were not sent
    assert record.data_points == env.braze.data_points


def test_newest_values_win_through_server_errors_lost_answers_and_dropped_connections(env: SyncEnv) -> None:
    env.create_integration("versions")
    fill_versions(env, "versions", 1_500, 4)
    env.braze.set_faults(replace(OVERTAKING, server_error_share=0.2, drop_share=0.1, lose_answer_share=0.1))
    retry = RetryPolicy(max_attempts=12, backoff_base=0.01, backoff_cap=0.05)
    record = env.sync("versions", replace(FAST, concurrency=64, retry=retry))
    assert record.status == "success", record.error
    stats = env.braze.stats
    assert stats.server_errors > 0 and stats.dropped > 0 and stats.answers_lost > 0
    assert stats.user_overlaps == 0
    assert stale_users(env.braze, 1_500, 4) == []
    assert rows_accounted(record) == 6_000


def test_a_400_split_and_rejected_objects_fail_only_their_users_rows(env: SyncEnv) -> None:
    env.create_integration("versions")
    fill_versions(env, "versions", 600, 3)
    env.braze.set_faults(
        replace(OVERTAKING, reject_external_ids=frozenset({"user-7"}), poison_external_ids=frozenset({"user-300"}))
    )
    record = env.sync("versions", replace(FAST, concurrency=32))
    assert record.status == "partial"
    failed = {error.identifier for error in env.runlog.row_errors(record.id)}
    assert failed == {"external_id=user-7", "external_id=user-300"}
    assert sorted(stale_users(env.braze, 600, 3)) == ["user-300", "user-7"]
    assert rows_accounted(record) == 1_800


def test_a_row_on_the_retry_list_never_overwrites_a_newer_value_delivered_since(env: SyncEnv) -> None:
    """The first request's objects fail until their retries run out; those users' newer rows of
    the same run must not be delivered before them (else the retry list, sent by the next run,
    would put the older values back): they join the users' entries on the retry list."""
    env.create_integration("versions")
    fill_versions(env, "versions", 200, 3)
    retry = RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_cap=0.002)
    env.braze.set_faults(FaultPlan(fail_next=2))  # the first request (users 1-75) fails twice: the retry list
    first = env.sync("versions", replace(FAST, retry=retry))
    assert first.status == "partial"
    assert first.rows_failed == 75 * 3 and first.rows_sent + first.rows_superseded == 125 * 3
    errors = env.runlog.row_errors(first.id)
    assert {error.identifier for error in errors} == {f"external_id=user-{n}" for n in range(1, 76)}
    assert all("queued for the next run" in error.reason for error in errors)
    assert len(env.runlog.retry_rows("versions")) == 75  # one entry a user, holding the user's newest values
    for number in range(1, 76):
        assert env.braze.profile(f"user-{number}") is None  # nothing of theirs was delivered out of turn
    assert stale_users(env.braze, 200, 3)[:1] == ["user-1"] and len(stale_users(env.braze, 200, 3)) == 75
    env.braze.set_faults(FaultPlan())
    second = env.sync("versions", replace(FAST, retry=retry))
    assert second.status == "success" and second.rows_retried == 75
    assert stale_users(env.braze, 200, 3) == []
    assert env.runlog.retry_rows("versions") == []


def test_a_cancelled_run_resumes_and_every_user_ends_on_the_newest_row(env: SyncEnv) -> None:
    import threading

    from cdi_tui.engine.sync import Progress

    env.create_integration("versions")
    fill_versions(env, "versions", 1_500, 4)
    env.braze.set_faults(OVERTAKING)
    cancel = threading.Event()

    def stop_early(progress: Progress) -> None:
        if progress.sent >= 1_000:
            cancel.set()

    cancelled = env.sync("versions", replace(FAST, concurrency=64), progress=stop_early, cancel=cancel)
    assert cancelled.status == "cancelled" and env.braze.stats.in_flight == 0
    resumed = env.sync("versions", replace(FAST, concurrency=64))
    assert resumed.status == "success"
    assert stale_users(env.braze, 1_500, 4) == []


def test_one_user_with_most_of_the_rows_does_not_stall_the_run(env: SyncEnv) -> None:
    env.create_integration("hot")
    table = env.ws.integration("hot").table_name
    env.redshift.admin_execute(
        f"INSERT INTO {table.sql} (updated_at, external_id, payload) "
        f"SELECT timestamptz '{BASE.isoformat()}' + (g || ' seconds')::interval, "
        f"CASE WHEN g % 2 = 0 THEN 'hot' ELSE 'user-' || g END, '{{\"n\": ' || g || '}}' FROM generate_series(1, 20000) g"
    )
    env.braze.set_faults(FaultPlan(latency_seconds=0.05, jitter_seconds=0.05, seed=3))
    started = time.monotonic()
    record = env.sync("hot", replace(FAST, concurrency=64))
    elapsed = time.monotonic() - started
    assert record.status == "success"
    assert env.braze.profile("hot")["attributes"] == {"n": 20_000}  # type: ignore[index]
    assert env.braze.stats.user_overlaps == 0
    assert record.rows_superseded > 9_000  # the hot user's rows were folded, not sent one by one
    assert rows_accounted(record) == 20_000
    assert elapsed < 60


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_run_stopped_mid_way_resumes_and_every_user_ends_on_the_newest_row(
    setup: tuple[Cli, str, str],  # noqa: F811
    redshift: RedshiftStandIn,
    braze: BrazeStandIn,
    signal_number: int,
) -> None:
    cli, schema, _password = setup
    user = f"{schema}_u"
    users, versions = 3_000, 4
    redshift.admin_execute([
        create_table_sql(schema, "versions", "attributes"),
        f"INSERT INTO {schema}.versions (updated_at, external_id, payload) "
        f"SELECT timestamptz '2026-03-01 12:00:00+00' + ((v * {users} + u) || ' seconds')::interval, 'user-' || u, "
        f"'{{\"version\": ' || v || '}}' FROM generate_series(1, {users}) u, generate_series(1, {versions}) v",
        f"GRANT SELECT ON {schema}.versions TO {user}",
    ])  # fmt: skip
    assert cli("integrations", "add", "versions", "--credential", "wh", "--table", f"{schema}.versions",
               "--data-type", "attributes", "--contact-email", "ops@example.com").returncode == 0  # fmt: skip
    assert cli("test", "versions").returncode == 0 and cli("activate", "versions").returncode == 0
    braze.set_faults(OVERTAKING)
    process = cli.popen("sync", "versions", "--json")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and braze.accepted_count < 2_000:
        time.sleep(0.01)
    assert process.poll() is None
    os.kill(process.pid, signal_number)
    process.wait(30)
    time.sleep(0.6)  # what the killed run had under way is processed (or not) by now
    resumed = cli("sync", "versions", "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = last_json(resumed.stdout)
    assert summary["status"] == "success" and "rows_superseded" in summary
    stale = [
        n for n in range(1, users + 1) if (braze.profile(f"user-{n}") or {}).get("attributes", {}).get("version") != versions
    ]
    assert stale == []


# deletes by email and phone ----------------------------------------------------------------


def test_deletes_by_email_and_phone_send_a_prioritization_and_braze_deletes_the_one_it_picks(env: SyncEnv) -> None:
    braze = env.braze
    shared_identified = braze.add_profile(external_id="crm-1", email="shared@example.com")
    shared_anonymous = braze.add_profile(email="shared@example.com")
    braze.add_profile(external_id="crm-2", phone="+15550001")
    braze.add_profile(phone="+15550001")
    braze.add_profile(external_id="twin-a", email="twins@example.com")
    braze.add_profile(external_id="twin-b", email="twins@example.com")
    braze.add_profile(external_id="keep", email="keep@example.com")
    env.create_integration("gone", "deletes")
    env.insert("gone", [
        {"updated_at": at(1), "email": "shared@example.com"},
        {"updated_at": at(2), "phone": "+15550001"},
    ])  # fmt: skip
    record = env.sync("gone")
    assert (record.status, record.rows_sent, record.rows_failed, record.data_points) == ("success", 2, 0, 0)
    remaining = {profile["external_id"] or profile["email"] or profile["phone"] for profile in braze.profiles()}
    # identified first: the user with an external id goes; the anonymous one stays
    assert "crm-1" not in remaining and "crm-2" not in remaining
    assert {"shared@example.com", "+15550001", "twin-a", "twin-b", "keep"} <= remaining
    assert shared_anonymous.number != shared_identified.number

    # two identified users share an email, and the prioritization cannot tell them apart: Braze deletes nothing
    env.ws.update_integration("gone", delete_prioritization=("identified",))
    env.insert("gone", [{"updated_at": at(3), "email": "twins@example.com"}])
    record = env.sync("gone")
    assert record.status == "success" and record.rows_sent == 1
    assert {"twin-a", "twin-b"} <= {profile["external_id"] for profile in braze.profiles()}

    # most recently updated breaks the tie
    env.ws.update_integration("gone", delete_prioritization=("identified", "most_recently_updated"))
    env.insert("gone", [{"updated_at": at(4), "email": "twins@example.com"}])
    env.sync("gone")
    assert {profile["external_id"] for profile in braze.profiles()} >= {"twin-a"}
    assert "twin-b" not in {profile["external_id"] for profile in braze.profiles()}


# nested attributes and data points ----------------------------------------------------------


def test_rows_whose_nested_object_breaks_brazes_rules_are_row_errors_and_the_others_are_delivered(env: SyncEnv) -> None:
    env.create_integration("nested")
    rows: list[dict[str, Any]] = [
        {"updated_at": at(n), "external_id": f"user-{n}", "payload": {"prefs": {"color": f"c{n}", "size": n}}}
        for n in range(1, 298)
    ]
    rows += [
        {"updated_at": at(400), "external_id": "bad-space", "payload": {"prefs": {"bad key": 1}}},
        {"updated_at": at(401), "external_id": "bad-dot", "payload": {"prefs": {"inner": {"a.b": 1}}}},
        {"updated_at": at(402), "external_id": "bad-long", "payload": {"prefs": {"bio": "x" * 300}}},
    ]
    env.insert("nested", rows)
    estimate = env.sync("nested", replace(FAST, dry_run=True))
    record = env.sync("nested")
    assert (record.status, record.rows_sent, record.rows_failed) == ("partial", 297, 3)
    reasons = {error.identifier: error.reason for error in env.runlog.row_errors(record.id)}
    assert 'prefs."bad key"' in reasons["external_id=bad-space"]
    assert 'prefs.inner."a.b"' in reasons["external_id=bad-dot"]
    assert "prefs.bio" in reasons["external_id=bad-long"] and "255" in reasons["external_id=bad-long"]
    assert env.braze.users.nested_requests_dropped == 0  # no request carried an invalid nested value
    for n in range(1, 298):
        assert env.braze.profile(f"user-{n}")["attributes"] == {"prefs": {"color": f"c{n}", "size": n}}  # type: ignore[index]
    assert record.data_points == env.braze.data_points == 297 * 2
    assert estimate.data_points == record.data_points


def test_data_points_follow_brazes_rules_and_equal_what_braze_counted(env: SyncEnv) -> None:
    env.create_integration("points")
    env.insert("points", [
        {"updated_at": at(1), "external_id": "a", "payload": {"plan": "pro", "prefs": {"x": 1, "y": 2, "z": 3}}},
        {"updated_at": at(2), "external_id": "b", "payload": {"email_subscribe": "opted_in", "tags": ["p", "q"]}},
        {"updated_at": at(3), "external_id": "c", "payload": {"tags": {"add": ["x", "y"]}}},
        {"updated_at": at(4), "external_id": "d", "payload": {"score": {"inc": 5}, "gone": None, "dates": {"b": {"$time": "2020-01-01T00:00:00Z"}}}},
    ])  # fmt: skip
    estimate = env.sync("points", replace(FAST, dry_run=True))
    record = env.sync("points")
    assert record.status == "success"
    # 1 + 3 | 0 + 1 | 2 | 1 + 1 + 1
    assert estimate.data_points == record.data_points == env.braze.data_points == 10
    assert env.braze.profile("c")["attributes"] == {"tags": ["x", "y"]}  # type: ignore[index]


def test_send_only_changed_sends_only_the_changed_keys_of_a_nested_object(env: SyncEnv) -> None:
    env.create_integration("nest")
    env.insert("nest", [{"updated_at": at(1), "external_id": "u", "payload": {"prefs": {"a": 1, "b": 2, "c": 3}, "plan": "x"}}])
    first = env.sync("nest")
    assert first.data_points == 4
    env.insert("nest", [{"updated_at": at(2), "external_id": "u", "payload": {"prefs": {"a": 1, "b": 2, "c": 4}, "plan": "x"}}])
    second = env.sync("nest")
    assert second.data_points == 1 == env.braze.data_points - 4
    assert env.braze.profile("u")["attributes"] == {"prefs": {"a": 1, "b": 2, "c": 4}, "plan": "x"}  # type: ignore[index]
    # a key removed: the object is sent whole (a merge could not remove it)
    env.insert("nest", [{"updated_at": at(3), "external_id": "u", "payload": {"prefs": {"a": 1}, "plan": "x"}}])
    third = env.sync("nest")
    assert third.data_points == 1
    assert env.braze.profile("u")["attributes"] == {"prefs": {"a": 1}, "plan": "x"}  # type: ignore[index]


def test_the_stand_in_serves_profiles_over_http(env: SyncEnv) -> None:
    import httpx

    env.create_integration("http")
    env.insert("http", [{"updated_at": at(1), "external_id": "u", "payload": {"plan": "x"}}])
    env.sync("http")
    answer = httpx.get(f"{env.braze.url}/_standin/users/u", timeout=10)
    assert answer.status_code == 200 and answer.json()["attributes"] == {"plan": "x"}
    assert httpx.get(f"{env.braze.url}/_standin/users/nobody", timeout=10).status_code == 404
    received = httpx.get(f"{env.braze.url}/_standin/received", timeout=10).json()
    assert received["data_points"] == 1
    assert json.loads(json.dumps(received))["nested_requests_dropped"] == 0
