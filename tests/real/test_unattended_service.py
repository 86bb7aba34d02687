"""``cdi-tui serve`` run as systemd or an orchestrator runs it, through real sockets: /metrics
scraped and parsed with prometheus_client's own parser, /healthz on a disk that goes read-only,
the trigger API with and without its token, systemd's notify socket, JSON logs; and alerts
received by a real webhook receiver, one per transition."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from forked_cli import run_cdi
from helpers import BASE, FAST, SyncEnv
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from test_schedules_and_notifications import free_port, unattended_env

from cdi_tui.standins.braze import FaultPlan
from cdi_tui.tls import tls_context  # one CA bundle loaded, not one a request

TOKEN = "test-token-" + "x" * 32


class Serve:
    """``cdi-tui serve --listen`` as a process, with secrets from the documented environment variables."""

    def __init__(self, env: dict[str, str], *args: str, interval: float = 0.3) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "cdi_tui", "serve", "--interval", str(interval), "--listen", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2, verify=tls_context()).status_code in (200, 503):
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("serve did not start listening")

    def get(self, path: str, token: str | None = TOKEN, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + path, headers=headers, timeout=20, verify=tls_context(), **kwargs)

    def post(self, path: str, token: str | None = TOKEN, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        return httpx.post(self.url + path, headers=headers, timeout=30, verify=tls_context(), **kwargs)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = self.get("/metrics", token=None)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        samples = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def stop(self) -> tuple[str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, err = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        assert "Traceback" not in err, err
        return out, err


@pytest.fixture
def service_env(env: SyncEnv) -> dict[str, str]:
    return {**unattended_env(env), "CDI_TUI_SERVE_TOKEN": TOKEN}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.mark.real
def test_metrics_are_scraped_and_parsed_during_a_sync_and_after_it(env: SyncEnv, service_env: dict[str, str]) -> None:
    env.create_integration("big")
    env.fill("big", 12_000)
    env.braze.set_faults(FaultPlan(latency_seconds=0.03))
    serve = Serve(service_env)
    try:
        during = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            samples = serve.metrics()
            if (
                value(samples, "cdi_tui_sync_running", integration="big") == 1
                and (value(samples, "cdi_tui_rows_total", integration="big", outcome="sent") or 0) > 0
            ):
                during = samples
                break
            time.sleep(0.1)
        assert during is not None, "no scrape saw the sync under way"
        assert value(during, "cdi_tui_runs_total", integration="big", status="running") == 1
        assert 0 < (value(during, "cdi_tui_rows_total", integration="big", outcome="sent") or 0) < 12_000
        assert (value(during, "cdi_tui_braze_requests_total", integration="big", code="201") or 0) > 0
        while time.monotonic() < deadline and value(serve.metrics(), "cdi_tui_sync_running", integration="big") != 0:
            time.sleep(0.2)
        after = serve.metrics()
    finally:
        serve.stop()
    [run] = env.runlog.runs("big")
    assert run.status == "success" and run.trigger == "scheduled"
    assert value(after, "cdi_tui_runs_total", integration="big", status="success") == 1
    assert value(after, "cdi_tui_runs_total", integration="big", status="running") == 0
    assert value(after, "cdi_tui_rows_total", integration="big", outcome="sent") == 12_000
    assert value(after, "cdi_tui_rows_total", integration="big", outcome="failed") == 0
    assert value(after, "cdi_tui_data_points_total", integration="big") == 12_000
    assert value(after, "cdi_tui_braze_requests_total", integration="big", code="201") == run.braze_answers["201"] == 160
    assert value(after, "cdi_tui_braze_rate_limited_total", integration="big") == 0
    assert value(after, "cdi_tui_retry_rows", integration="big") == 0
    assert value(after, "cdi_tui_rows_in_flight", integration="big") == 0
    assert run.ended_at is not None
    assert value(after, "cdi_tui_last_success_timestamp_seconds", integration="big") == pytest.approx(run.ended_at.timestamp())
    newest = BASE + timedelta(seconds=12_000)
    lag = value(after, "cdi_tui_lag_seconds", integration="big")
    assert lag is not None and abs(lag - (datetime.now(UTC) - newest).total_seconds()) < 60
    assert value(after, "cdi_tui_run_duration_seconds_count", integration="big") == 1
    assert value(after, "cdi_tui_run_duration_seconds_bucket", integration="big", le="+Inf") == 1
    assert value(after, "cdi_tui_integration_state", integration="big", cdi_tui_integration_state="active") == 1
    assert (value(after, "process_resident_memory_bytes") or 0) > 0
    assert (value(after, "cdi_tui_scheduler_last_tick_timestamp_seconds") or 0) > time.time() - 60


@pytest.mark.real
def test_health_turns_503_with_the_reason_when_the_run_logs_disk_goes_read_only(tmpfs: Path, tmp_path: Path) -> None:
    home = tmpfs / "home"
    (home / "data").mkdir(parents=True, mode=0o700)
    logs = tmp_path / "logs"  # the log file stays open; it lives on another disk
    logs.mkdir(mode=0o700)
    (home / "data" / "logs").symlink_to(logs)
    environment = {**os.environ, "CDI_TUI_HOME": str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    serve = Serve(environment)
    try:
        healthy = serve.get("/healthz", token=None)
        assert healthy.status_code == 200, healthy.text
        body = healthy.json()
        assert body["status"] == "healthy" and body["scheduler"]["status"] == "healthy" and body["run_log"]["status"] == "healthy"
        deadline = time.monotonic() + 30
        while subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "the disk stayed busy: serve keeps the run log open between ticks"
            time.sleep(0.05)
        sick = serve.get("/healthz", token=None)
        assert sick.status_code == 503
        assert sick.json()["status"] == "unhealthy" and "Read-only file system" in sick.json()["reason"]
        assert sick.json()["run_log"]["status"] == "unhealthy"
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
        assert serve.get("/healthz", token=None).status_code == 200
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], capture_output=True)
        serve.stop()


@pytest.mark.real
def test_the_trigger_api_needs_its_token_answers_429_while_a_job_runs_and_is_polled_to_the_end(
    env: SyncEnv, service_env: dict[str, str]
) -> None:
    env.create_integration("orders")
    env.fill("orders", 6_000)
    env.ws.pause("orders")  # no scheduled run: only the API starts it
    env.braze.set_faults(FaultPlan(latency_seconds=0.05))
    serve = Serve(service_env)
    try:
        for token in (None, "wrong-token", TOKEN[:-1]):
            refused = serve.post("/cdi/integrations/orders/sync", token=token)
            assert refused.status_code == 401 and refused.json()["message"] == "Invalid or missing bearer token"
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
            assert serve.get("/cdi/integrations", token=token).status_code == 401
        assert env.runlog.runs("orders") == []  # nothing ran without the token

        listed = serve.get("/cdi/integrations")
        assert listed.status_code == 200
        [entry] = listed.json()["results"]
        assert entry["integration_id"] == "orders" and entry["data_type"] == "attributes" and entry["state"] == "paused"
        assert entry["last_job_status"] is None and entry["next_scheduled_run"] is None
        assert entry["braze_workspace"] == "default"  # the [braze.NAME] it syncs to

        started = serve.post("/cdi/integrations/orders/sync")
        assert started.status_code == 202, started.text
        assert started.json()["message"] == "success"
        run_id = started.json()["run_id"]
        second = serve.post("/cdi/integrations/orders/sync")
        assert second.status_code == 429 and second.json() == {"message": "Another job is in progress"}

        polls = 0
        while True:  # an orchestrator's poll, as against Braze's own CDI API
            polled = serve.get("/cdi/integrations/orders/job_sync_status")
            assert polled.status_code == 200
            newest = polled.json()["results"][0]
            assert newest["run_id"] == run_id  # the run is visible from the first poll on
            polls += 1
            if newest["job_status"] != "running":
                break
            assert polls < 600
            time.sleep(0.1)
        assert polls > 1
        assert newest["job_status"] == "success" and newest["rows_synced"] == 6_000 and newest["rows_failed_with_errors"] == 0
        assert newest["trigger"] == "api" and newest["sync_finish_time"] is not None
        assert serve.get("/cdi/integrations").json()["results"][0]["last_job_status"] == "success"
    finally:
        serve.stop()
    [run] = env.runlog.runs("orders")
    assert run.trigger == "api" and run.id == run_id


@pytest.mark.real
def test_bad_input_to_every_endpoint_gets_a_clear_4xx_never_a_traceback(env: SyncEnv, service_env: dict[str, str]) -> None:
    env.create_integration("people", activate=False)
    serve = Serve(service_env)
    try:
        cases = [
            ("DELETE", "/metrics", None, 405),
            ("POST", "/healthz", None, 405),
            ("PUT", "/cdi/integrations", None, 405),
            ("GET", "/cdi/integrations/people/sync", None, 405),
            ("DELETE", "/cdi/integrations/people/job_sync_status", None, 405),
            ("GET", "/nothing-here", None, 404),
            ("POST", "/cdi/integrations/nobody/sync", None, 404),
            ("GET", "/cdi/integrations/nobody/job_sync_status", None, 404),
            ("POST", "/cdi/integrations/bad%1Bname/sync", None, 400),
            ("GET", "/cdi/integrations?cursor=not-a-cursor", None, 400),
            ("GET", "/cdi/integrations/people/job_sync_status?cursor=%00", None, 400),
            ("POST", "/cdi/integrations/people/sync", b"{not json", 400),
            ("POST", "/cdi/integrations/people/sync", b"[1, 2]", 400),
            ("POST", "/cdi/integrations/people/sync", b'{"full_resync": true}', 400),
            ("POST", "/cdi/integrations/people/sync", b"x" * 1_000_000, 413),
            ("POST", "/cdi/integrations/people/sync", None, 409),  # a draft cannot sync
        ]
        for method, path, body, status in cases:
            response = httpx.request(
                method, serve.url + path, content=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20
            )
            assert response.status_code == status, (method, path, response.status_code, response.text)
            message = response.json()["message"]
            assert message and "Traceback" not in response.text and "\x1b" not in response.text, (path, message)
        assert "draft" in serve.post("/cdi/integrations/people/sync").json()["message"]
        assert serve.get("/cdi/integrations/nobody/job_sync_status").json() == {"message": "Integration not found"}
        assert "Allow" in httpx.delete(serve.url + "/metrics").headers
        assert serve.get("/healthz", token=None).status_code == 200  # still serving
    finally:
        out, err = serve.stop()
    assert "Traceback" not in out + err


# --- systemd and JSON logs ----------------------------------------------------------------------


@pytest.mark.real
def test_a_notify_socket_receives_ready_status_and_watchdog_and_stopping(tmp_path: Path) -> None:
    home = tmp_path / "home"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    receiver.bind(path)
    receiver.settimeout(20)
    environment = {
        **os.environ,
        "CDI_TUI_HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "NOTIFY_SOCKET": path,
        "WATCHDOG_USEC": "400000",  # systemd's WatchdogSec=0.4: a ping every 0.2 s
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cdi_tui", "serve", "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=environment,
    )  # fmt: skip
    messages: list[str] = []
    try:
        while sum(message == "WATCHDOG=1" for message in messages) < 3:
            messages.append(receiver.recv(4096).decode())
        process.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in messages:
            messages.append(receiver.recv(4096).decode())
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        receiver.close()
    assert process.returncode == 0, err
    assert messages.index("READY=1") < messages.index("WATCHDOG=1")
    assert any(message.startswith("STATUS=idle") for message in messages)


@pytest.mark.real
def test_sync_and_run_due_log_one_json_object_a_line(env: SyncEnv) -> None:
    env.create_integration("events-json", data_type="events")
    env.insert("events-json", [{"updated_at": BASE, "external_id": "u1", "payload": {"name": "opened"}}])
    result = run_cdi(["sync", "events-json", "--log-format", "json"], env=unattended_env(env), timeout=120)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert records and all({"time", "level", "integration", "run_id", "event", "counts"} <= set(item) for item in records)
    ended = next(item for item in records if item["event"] == "run_ended")
    started = next(item for item in records if item["event"] == "run_started")
    assert started["integration"] == ended["integration"] == "events-json" and started["run_id"] == ended["run_id"]
    assert ended["counts"]["sent"] == 1 and ended["counts"]["braze_requests"] == 1 and ended["status"] == "success"
    due = run_cdi(["run-due", "--log-format", "json"], env=unattended_env(env), timeout=120)
    assert due.returncode == 0, due.stderr
    assert all(json.loads(line)["level"] for line in due.stderr.splitlines())


@pytest.mark.real
def test_serve_refuses_an_address_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "CDI_TUI_HOME": str(tmp_path / "home"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    result = run_cdi(["serve", "--listen", f"0.0.0.0:{free_port()}"], env={**environment, "CDI_TUI_DEBUG": "0"}, timeout=60)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "not a loopback address" in line and "serve token --new" in line and "TLS" in line
    bad = run_cdi(["serve", "--listen", "example.com:80"], env=environment, timeout=60)
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr


@pytest.mark.real
def test_serve_token_new_prints_it_once_and_keeps_it_in_the_keyring(secret_service: Any, tmp_path: Path) -> None:
    environment = {**os.environ, "CDI_TUI_HOME": str(tmp_path / "home")}
    made = run_cdi(["serve", "token", "--new"], env=environment, timeout=60)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert len(token) >= 40
    import keyring

    from cdi_tui.paths import app_paths
    from cdi_tui.secret_store import home_keyring_service

    assert keyring.get_password(home_keyring_service(app_paths(tmp_path / "home")), "serve:api-token") == token
    shown = run_cdi(["serve", "token"], env=environment, timeout=60)
    assert token not in shown.stdout and "stored" in shown.stdout
    assert not any(token in path.read_text(errors="replace") for path in (tmp_path / "home").rglob("*") if path.is_file())


# --- alerts, through a real webhook receiver --------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every POST it gets."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, alert: str | None = None) -> list[dict[str, Any]]:
        found = [json.loads(post["body"]) for post in self.posts if post["path"] == "/hook"]
        return [item for item in found if alert is None or item.get("alert") == alert]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.mark.real
def test_a_webhook_receiver_gets_one_alert_when_row_errors_start_and_one_when_they_recover(
    env: SyncEnv, receiver: Receiver
) -> None:
    env.create_integration("rows")
    env.ws.update_integration(
        "rows", alert_row_error_percent=10.0, alert_webhooks=(f"{receiver.url}/hook",), alert_webhook_format="json"
    )
    env.ws.set_alert_webhook_secret("rows", "hmac-secret-1")
    env.fill("rows", 5)
    env.insert("rows", [{"updated_at": BASE + timedelta(seconds=10), "payload": {"a": 1}}] * 5)  # 50% fail: no identifier
    assert env.ws.sync("rows", FAST).status == "partial"
    [started] = receiver.alerts("row_errors")
    assert started["event"] == "alert.firing" and started["integration"] == "rows" and "50.0%" in started["detail"]
    post = receiver.posts[0]
    timestamp = post["headers"]["X-CDI-TUI-Timestamp"]
    expected = hmac.new(b"hmac-secret-1", timestamp.encode() + b"." + post["body"], hashlib.sha256).hexdigest()
    assert post["headers"]["X-CDI-TUI-Signature"] == f"sha256={expected}"

    env.fill("rows", 2, start=100)
    env.insert("rows", [{"updated_at": BASE + timedelta(seconds=200), "payload": {"a": 1}}] * 2)  # still 50%
    env.ws.sync("rows", FAST)
    env.ws.check_all_alerts()  # serve's tick looks too: nothing new to say
    assert len(receiver.alerts("row_errors")) == 1

    env.fill("rows", 10, start=300)
    assert env.ws.sync("rows", FAST).status == "success"
    env.ws.check_all_alerts()
    firing, resolved = receiver.alerts("row_errors")
    assert firing == started
    assert resolved["event"] == "alert.resolved" and resolved["firing"] is False
    assert "hmac-secret-1" not in json.dumps(receiver.alerts())


@pytest.mark.real
def test_failed_runs_in_a_row_pause_the_integration_with_an_alert_and_ping_fail(env: SyncEnv, receiver: Receiver) -> None:
    env.create_integration("flaky")
    env.ws.update_integration(
        "flaky", pause_after_failures=2, alert_webhooks=(f"{receiver.url}/hook",), ping_url=f"{receiver.url}/ping/abc"
    )
    env.fill("flaky", 3)
    env.ws.change_password("warehouse", "wrong-password")
    assert env.ws.sync("flaky", FAST).status == "error"
    assert env.ws.integration("flaky").state == "active"
    slack = [json.loads(post["body"]) for post in receiver.posts if post["path"] == "/hook"]
    assert len(slack) == 1 and "ALERT flaky: sync failing" in slack[0]["text"]  # Slack-compatible: {"text": ...}
    assert env.ws.sync("flaky", FAST).status == "error"
    assert env.ws.integration("flaky").state == "paused"
    texts = [json.loads(post["body"])["text"] for post in receiver.posts if post["path"] == "/hook"]
    assert len(texts) == 2 and "integration paused after failures" in texts[1]
    pings = [post["path"] for post in receiver.posts if post["path"].startswith("/ping")]
    assert pings == ["/ping/abc/start", "/ping/abc/fail", "/ping/abc/start", "/ping/abc/fail"]
    env.ws.change_password("warehouse", env.password)
    env.ws.activate("flaky")
    assert env.ws.sync("flaky", replace(FAST)).status == "success"
    texts = [json.loads(post["body"])["text"] for post in receiver.posts if post["path"] == "/hook"]
    assert any(text.startswith(":white_check_mark: cdi-tui RESOLVED flaky: sync failing") for text in texts)
    assert any("RESOLVED flaky: integration paused after failures" in text for text in texts)
    assert [post["path"] for post in receiver.posts if post["path"].startswith("/ping")][-2:] == ["/ping/abc/start", "/ping/abc"]
