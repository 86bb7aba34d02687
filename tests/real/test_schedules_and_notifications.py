"""Due integrations, run-due and serve as unattended users run them, and email notifications
received by a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from forked_cli import run_cdi
from helpers import BASE, FAST, SyncEnv

from cdi_tui.config import Config, Integration, SmtpSettings
from cdi_tui.runlog import RunLog
from cdi_tui.scheduler import claim, due_runs
from cdi_tui.secret_store import credential_env_var
from cdi_tui.standins.braze import FaultPlan

NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


def config_with(*integrations: Integration) -> Config:
    return Config(integrations={item.name: item for item in integrations})


def item(name: str, state: str = "active", frequency: str = "daily at 02:30") -> Integration:
    return Integration(name=name, credential="c", table=f"s.{name}", data_type="events", frequency=frequency, state=state)


def test_only_active_integrations_are_due_and_a_first_sync_is_due_at_once(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "runs.sqlite3")
    config = config_with(item("fresh"), item("paused", "paused"), item("draft", "draft"))
    assert [(run.integration, run.slot) for run in due_runs(config, runlog, NOW)] == [("fresh", NOW)]


def test_a_claimed_slot_is_not_due_again_until_the_next_scheduled_time(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "runs.sqlite3")
    config = config_with(item("daily"))
    [first] = due_runs(config, runlog, NOW)
    assert claim(runlog, first)
    assert not claim(runlog, first)  # a second scheduler (app, cron, serve) cannot take it too
    runlog.start_run("daily", "scheduled", False, False, None, 1)
    assert due_runs(config, runlog, NOW + timedelta(hours=1)) == []
    [next_day] = due_runs(config, runlog, datetime(2026, 3, 6, 2, 31, tzinfo=UTC))
    assert next_day.slot == datetime(2026, 3, 6, 2, 30, tzinfo=UTC)


def test_a_missed_stretch_runs_once_not_once_per_missed_slot(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "runs.sqlite3")
    config = config_with(item("daily"))
    runlog.start_run("daily", "scheduled", False, False, None, 1)
    runlog.claim_slot("daily", datetime(2026, 3, 1, 2, 30, tzinfo=UTC))
    due = due_runs(config, runlog, NOW)  # four slots were missed while the machine was off
    assert [run.slot for run in due] == [datetime(2026, 3, 5, 2, 30, tzinfo=UTC)]
    assert claim(runlog, due[0])
    assert due_runs(config, runlog, NOW) == []


def test_sync_now_never_moves_scheduled_runs(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "runs.sqlite3")
    config = config_with(item("daily"))
    runlog.claim_slot("daily", datetime(2026, 3, 4, 2, 30, tzinfo=UTC))
    runlog.start_run("daily", "manual", False, False, None, 1)  # a Sync Now after the 4th's slot
    [due] = due_runs(config, runlog, NOW)
    assert due.slot == datetime(2026, 3, 5, 2, 30, tzinfo=UTC)


# --- run-due and serve, as cron and systemd run them ------------------------------------------


def unattended_env(env: SyncEnv) -> dict[str, str]:
    """Secrets from documented environment variables, as on a host with no keyring."""
    return {
        **os.environ,
        "CDI_TUI_HOME": str(env.paths.config_dir),
        "CDI_TUI_BRAZE_API_KEY": env.api_key,
        credential_env_var("warehouse"): env.password,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }


@pytest.mark.real
def test_run_due_runs_exactly_the_due_integrations(env: SyncEnv) -> None:
    for name in ("due-now", "paused-one", "already-ran"):
        env.create_integration(name)
        env.fill(name, 30)
    env.create_integration("draft-one", activate=False)
    env.ws.pause("paused-one")
    env.sync("already-ran", replace(FAST, trigger="scheduled"))
    env.runlog.claim_slot("already-ran", datetime.now(UTC))
    result = run_cdi(
        ["run-due", "--json"],
        env=unattended_env(env),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert [entry["integration"] for entry in report["ran"]] == ["due-now"]
    assert report["ran"][0]["status"] == "success" and report["ran"][0]["rows_sent"] == 30
    [run] = env.runlog.runs("due-now")
    assert run.trigger == "scheduled"
    again = run_cdi(
        ["run-due", "--json"],
        env=unattended_env(env),
        timeout=120,
    )
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {"ran": [], "skipped": []}


@pytest.mark.real
def test_serve_stops_gracefully_on_sigterm_and_leaves_no_half_written_run(env: SyncEnv) -> None:
    env.create_integration("long")
    env.fill("long", 20_000)
    env.braze.set_faults(FaultPlan(latency_seconds=0.05))
    process = subprocess.Popen(
        [sys.executable, "-m", "cdi_tui", "serve", "--interval", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=unattended_env(env),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(env.braze.objects("attributes")) < 1_000:
            time.sleep(0.05)
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "SIGTERM received" in out and "stopped" in out
    [run] = env.runlog.runs("long")
    assert run.status in ("cancelled", "success") and run.ended_at is not None
    assert run.trigger == "scheduled"


# --- email --------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[dict[str, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {"to": list(envelope.rcpt_tos), "from": envelope.mail_from, "message": message_from_bytes(envelope.content)}
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def use_smtp(env: SyncEnv, port: int) -> None:
    env.ws.set_smtp(SmtpSettings(host="127.0.0.1", port=port, sender="cdi@example.com", security="none"), None)


@pytest.mark.real
def test_a_sync_level_error_emails_the_contacts_without_secrets(env: SyncEnv, smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    use_smtp(env, port)
    env.create_integration("broken")
    env.ws.update_integration("broken", contact_emails=("ops@example.com", "crm@example.com"))
    env.ws.change_password("warehouse", "wrong-password-xyz")
    record = env.ws.sync("broken", FAST)
    assert record.status == "error"
    [mail] = mailbox.messages
    assert sorted(mail["to"]) == ["crm@example.com", "ops@example.com"]
    body = mail["message"].get_payload()
    assert "broken" in mail["message"]["Subject"] and f"#{record.id}" in mail["message"]["Subject"]
    assert "Login refused" in body and "read 0" in body
    assert "wrong-password-xyz" not in body and env.api_key not in body
    assert record.notification is not None and record.notification.startswith("emailed")


@pytest.mark.real
def test_row_errors_above_the_threshold_alert_and_below_do_not(env: SyncEnv, smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    use_smtp(env, port)
    env.create_integration("rows")
    env.ws.update_integration("rows", notify_row_error_percent=10.0)
    env.fill("rows", 95)
    env.insert("rows", [{"updated_at": datetime(2026, 1, 1, tzinfo=UTC), "payload": {"a": 1}}] * 5)  # 5% fail
    assert env.ws.sync("rows", FAST).status == "partial"
    assert mailbox.messages == []
    env.fill("rows", 5, start=200)
    env.insert("rows", [{"updated_at": BASE + timedelta(seconds=300), "payload": {"a": 1}}] * 5)  # 50% fail
    record = env.ws.sync("rows", FAST)
    [mail] = mailbox.messages
    body = mail["message"].get_payload()
    assert "50.0% of the rows failed" in body and "no identifier" in body
    assert record.rows_failed == 5


@pytest.mark.real
def test_success_and_no_new_rows_emails_are_optional(env: SyncEnv, smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    use_smtp(env, port)
    env.create_integration("quiet")
    env.fill("quiet", 10)
    env.ws.sync("quiet", FAST)
    assert mailbox.messages == []
    env.ws.update_integration("quiet", notify_no_rows=True, notify_success=True)
    env.ws.sync("quiet", FAST)
    assert "found no new rows" in mailbox.messages[-1]["message"].get_payload()
    env.fill("quiet", 3, start=100)
    env.ws.sync("quiet", FAST)
    assert "the sync succeeded" in mailbox.messages[-1]["message"].get_payload()


@pytest.mark.real
def test_a_mail_failure_never_fails_the_sync(env: SyncEnv) -> None:
    use_smtp(env, free_port())  # nothing listens there
    env.create_integration("nomail")
    env.ws.update_integration("nomail", notify_success=True)
    env.fill("nomail", 10)
    record = env.ws.sync("nomail", FAST)
    assert record.status == "success" and record.rows_sent == 10
    assert record.notification is not None and record.notification.startswith("email failed")


@pytest.mark.real
def test_smtp_set_keeps_the_password_in_the_keyring(secret_service: Any, tmp_path: Path) -> None:
    env = {**os.environ, "CDI_TUI_HOME": str(tmp_path / "home")}
    result = run_cdi(
        ["smtp", "set", "--host", "smtp.example.com", "--port", "465", "--from", "cdi@example.com", "--ssl", "--user", "mailer"],
        input="smtp-secret-9\n",
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config_text = (tmp_path / "home" / "config.toml").read_text()
    assert "[smtp]" in config_text and 'security = "ssl"' in config_text and 'user = "mailer"' in config_text
    assert "smtp-secret-9" not in config_text
    import keyring

    from cdi_tui.paths import app_paths
    from cdi_tui.secret_store import home_keyring_service

    assert keyring.get_password(home_keyring_service(app_paths(tmp_path / "home")), "smtp:password") == "smtp-secret-9"
