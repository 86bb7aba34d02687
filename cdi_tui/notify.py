"""Email notifications to an integration's contact emails, over SMTP (stdlib smtplib).

Always for sync-level errors (cannot connect, bad credentials, permission denied, missing
table, Braze key rejected, Braze unreachable); optionally for row errors above a threshold,
for every success, and for runs that found no new rows. A mail failure never fails a sync:
the outcome is recorded on the run. Messages name the integration, the run, the counts and
the first error reasons, and never carry a secret.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from cdi_tui.config import Integration, SmtpSettings
from cdi_tui.enums import RunStatus
from cdi_tui.errors import CdiError
from cdi_tui.fields import is_loopback_host
from cdi_tui.runlog import RowErrorRecord, RunRecord
from cdi_tui.secret_store import CredentialsService, smtp_password_account

FIRST_REASONS = 5


def reason_to_notify(integration: Integration, record: RunRecord) -> str | None:
    """Why this run warrants an email, or None."""
    if record.dry_run:
        return None
    if record.status in (RunStatus.ERROR, RunStatus.INTERRUPTED):
        return "the sync failed"
    if record.status == RunStatus.LIMIT_EXCEEDED:
        return "the sync stopped at the row limit"
    threshold = integration.notify_row_error_percent
    if threshold is not None and record.rows_failed and record.rows_read:
        share = 100.0 * record.rows_failed / record.rows_read
        if share > threshold:
            return f"{share:.1f}% of the rows failed (alert above {threshold:g}%)"
    if integration.notify_no_rows and record.rows_read == 0 and record.status in (RunStatus.SUCCESS, RunStatus.PARTIAL):
        return "the run found no new rows"
    if integration.notify_success and record.status == RunStatus.SUCCESS:
        return "the sync succeeded"
    return None


def build_message(
    settings: SmtpSettings, integration: Integration, record: RunRecord, reason: str, row_errors: list[RowErrorRecord]
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(integration.contact_emails)
    message["Subject"] = f"[cdi-tui] {integration.name}: run #{record.id} {record.status}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="cdi-tui.local")
    duration = f"{record.duration_seconds:.1f} s" if record.duration_seconds is not None else "-"
    lines = [
        f"Integration: {integration.name} ({integration.data_type} from {integration.table})",
        f"Run: #{record.id} ({record.trigger}), started {record.started_at.isoformat()}, took {duration}",
        f"Why this email: {reason}",
        f"Status: {record.status}",
        f"Rows: read {record.rows_read}, sent {record.rows_sent}, failed {record.rows_failed}, skipped {record.rows_skipped}",
    ]
    if record.error:
        lines.append(f"Error: {record.error}")
    if record.watermark_after:
        lines.append(f"Synced up to UPDATED_AT {record.watermark_after}")
    if row_errors:
        lines.append("")
        lines.append(f"First failed rows (all of them: cdi-tui errors {record.id}):")
        for row in row_errors[:FIRST_REASONS]:
            lines.append(f"  - {row.updated_at or 'NULL'} {row.identifier}: {row.reason}")
    message.set_content("\n".join(lines) + "\n")
    return message


class PlainPasswordRefused(CdiError, smtplib.SMTPException):
    """The SMTP password would cross a network in clear (``security = "none"`` to a host that is not loopback)."""


def plain_password_problem(settings: SmtpSettings) -> tuple[str | None, str | None]:
    """(why these settings are refused, a warning to show) about a password sent without TLS.

    A login without TLS sends the password readable by anyone on the path: refused to any host
    but loopback (where it never leaves the machine), and warned about there.
    """
    if not settings.user or settings.security != "none":
        return None, None
    if not is_loopback_host(settings.host):
        return (
            f"the SMTP password would go to {settings.host} in clear (no TLS); use STARTTLS (the default) or --ssl, "
            "or leave out --user",
            None,
        )
    return None, f"the SMTP password goes to {settings.host} without TLS (allowed only because it is a loopback address)"


def send(settings: SmtpSettings, message: EmailMessage, secrets: CredentialsService, timeout: float = 20.0) -> None:
    """Send one message.

    Raises:
        PlainPasswordRefused: a password would be sent without TLS to a host that is not loopback
            (checked before connecting: a hand-edited config cannot get around it).
        OSError, smtplib.SMTPException: the server could not be reached or refused the mail.
    """
    refused, _ = plain_password_problem(settings)
    if refused:
        raise PlainPasswordRefused(refused)
    password = secrets.get(smtp_password_account()) if settings.user else None
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.security == "ssl":
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with smtp:
        if settings.security == "starttls":
            smtp.starttls(context=context)
        if settings.user:
            if password is None:
                raise smtplib.SMTPAuthenticationError(535, b"no SMTP password is stored (cdi-tui smtp set --user ...)")
            smtp.login(settings.user, password)
        smtp.send_message(message)


def notify_run(
    settings: SmtpSettings | None,
    integration: Integration,
    record: RunRecord,
    row_errors: list[RowErrorRecord],
    secrets: CredentialsService,
) -> str | None:
    """Email the contacts if the run warrants it. Returns what happened (for the run record)."""
    reason = reason_to_notify(integration, record)
    if reason is None:
        return None
    if not integration.contact_emails:
        return f"not emailed ({reason}): the integration has no contact email"
    if settings is None:
        return f"not emailed ({reason}): no SMTP server is set up (cdi-tui smtp set)"
    message = build_message(settings, integration, record, reason, row_errors)
    try:
        send(settings, message, secrets)
    except PlainPasswordRefused as error:
        return f"email refused ({reason}): {error}"
    except (OSError, smtplib.SMTPException) as error:
        detail = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        return f"email failed ({reason}): {detail}"
    return f"emailed {', '.join(integration.contact_emails)} ({reason})"
