"""Send only changed attributes, and data points counted and estimated: through the real stack
(redshift-connector -> proxy -> PostgreSQL, httpx -> the Braze stand-in), with the delivered
values remembered in SQLite beside the run log."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import FAST, SyncEnv, at
from test_cli_commands import Cli, last_json, setup  # noqa: F401  (setup is a fixture)

from cdi_tui.runlog import RunLog
from cdi_tui.standins.braze import BrazeStandIn, FaultPlan
from cdi_tui.standins.postgres import RedshiftStandIn

pytestmark = pytest.mark.real

PAYLOAD = '\'{"n": \' || g || \', "plan": "Pro", "address": {"city": "Oslo", "zip": "0150"}}\''
# data points a row of PAYLOAD costs by Braze's rules: n, plan, and each key of the nested address
POINTS_A_ROW = 4


def restamp(env: SyncEnv, name: str, set_sql: str = "", where: str = "TRUE") -> None:
    """Move UPDATED_AT of rows (a rebuilt table), optionally changing values too."""
    table = env.ws.integration(name).table_name
    extra = f", {set_sql}" if set_sql else ""
    env.redshift.admin_execute(f"UPDATE {table.sql} SET updated_at = updated_at + interval '1 day'{extra} WHERE {where}")


def received(env: SyncEnv) -> list[dict[str, Any]]:
    return env.braze.objects("attributes")


def test_an_unchanged_table_re_stamped_sends_nothing_and_counts_every_row_unchanged(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.fill("attrs", 500, payload_sql=PAYLOAD)
    first = env.sync("attrs")
    assert (first.status, first.rows_sent, first.rows_unchanged) == ("success", 500, 0)
    assert first.data_points == 500 * POINTS_A_ROW  # n, plan, address.city, address.zip
    requests = env.braze.stats.requests
    restamp(env, "attrs")
    second = env.sync("attrs")
    assert (second.status, second.rows_read, second.rows_sent, second.rows_unchanged) == ("success", 500, 0, 500)
    assert second.data_points == 0
    assert env.braze.stats.requests == requests  # not one request
    assert env.runlog.watermark("attrs") is not None and env.sync("attrs").rows_read == 0  # the watermark moved on


def test_one_changed_key_sends_exactly_that_key_for_that_user(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.fill("attrs", 200, payload_sql=PAYLOAD)
    env.sync("attrs")
    env.braze.reset()
    restamp(env, "attrs", "payload = replace(payload, '\"Pro\"', '\"Team\"')", "external_id = 'user-42'")
    record = env.sync("attrs")
    assert (record.rows_read, record.rows_sent, record.rows_unchanged, record.data_points) == (1, 1, 0, 1)
    assert received(env) == [{"external_id": "user-42", "plan": "Team"}]


def test_a_key_set_to_null_is_sent_as_null_once(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.insert("attrs", [{"updated_at": at(1), "external_id": "u1", "payload": {"plan": "Pro", "n": 1}}])
    env.sync("attrs")
    env.insert("attrs", [{"updated_at": at(2), "external_id": "u1", "payload": {"plan": None, "n": 1}}])
    env.braze.reset()
    record = env.sync("attrs")
    assert [obj for obj in received(env)] == [{"external_id": "u1", "plan": None}]
    assert record.data_points == 1
    env.insert("attrs", [{"updated_at": at(3), "external_id": "u1", "payload": {"plan": None, "n": 1}}])
    assert env.sync("attrs").rows_unchanged == 1  # removed already: nothing to send


def test_nested_values_in_another_key_order_are_unchanged_and_operations_always_go(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.insert("attrs", [{"updated_at": at(1), "external_id": "u1",
                          "payload": {"address": {"city": "Oslo", "zip": "0150"}, "tags": ["a", "b"], "coins": {"inc": 5}}}])  # fmt: skip
    env.sync("attrs")
    env.braze.reset()
    env.redshift.admin_execute(
        f"INSERT INTO {env.ws.integration('attrs').table_name.sql} (updated_at, external_id, payload) VALUES "
        f'(\'{at(2).isoformat()}\', \'u1\', \'{{"tags": ["a", "b"], "address": {{"zip": "0150", "city": "Oslo"}}, '
        f'"coins": {{"inc": 5}}}}\')'
    )
    record = env.sync("attrs")
    assert received(env) == [{"external_id": "u1", "coins": {"inc": 5}}]  # an increment is not a value: it is sent
    assert record.data_points == 1
    env.insert("attrs", [{"updated_at": at(3), "external_id": "u1", "payload": {"tags": ["b", "a"]}}])
    env.braze.reset()
    env.sync("attrs")
    assert received(env) == [{"external_id": "u1", "tags": ["b", "a"]}]  # arrays compare in order


def test_an_object_braze_rejects_is_sent_again_next_run(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.fill("attrs", 100, payload_sql=PAYLOAD)
    env.braze.set_faults(FaultPlan(reject_external_ids=frozenset({"user-7"})))
    first = env.sync("attrs")
    assert (first.status, first.rows_sent, first.rows_failed) == ("partial", 99, 1)
    env.braze.set_faults(FaultPlan())
    env.braze.reset()
    restamp(env, "attrs")
    second = env.sync("attrs")
    assert (second.rows_sent, second.rows_unchanged) == (1, 99)
    assert [obj["external_id"] for obj in received(env)] == ["user-7"]
    assert set(received(env)[0]) >= {"n", "plan", "address"}  # every key: none was ever delivered


def test_a_full_resync_sends_everything_and_send_all_never_filters(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.fill("attrs", 150, payload_sql=PAYLOAD)
    env.sync("attrs")
    env.braze.reset()
    resync = env.sync("attrs", replace(FAST, full_resync=True))
    assert (resync.rows_sent, resync.rows_unchanged, resync.data_points) == (150, 0, 150 * POINTS_A_ROW)
    env.ws.update_integration("attrs", send_changed_only=False)
    env.braze.reset()
    restamp(env, "attrs")
    plain = env.sync("attrs")
    assert (plain.rows_sent, plain.rows_unchanged) == (150, 0)


def test_a_deleted_user_is_forgotten_and_its_next_row_sends_every_key(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.create_integration("gone", "deletes")
    env.fill("attrs", 20, payload_sql=PAYLOAD)
    env.sync("attrs")
    env.insert("gone", [{"updated_at": at(1), "external_id": "user-5"}])
    deleted = env.sync("gone")
    assert (deleted.rows_sent, deleted.data_points) == (1, 0)  # deletes cost no data point
    env.braze.reset()
    restamp(env, "attrs")
    record = env.sync("attrs")
    assert (record.rows_sent, record.rows_unchanged) == (1, 19)
    [obj] = received(env)
    assert obj["external_id"] == "user-5" and {"n", "plan", "address"} <= set(obj)


def test_a_new_table_forgets_what_was_delivered(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.fill("attrs", 30, payload_sql=PAYLOAD)
    env.sync("attrs")
    assert env.delivered.users("attrs") == 30
    env.redshift.admin_execute(f"CREATE TABLE {env.schema}.attrs2 AS SELECT * FROM {env.schema}.attrs")
    env.redshift.admin_execute(f"GRANT SELECT ON {env.schema}.attrs2 TO {env.user}")
    env.ws.update_integration("attrs", table=f"{env.schema}.attrs2")
    assert env.delivered.users("attrs") == 0


def test_estimates_equal_what_the_run_then_spends(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.fill("attrs", 300, payload_sql=PAYLOAD)
    env.sync("attrs")
    restamp(env, "attrs", "payload = replace(payload, '\"Pro\"', '\"Team\"')", "external_id LIKE 'user-1%'")
    restamp(env, "attrs", "", "external_id LIKE 'user-2%'")
    estimate = env.sync("attrs", replace(FAST, dry_run=True))
    assert estimate.dry_run and estimate.rows_unchanged > 0 and estimate.data_points > 0
    real = env.sync("attrs")
    assert (real.data_points, real.rows_unchanged) == (estimate.data_points, estimate.rows_unchanged)
    assert real.rows_sent == estimate.rows_skipped  # what the dry run would have sent, it sent


def test_events_count_a_data_point_each(env: SyncEnv) -> None:
    env.create_integration("evts", "events")
    env.insert("evts", [{"updated_at": at(n), "external_id": f"u{n}", "payload": {"name": "played"}} for n in range(1, 4)])
    record = env.sync("evts")
    assert (record.rows_sent, record.data_points, record.rows_unchanged) == (3, 3, 0)


def test_the_command_line_adds_estimates_and_reports_data_points_and_a_sigkill_loses_no_change(
    setup: tuple[Cli, str, str],  # noqa: F811
    redshift: RedshiftStandIn,
    braze: BrazeStandIn,
) -> None:
    cli, schema, _password = setup
    user = f"{schema}_u"
    from cdi_tui.standins.demo_data import create_table_sql

    redshift.admin_execute([
        create_table_sql(schema, "big", "attributes"),
        f"INSERT INTO {schema}.big (updated_at, external_id, payload) SELECT timestamptz '2026-03-01 12:00:00+00' + "
        f"(g || ' seconds')::interval, 'user-' || g, {PAYLOAD} FROM generate_series(1, 20000) g",
        f"GRANT SELECT ON {schema}.big TO {user}",
    ])  # fmt: skip
    refused = cli("integrations", "add", "ev", "--credential", "wh", "--table", f"{schema}.ev", "--data-type", "events",
                  "--send-changed-only")  # fmt: skip
    assert refused.returncode == 2 and "custom attributes and catalogs integrations only" in refused.stderr
    assert cli("integrations", "add", "big", "--credential", "wh", "--table", f"{schema}.big", "--data-type", "attributes",
               "--contact-email", "ops@example.com").returncode == 0  # fmt: skip
    listed = cli("integrations", "list", "--json")
    assert '"send_changed_only": true' in listed.stdout
    assert cli("test", "big").returncode == 0 and cli("activate", "big").returncode == 0

    estimate = cli("estimate", "big", "--json")
    assert estimate.returncode == 0, estimate.stderr
    assert (last_json(estimate.stdout)["data_points"], last_json(estimate.stdout)["rows_unchanged"]) == (20_000 * POINTS_A_ROW, 0)
    assert braze.stats.requests == 0
    people = cli("estimate", "big")
    assert f"would spend: {20_000 * POINTS_A_ROW:,}" in people.stdout

    # a first sync killed mid-way, then finished: values in flight were not remembered, so sent again
    braze.set_faults(FaultPlan(latency_seconds=0.05))
    process = cli.popen("sync", "big", "--json")
    runlog = RunLog(cli.home / "data" / "runs.sqlite3")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and braze.accepted_count < 3_000:
        time.sleep(0.02)
    assert process.poll() is None
    # from here on Braze applies nothing: the requests under way when the sync dies never reach it,
    # so only a run that remembers just what Braze accepted (and a watermark that waits for the
    # answers) sends their users again
    braze.set_faults(FaultPlan(drop_share=1.0))
    while time.monotonic() < deadline and process.poll() is None and braze.stats.dropped < 20:
        time.sleep(0.02)
    assert process.poll() is None and braze.stats.dropped >= 20
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    time.sleep(0.3)
    braze.set_faults(FaultPlan())
    finished = cli("sync", "big", "--json")
    assert finished.returncode == 0, finished.stderr
    assert {obj["external_id"] for obj in braze.objects("attributes")} == {f"user-{n}" for n in range(1, 20_001)}
    assert all({"n", "plan", "address"} <= set(obj) for obj in braze.objects("attributes"))

    # then every row re-stamped: nothing to send
    redshift.admin_execute(f"UPDATE {schema}.big SET updated_at = updated_at + interval '1 day'")
    again = cli("sync", "big", "--json")
    summary = last_json(again.stdout)
    assert (summary["rows_read"], summary["rows_sent"], summary["rows_unchanged"], summary["data_points"]) == (
        20_000,
        0,
        20_000,
        0,
    )
    history = cli("runs", "big", "--json")
    assert '"rows_unchanged": 20000' in history.stdout and '"data_points"' in history.stdout
    runlog.close()


def test_the_preview_estimate_and_the_data_points_of_the_last_30_days(env: SyncEnv) -> None:
    integration = env.create_integration("attrs")
    env.fill("attrs", 40, payload_sql=PAYLOAD)
    result = env.ws.test_integration("attrs", preview_rows=10)
    assert result.ok and result.preview is not None and result.shape is not None
    assert env.ws.preview_estimate(integration, result.shape, result.preview.rows) == (
        10 * POINTS_A_ROW,
        0,
    )  # nothing delivered yet
    synced = env.sync("attrs")
    assert env.ws.preview_estimate(integration, result.shape, result.preview.rows) == (0, 10)
    env.sync("attrs", replace(FAST, dry_run=True, full_resync=True))  # a dry run spends nothing
    assert env.ws.data_points_since("attrs", days=30) == synced.data_points == 40 * POINTS_A_ROW


def test_the_store_keeps_what_each_integration_delivered_and_forgets_deleted_users_everywhere(tmp_path: Path) -> None:
    from cdi_tui.engine import changes

    store = changes.DeliveredStore(tmp_path / "d.sqlite3")
    other = changes.DeliveredStore(tmp_path / "d.sqlite3")  # the engine and the workspace, or two processes
    big = (1 << 64) - 5  # fingerprints are unsigned 64-bit; SQLite keeps signed ones
    entries = [(f"external_id=u{n}", {changes.ROW: big - n, 7: n, 8: n * 2}) for n in range(5_000)]
    store.save("attrs", entries)
    assert other.users("attrs") == 5_000
    found = other.lookup("attrs", ["external_id=u42", "external_id=nobody"])
    assert list(found) == ["external_id=u42"]
    assert found["external_id=u42"].last_object == changes._signed(big - 42)
    assert found["external_id=u42"].fingerprints() == {7: 42, 8: 84}
    store.save("events", entries[:10])
    store.forget_users(["external_id=u1", "external_id=u2"])
    assert (other.users("attrs"), other.users("events")) == (4_998, 8)
    store.forget_integration("events")
    assert (other.users("attrs"), other.users("events")) == (4_998, 0)
    store.close()
    other.close()


def test_a_draft_that_passed_its_test_can_be_estimated_but_not_synced(env: SyncEnv) -> None:
    from cdi_tui.engine.sync import SyncRefused

    env.create_integration("attrs", activate=False)
    env.fill("attrs", 25, payload_sql=PAYLOAD)
    with pytest.raises(SyncRefused, match="no passed connection test on record"):
        env.ws.estimate("attrs")  # untested: refused, nothing recorded
    assert env.ws.runs("attrs") == []
    assert env.ws.test_integration("attrs").ok
    record = env.ws.estimate("attrs")
    assert (record.dry_run, record.status, record.data_points, record.rows_unchanged) == (True, "success", 25 * POINTS_A_ROW, 0)
    assert env.ws.integration("attrs").state == "draft" and env.braze.stats.requests == 0
    assert env.runlog.watermark("attrs") is None  # an estimate moves nothing
    with pytest.raises(SyncRefused, match="is a draft"):
        env.ws.sync("attrs")  # a real sync still needs the integration activated
    env.ws.update_integration("attrs", table=f"{env.schema}.other")
    with pytest.raises(SyncRefused, match="changed since its last successful test"):
        env.ws.estimate("attrs")  # tested for another table


def test_turning_send_changed_only_off_forgets_what_was_delivered_so_turning_it_on_again_sends_all(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.fill("attrs", 10, payload_sql=PAYLOAD)
    env.sync("attrs")
    assert env.delivered.users("attrs") == 10
    env.ws.update_integration("attrs", frequency="hourly at :05")
    assert env.delivered.users("attrs") == 10  # other settings keep it
    env.ws.update_integration("attrs", send_changed_only=False)
    assert env.delivered.users("attrs") == 0  # values sent while it is off are not remembered: the old ones go stale
    env.ws.update_integration("attrs", send_changed_only=True)
    restamp(env, "attrs")
    record = env.sync("attrs")
    assert (record.rows_sent, record.rows_unchanged, record.data_points) == (10, 0, 10 * POINTS_A_ROW)


def test_rows_read_as_last_delivered_are_known_unchanged_before_they_are_made_into_objects(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cdi_tui.braze.objects import BrazeObject
    from cdi_tui.engine.changes import ChangeFilter, DeliveredStore
    from cdi_tui.engine.transform import RowTransformer
    from cdi_tui.enums import DataType

    store = DeliveredStore(tmp_path / "delivered.sqlite3")
    transformer = RowTransformer(("updated_at", "external_id", "payload"), DataType.ATTRIBUTES)
    monday, tuesday = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    rows: list[list[Any]] = [[monday, f"user-{n}", f'{{"n": {n}, "plan": "Pro"}}'] for n in range(4)]
    first = ChangeFilter(store, "attrs")
    fingerprints, known = first.sift(rows, transformer)
    assert known == [False] * 4  # nothing remembered yet
    objects = [transformer.transform(row) for row in rows]
    assert all(isinstance(item, BrazeObject) for item in objects)
    sent = first.filter(objects, fingerprints)  # type: ignore[arg-type]
    delivered = [item for item in sent if item is not None]
    first.settled(delivered, delivered)
    first.flush()

    again = [[tuesday, *row[1:]] for row in rows]  # re-stamped
    again[1][2] = '{"n": 1, "plan": "Team"}'  # one value changed
    again[2][0] = None  # an UPDATED_AT that must be looked at row by row
    again.append([tuesday, "user-3", '{"n": 3, "plan": "Pro"}'])  # user-3 twice in the block
    _, known = ChangeFilter(store, "attrs").sift(again, transformer)
    assert known == [True, False, False, False, False]
    store.close()


def test_a_user_changed_and_changed_back_in_one_run_ends_on_the_last_value(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.insert("attrs", [{"updated_at": at(1), "external_id": "user-1", "payload": '{"plan": "Pro"}'}])
    env.sync("attrs")
    env.braze.reset()
    env.braze.add_profile(external_id="user-1", attributes={"plan": "Pro"})  # what the first run delivered
    env.insert(
        "attrs",
        [
            {"updated_at": at(2), "external_id": "user-1", "payload": '{"plan": "Team"}'},
            {"updated_at": at(3), "external_id": "user-1", "payload": '{"plan": "Pro"}'},  # read exactly as delivered before
        ],
    )
    record = env.sync("attrs")
    # the two rows fold into one object holding the newest value, which Braze already has: nothing is sent
    assert (record.rows_read, record.rows_sent, record.rows_superseded, record.rows_unchanged) == (2, 0, 1, 1)
    assert env.braze.profile("user-1")["attributes"] == {"plan": "Pro"}  # type: ignore[index]  # what the table says last


def test_a_row_found_unchanged_value_by_value_is_known_at_once_the_next_time(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.fill("attrs", 50, payload_sql=PAYLOAD)
    env.sync("attrs")
    users = [f"external_id=user-{n}" for n in range(1, 51)]
    env.delivered.set_row_fingerprints("attrs", [(user, 12345) for user in users])  # as an older cdi-tui kept them
    restamp(env, "attrs")
    assert env.sync("attrs").rows_unchanged == 50  # compared value by value, and the rows' fingerprints noted
    assert all(env.delivered.lookup("attrs", users)[user].last_object != 12345 for user in users)
    restamp(env, "attrs")
    assert env.sync("attrs").rows_unchanged == 50
