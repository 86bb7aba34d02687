"""The SMTP password never crosses a network in clear: ``smtp set`` defaults to STARTTLS, and a
login without TLS is refused to any host but loopback, checked against a real SMTP server
(aiosmtpd on 127.0.0.1) that records every password it is sent."""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from forked_cli import run_cdi
from helpers import FAST, SyncEnv

from cdi_tui.config import SmtpSettings, load_config
from cdi_tui.notify import send
from cdi_tui.secret_store import MemoryCredentials, smtp_password_account
from cdi_tui.workspace import WorkspaceError

MAIL_HOST = "mail.example.test"  # a name, not loopback; the test's resolver points it at the server on 127.0.0.1
SMTP_PASSWORD = "smtp-Pa55-never-in-clear"


class RecordingServer:
    """Accepts any login over plain SMTP and keeps what it was sent."""

    def __init__(self) -> None:
        self.passwords: list[str] = []
        self.messages: list[bytes] = []
        self.connections = 0

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.passwords.append(auth_data.password.decode())
        return AuthResult(success=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses


@pytest.fixture
def plain_smtp() -> Iterator[tuple[RecordingServer, int]]:
    recorder = RecordingServer()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(recorder, hostname="127.0.0.1", port=port, authenticator=recorder, auth_require_tls=False)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


@pytest.fixture
def mail_host_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """``mail.example.test`` resolves to 127.0.0.1 in this process: a mail server across a network,
    played on this machine (no traffic leaves it)."""
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo("127.0.0.1" if host == MAIL_HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def failing_integration(env: SyncEnv, name: str) -> None:
    env.create_integration(name)
    env.ws.change_password("warehouse", "wrong-password")  # the run fails: a sync-level error is always emailed


@pytest.mark.real
def test_a_password_is_never_sent_without_tls_to_a_host_that_is_not_loopback(
    env: SyncEnv, plain_smtp: tuple[RecordingServer, int], mail_host_on_loopback: None
) -> None:
    server, port = plain_smtp
    failing_integration(env, "mailed")
    settings = SmtpSettings(host=MAIL_HOST, port=port, sender="cdi@example.com", security="none", user="mailer")
    # saving such settings is refused, in one line, and nothing is saved
    with pytest.raises(WorkspaceError, match="in clear"):
        env.ws.set_smtp(settings, SMTP_PASSWORD)
    assert env.ws.config().smtp is None and env.secrets.get(smtp_password_account()) is None
    # a hand-edited config with them: the run's email is refused before connecting
    env.secrets.set(smtp_password_account(), SMTP_PASSWORD)
    config_file = env.paths.config_file
    config_file.write_text(
        config_file.read_text()
        + f'\n[smtp]\nhost = "{MAIL_HOST}"\nport = {port}\nsender = "cdi@example.com"\nsecurity = "none"\nuser = "mailer"\n'
    )
    record = env.ws.sync("mailed", FAST)
    assert record.status == "error"
    assert server.passwords == [] and server.connections == 0
    assert record.notification is not None and record.notification.startswith("email refused"), record.notification
    assert "in clear" in record.notification and SMTP_PASSWORD not in record.notification


@pytest.mark.real
def test_loopback_may_take_a_password_without_tls(env: SyncEnv, plain_smtp: tuple[RecordingServer, int]) -> None:
    server, port = plain_smtp
    failing_integration(env, "local")
    env.ws.set_smtp(SmtpSettings(host="127.0.0.1", port=port, sender="cdi@example.com", security="none", user="m"), "pw")
    record = env.ws.sync("local", FAST)
    assert server.passwords == ["pw"] and len(server.messages) == 1
    assert record.notification is not None and record.notification.startswith("emailed")


@pytest.mark.real
def test_smtp_set_defaults_to_starttls_and_refuses_a_clear_password_to_a_remote_host(
    secret_service: Any, tmp_path: Path, plain_smtp: tuple[RecordingServer, int]
) -> None:
    server, port = plain_smtp
    env = {**os.environ, "CDI_TUI_HOME": str(tmp_path / "home")}

    def smtp_set(*flags: str) -> subprocess.CompletedProcess[str]:
        return run_cdi(
            ["smtp", "set", "--from", "cdi@example.com", "--user", "mailer", *flags],
            input=SMTP_PASSWORD + "\n",
            env=env,
            timeout=60,
        )

    saved = smtp_set("--host", "smtp.example.com")
    assert saved.returncode == 0, saved.stderr
    config_text = (tmp_path / "home" / "config.toml").read_text()
    assert 'security = "starttls"' in config_text
    refused = smtp_set("--host", "smtp.example.com", "--no-tls")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "in clear" in refused.stderr and SMTP_PASSWORD not in refused.stderr
    assert (tmp_path / "home" / "config.toml").read_text() == config_text  # nothing changed
    # loopback: allowed, with a warning
    local = smtp_set("--host", "127.0.0.1", "--port", str(port), "--no-tls")
    assert local.returncode == 0 and "warning" in local.stderr and "without TLS" in local.stderr
    # STARTTLS is really asked for: a server without it gets no password
    saved_smtp = load_config(tmp_path / "home" / "config.toml").smtp
    assert saved_smtp is not None
    smtp = replace(saved_smtp, security="starttls")
    secrets = MemoryCredentials()
    secrets.set(smtp_password_account(), SMTP_PASSWORD)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "cdi@example.com", "ops@example.com", "test"
    message.set_content("x")
    with pytest.raises(smtplib.SMTPNotSupportedError):
        send(smtp, message, secrets)
    assert server.passwords == []
