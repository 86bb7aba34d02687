"""Sending alerts and dead-man's-switch pings: email, webhooks, healthchecks-style ping URLs.

- **Email**: to the integration's contact emails through the SMTP server (as the run emails);
  every rule but ``failing``, whose runs are emailed already (:mod:`cdi_tui.notify`).
- **Webhooks** (``alert_webhooks``): a POST per transition. ``slack`` (the default) sends
  Slack-compatible JSON (``{"text": ...}``, which Slack, Mattermost and Rocket.Chat incoming
  webhooks take); ``json`` sends a generic object, signed with HMAC-SHA256 when the
  integration has a secret in the keyring: header ``X-CDI-TUI-Signature: sha256=<hex>`` over
  ``<X-CDI-TUI-Timestamp>.<body>`` (the timestamp keeps an old message from being replayed).
- **Pings** (``ping_url``, healthchecks.io's protocol): ``URL/start`` when a run starts, ``URL``
  when it succeeds (partial included), ``URL/fail`` when it fails. The checking service alerts
  when the success ping does not come in time: that catches the run that never happened.

Nothing here fails a sync: each send has a short timeout, and what went wrong is logged (the
URL shown without its path, which often holds the webhook's token).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit, urlunsplit

import httpx

from cdi_tui import __version__
from cdi_tui.alerts import AlertRule, Transition
from cdi_tui.config import Integration, SmtpSettings
from cdi_tui.secret_store import CredentialsService, alert_secret_account
from cdi_tui.tls import tls_context

log = logging.getLogger("cdi_tui.alerts")

TIMEOUT_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 5.0
SIGNATURE_HEADER = "X-CDI-TUI-Signature"
TIMESTAMP_HEADER = "X-CDI-TUI-Timestamp"


def shown_url(url: str) -> str:
    """A URL for logs and messages: scheme and host only (a webhook's path is its secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "") + "/..."


def webhook_body(integration: Integration, transition: Transition) -> dict[str, object]:
    """The JSON a webhook receives for one transition, in the integration's format."""
    if (integration.alert_webhook_format or "slack") == "slack":
        mark = ":rotating_light:" if transition.firing else ":white_check_mark:"
        return {"text": f"{mark} cdi-tui {transition.headline}\n{transition.detail}"}
    return {
        "event": "alert.firing" if transition.firing else "alert.resolved",
        "integration": transition.integration,
        "alert": str(transition.rule),
        "title": transition.title,
        "firing": transition.firing,
        "detail": transition.detail,
        "at": transition.at.isoformat(),
        "source": f"cdi-tui/{__version__}",
    }


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` over ``<timestamp>.<body>``."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def post_webhook(url: str, body: dict[str, object], secret: str | None, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """POST one alert; returns what went wrong, or None."""
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": f"cdi-tui/{__version__}"}
    if secret:
        timestamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, content)
    try:
        response = httpx.post(
            url, content=content, headers=headers, timeout=timeout, follow_redirects=False, verify=tls_context()
        )
    except httpx.HTTPError as error:
        return f"{shown_url(url)}: {type(error).__name__}"
    if not 200 <= response.status_code < 300:
        return f"{shown_url(url)}: answered {response.status_code}"
    return None


def ping_url(base: str, kind: str) -> str:
    """healthchecks.io's URLs: ``start`` and ``fail`` add a path segment; ``success`` is the URL itself."""
    if kind == "success":
        return base
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/" + kind, parts.query, ""))


def ping(base: str, kind: str, message: str, timeout: float = PING_TIMEOUT_SECONDS) -> str | None:
    """Send a ping (``start``, ``success`` or ``fail``) with a short text body; returns what went wrong, or None."""
    try:
        response = httpx.post(
            ping_url(base, kind),
            content=message.encode("utf-8")[:10_000],
            headers={"Content-Type": "text/plain; charset=utf-8", "User-Agent": f"cdi-tui/{__version__}"},
            timeout=timeout,
            follow_redirects=False,
            verify=tls_context(),
        )
    except httpx.HTTPError as error:
        return f"{shown_url(base)}: {type(error).__name__}"
    if not 200 <= response.status_code < 300:
        return f"{shown_url(base)}: answered {response.status_code}"
    return None


def alert_email(settings: SmtpSettings, integration: Integration, transition: Transition) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(integration.contact_emails)
    message["Subject"] = f"[cdi-tui] {transition.headline}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="cdi-tui.local")
    state = "started" if transition.firing else "recovered"
    lines = [
        f"Integration: {integration.name} ({integration.data_type} from {integration.table})",
        f"Alert: {transition.title} ({transition.rule}), {state} at {transition.at.isoformat()}",
        f"What: {transition.detail}",
        "",
        f"Runs: cdi-tui runs {integration.name}",
    ]
    message.set_content("\n".join(lines) + "\n")
    return message


def deliver(
    integration: Integration, transitions: list[Transition], smtp: SmtpSettings | None, secrets: CredentialsService
) -> list[str]:
    """Send each transition to the integration's webhooks and (but ``failing``) contact emails.

    Returns:
        One line per failed send (also logged); empty when everything went out.
    """
    from cdi_tui.notify import PlainPasswordRefused, send

    problems: list[str] = []
    if not transitions:
        return problems
    secret = None
    if integration.alert_webhooks and integration.alert_webhook_format == "json":
        try:
            secret = secrets.get(alert_secret_account(integration.name))
        except Exception as error:  # an unusable keyring: send unsigned rather than not at all, and say so
            problems.append(f"the webhook secret could not be read ({type(error).__name__}); alerts sent unsigned")
    for transition in transitions:
        log.warning(
            "%s: %s",
            transition.headline,
            transition.detail,
            extra={
                "integration": integration.name,
                "event": "alert_firing" if transition.firing else "alert_resolved",
                "alert": str(transition.rule),
            },
        )
        for url in integration.alert_webhooks:
            problem = post_webhook(url, webhook_body(integration, transition), secret)
            if problem:
                problems.append(f"webhook {problem}")
        if transition.rule == AlertRule.FAILING or smtp is None or not integration.contact_emails:
            continue
        try:
            send(smtp, alert_email(smtp, integration, transition), secrets)
        except (PlainPasswordRefused, OSError, smtplib.SMTPException) as error:
            problems.append(f"alert email: {type(error).__name__}")
    for problem in problems:
        log.error("alert for %s not delivered: %s", integration.name, problem, extra={"integration": integration.name})
    return problems
