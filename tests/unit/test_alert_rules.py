"""The alert rules alone: when each fires, when it recovers, and that only changes are announced."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdi_tui.alerts import AlertFacts, AlertRule, conditions, failures_in_a_row, transitions
from cdi_tui.config import Integration
from cdi_tui.enums import DataType, IntegrationState, RunStatus, Trigger
from cdi_tui.fields import FieldError, validate_alert_url, validate_listen
from cdi_tui.runlog import RunRecord
from cdi_tui.service.health import Heartbeat, health_report
from cdi_tui.service.http import decode_cursor, encode_cursor

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def run(run_id: int = 1, status: RunStatus = RunStatus.SUCCESS, minutes: float = 1, **counts: Any) -> RunRecord:
    started = NOW - timedelta(minutes=minutes + 1)
    values: dict[str, Any] = {"rows_read": 100, "rows_sent": 100, "rows_failed": 0, "braze_answers": {"201": 2}} | counts
    return RunRecord(
        id=run_id, integration="orders", trigger=Trigger.SCHEDULED, dry_run=False, full_resync=False, started_at=started,
        ended_at=None if status == RunStatus.RUNNING else started + timedelta(minutes=minutes), status=status,
        rows_total=None, rows_skipped=0, rows_retried=0, start_watermark=None, end_watermark=None, error=None,
        warnings=[], notification=None, **values,
    )  # fmt: skip


def facts(**changes: Any) -> AlertFacts:
    base = AlertFacts(NOW, run(), None, NOW - timedelta(hours=1), NOW - timedelta(days=3), 0, 0)
    return replace(base, **changes)


def integration(**settings: Any) -> Integration:
    return Integration("orders", "c", "s.orders", DataType.ATTRIBUTES, state=IntegrationState.ACTIVE, **settings)


def verdict(item: Integration, seen: AlertFacts, rule: AlertRule) -> bool | None:
    return {condition.rule: condition.firing for condition in conditions(item, seen)}[rule]


def test_no_success_fires_after_the_hours_and_says_nothing_for_a_paused_or_never_run_integration() -> None:
    item = integration(alert_no_success_hours=2)
    assert verdict(item, facts(last_success_at=NOW - timedelta(hours=1)), AlertRule.NO_SUCCESS) is False
    assert verdict(item, facts(last_success_at=NOW - timedelta(hours=2, seconds=1)), AlertRule.NO_SUCCESS) is True
    never = facts(last_success_at=None, first_run_at=NOW - timedelta(hours=3))
    assert verdict(item, never, AlertRule.NO_SUCCESS) is True
    assert verdict(item, facts(last_success_at=None, first_run_at=None), AlertRule.NO_SUCCESS) is None
    paused = replace(item, state=IntegrationState.PAUSED)
    assert verdict(paused, facts(last_success_at=NOW - timedelta(days=9)), AlertRule.NO_SUCCESS) is None


def test_a_run_longer_than_its_limit_fires_while_it_runs_and_recovers_with_a_run_within_it() -> None:
    item = integration(alert_run_minutes=30)
    under_way = run(2, RunStatus.RUNNING, minutes=45)
    assert verdict(item, facts(running=under_way), AlertRule.RUN_TOO_LONG) is True
    assert verdict(item, facts(last_finished=run(minutes=31)), AlertRule.RUN_TOO_LONG) is True
    assert verdict(item, facts(last_finished=run(minutes=29)), AlertRule.RUN_TOO_LONG) is False
    short_under_way = replace(under_way, started_at=NOW - timedelta(minutes=5))
    assert verdict(item, facts(running=short_under_way, last_finished=run(minutes=40)), AlertRule.RUN_TOO_LONG) is True


@pytest.mark.parametrize(("failed", "read", "expected"), [(10, 100, False), (11, 100, True), (0, 0, None)])
def test_the_row_error_share_fires_above_its_threshold_and_a_run_without_rows_says_nothing(
    failed: int, read: int, expected: bool | None
) -> None:
    item = integration(alert_row_error_percent=10)
    assert verdict(item, facts(last_finished=run(rows_failed=failed, rows_read=read)), AlertRule.ROW_ERRORS) is expected


def test_the_retry_list_and_the_429_share_fire_above_their_limits() -> None:
    item = integration(alert_retry_rows=500, alert_rate_limited_percent=20)
    assert verdict(item, facts(retry_rows=500), AlertRule.RETRY_LIST) is False
    assert verdict(item, facts(retry_rows=501), AlertRule.RETRY_LIST) is True
    limited = run(braze_answers={"201": 70, "429": 30})
    assert verdict(item, facts(last_finished=limited), AlertRule.RATE_LIMITED) is True
    assert verdict(item, facts(last_finished=run(braze_answers={"201": 80, "429": 20})), AlertRule.RATE_LIMITED) is False
    assert verdict(item, facts(last_finished=run(braze_answers={})), AlertRule.RATE_LIMITED) is None


def test_rules_that_are_off_are_not_evaluated_but_failing_always_is() -> None:
    assert [condition.rule for condition in conditions(integration(), facts())] == [AlertRule.FAILING]
    assert verdict(integration(), facts(last_finished=run(status=RunStatus.ERROR)), AlertRule.FAILING) is True
    assert verdict(integration(), facts(last_finished=run(status=RunStatus.CANCELLED)), AlertRule.FAILING) is None


def test_failures_in_a_row_pass_over_cancelled_runs_and_stop_at_a_success_or_the_last_pause() -> None:
    runs = [run(5, RunStatus.ERROR), run(4, RunStatus.CANCELLED), run(3, RunStatus.INTERRUPTED), run(2), run(1, RunStatus.ERROR)]
    assert failures_in_a_row(runs) == 2
    assert failures_in_a_row(runs, since=runs[0].started_at) == 0
    item = integration(pause_after_failures=2)
    assert verdict(item, facts(failures_in_a_row=2), AlertRule.AUTO_PAUSED) is True
    assert verdict(item, facts(failures_in_a_row=1), AlertRule.AUTO_PAUSED) is False
    assert verdict(replace(item, state=IntegrationState.PAUSED), facts(failures_in_a_row=5), AlertRule.AUTO_PAUSED) is None


def test_only_changes_are_transitions_one_when_it_starts_and_one_when_it_recovers() -> None:
    item = integration(alert_retry_rows=10)
    states: dict[str, tuple[bool, datetime, str | None]] = {}
    firing = transitions("orders", conditions(item, facts(retry_rows=11)), states, NOW)
    assert [(change.rule, change.firing) for change in firing] == [(AlertRule.RETRY_LIST, True)]
    assert firing[0].headline == "ALERT orders: retry list too long"
    states[AlertRule.RETRY_LIST] = (True, NOW, firing[0].detail)
    assert transitions("orders", conditions(item, facts(retry_rows=50)), states, NOW) == []  # still firing: nothing new
    recovered = transitions("orders", conditions(item, facts(retry_rows=0)), states, NOW)
    assert [(change.rule, change.firing) for change in recovered] == [(AlertRule.RETRY_LIST, False)]
    assert transitions("orders", conditions(item, facts(retry_rows=0)), {}, NOW) == []  # never fired: no recovery


def test_health_is_stale_after_two_intervals_and_names_each_reason() -> None:
    clock = [100.0]
    heartbeat = Heartbeat(10.0, clock=lambda: clock[0])
    assert not health_report(heartbeat, lambda: None, []).healthy  # not ticked yet
    heartbeat.tick()
    clock[0] += 19.9
    assert health_report(heartbeat, lambda: None, []).healthy
    clock[0] += 0.2
    stale = health_report(heartbeat, lambda: "the run log cannot be used (disk full)", ["a"])
    assert not stale.healthy and "last ticked 20.1 s ago" in stale.body["reason"] and "disk full" in stale.body["reason"]
    assert Heartbeat(0.1).limit_seconds == 5.0  # a short interval does not flap


def test_cursors_round_trip_and_anything_else_is_refused() -> None:
    assert decode_cursor(encode_cursor(30)) == 30 and decode_cursor(None) == 0
    for bad in ("not-a-cursor", "c2tpcDp4", "", "%%%"):
        with pytest.raises(ValueError, match="Invalid cursor"):
            decode_cursor(bad)


def test_listen_and_alert_urls_are_checked_where_they_come_in() -> None:
    assert validate_listen("127.0.0.1:9464") == "127.0.0.1:9464" and validate_listen("[::1]:9464") == "[::1]:9464"
    for bad in ("9464", "example.com:80", "127.0.0.1:0", "127.0.0.1:65536", "1.2.3.4:x"):
        with pytest.raises(FieldError):
            validate_listen(bad)
    assert validate_alert_url("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080/hook"
    for bad in ("http://hooks.example.com/x", "https://user:pw@hooks.example.com/x", "ftp://x", "https://x/\x1b[2J"):
        with pytest.raises(FieldError):
            validate_alert_url(bad)


def test_alert_settings_and_the_listener_are_declared_once_for_the_config_file_and_the_command_line(tmp_path: Any) -> None:
    from cdi_tui.cli.main import build_parser
    from cdi_tui.config import ConfigError, config_from_dict, config_to_dict

    document = {
        "serve": {"listen": "127.0.0.1:9464"},
        "credentials": {"c": {"host": "h.example.com", "database": "d", "user": "u"}},
        "integrations": {
            "orders": {
                "credential": "c", "table": "s.orders", "data_type": "events", "alert_no_success_hours": 6,
                "alert_webhooks": ["https://hooks.example.com/T0/B0/x"], "alert_webhook_format": "json",
                "ping_url": "https://hc-ping.com/0000", "pause_after_failures": 3, "alert_retry_rows": 1000,
            }
        },
    }  # fmt: skip
    config = config_from_dict(tmp_path / "config.toml", document)
    orders = config.integrations["orders"]
    assert config.serve is not None and config.serve.listen == "127.0.0.1:9464"
    assert orders.alert_webhooks == ("https://hooks.example.com/T0/B0/x",) and orders.pause_after_failures == 3
    assert config_from_dict(tmp_path / "config.toml", config_to_dict(config)) == config
    document["integrations"]["orders"]["alert_webhooks"] = ["http://hooks.example.com/x"]  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"alert_webhooks.*loopback"):
        config_from_dict(tmp_path / "config.toml", document)
    args = build_parser().parse_args(
        ["integrations", "set", "orders", "--alert-webhook", "https://a.example.com/1", "--alert-webhook",
         "https://b.example.com/2", "--alert-run-minutes", "45", "--no-ping-url", "--pause-after-failures", "2"]
    )  # fmt: skip
    assert args.alert_webhooks == ["https://a.example.com/1", "https://b.example.com/2"]
    assert args.alert_run_minutes == 45 and args.ping_url is None and args.pause_after_failures == 2
    serve = build_parser().parse_args(["serve", "--listen", "127.0.0.1:9000", "--log-format", "json"])
    assert serve.listen == "127.0.0.1:9000" and serve.log_format == "json"


def test_each_transition_is_announced_once_whoever_looks_and_survives_a_reopened_run_log(tmp_path: Any) -> None:
    from cdi_tui.runlog import RunLog

    first, second = RunLog(tmp_path / "runs.sqlite3"), RunLog(tmp_path / "runs.sqlite3")  # serve and run-due, say
    assert first.move_alert("orders", "retry_list", True, "12 rows", NOW)
    assert not second.move_alert("orders", "retry_list", True, "12 rows", NOW)  # the other looker stays quiet
    assert not first.move_alert("orders", "row_errors", False, "fine", NOW)  # never fired: nothing recovers
    first.close()
    reopened = RunLog(tmp_path / "runs.sqlite3")
    assert reopened.alert_states("orders")["retry_list"][0] is True and reopened.firing_alerts() == [("orders", "retry_list")]
    assert reopened.move_alert("orders", "retry_list", False, "0 rows", NOW)
    assert not second.move_alert("orders", "retry_list", False, "0 rows", NOW)
    reopened.close()
    second.close()
