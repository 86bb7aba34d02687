"""``cdi-tui next-runs``, ``run-due``, ``serve`` and ``smtp set``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cdi_tui.cli.common import (
    add_change_flags,
    add_log_format,
    bounded_float,
    bounded_int,
    field_type,
    given_values,
    open_workspace,
    read_secret,
    use_log_format,
)
from cdi_tui.cli.errors import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, CommandError, UsageError
from cdi_tui.display import safe_text
from cdi_tui.enums import IntegrationState, RunStatus, Trigger
from cdi_tui.fields import SERVE_FIELDS, SMTP_FIELDS, FieldError, field_by_key, validate_time_zone

if TYPE_CHECKING:
    from cdi_tui.workspace import Workspace

NEXT_RUNS_MAX = 1000
SERVE_INTERVAL_RANGE = (0.1, 3600.0)


def register(commands: Any) -> None:
    runs = commands.add_parser("next-runs", help="print the next run times of a frequency")
    runs.add_argument("spec", metavar="SPEC", help="a frequency, e.g. 'daily at 02:30'")
    runs.add_argument("--time-zone", help="IANA time zone (default: the workspace's, else UTC)")
    runs.add_argument("--after", help="ISO 8601 instant; runs strictly after it (default now)")
    runs.add_argument(
        "--count", type=bounded_int(1, NEXT_RUNS_MAX), default=3, help=f"how many, 1 to {NEXT_RUNS_MAX} (default 3)"
    )
    runs.set_defaults(handler=next_runs_command)

    due = commands.add_parser("run-due", help="run every due active integration once, then exit (for cron or a systemd timer)")
    due.add_argument("--json", action="store_true", help="print one JSON object")
    add_log_format(due)
    due.set_defaults(handler=run_due_command)

    serve = commands.add_parser(
        "serve",
        help="keep running and sync integrations when they are due (SIGTERM/SIGINT stop it); "
        "with --listen: /metrics, /healthz and a trigger API",
    )
    serve.add_argument(
        "--interval",
        type=bounded_float(*SERVE_INTERVAL_RANGE),
        default=20.0,
        help=f"seconds between checks, {SERVE_INTERVAL_RANGE[0]:g} to {SERVE_INTERVAL_RANGE[1]:g} (default 20)",
    )
    serve.add_argument(
        "--listen",
        type=field_type(field_by_key(SERVE_FIELDS, "listen")),
        metavar="HOST:PORT",
        help="serve /metrics, /healthz and the trigger API here (default: [serve] listen in the config, else none); "
        "an address other than loopback needs an API token (cdi-tui serve token --new) and TLS in front",
    )
    add_log_format(serve)
    serve.set_defaults(handler=serve_command)
    serve_commands = serve.add_subparsers(dest="serve_command", metavar="token")
    token = serve_commands.add_parser(
        "token", help="the trigger API's bearer token: --new makes one, prints it once and keeps it in the keyring"
    )
    token_choice = token.add_mutually_exclusive_group()
    token_choice.add_argument("--new", action="store_true", help="make a new token (replacing the old one) and print it once")
    token_choice.add_argument("--remove", action="store_true", help="forget the token (the trigger API then answers 401)")
    token.set_defaults(handler=serve_token_command)

    smtp = commands.add_parser("smtp", help="mail server for notifications").add_subparsers(dest="smtp_command", required=True)
    smtp_set = smtp.add_parser(
        "set",
        help="change the SMTP settings given (the others stay); with --user the password is read from stdin",
        description="The first time, give --host and --from. Security: plain unless --starttls or --ssl.",
    )
    add_change_flags(smtp_set, SMTP_FIELDS, skip=("security",), clear=("user",))
    security = smtp_set.add_mutually_exclusive_group()
    for flag, value, words in (
        ("--starttls", "starttls", "STARTTLS after connecting"),
        ("--ssl", "ssl", "TLS from the start (SMTPS)"),
        ("--no-tls", "none", "no TLS at all; with --user only to a loopback address"),
    ):
        security.add_argument(flag, dest="security", action="store_const", const=value, default=argparse.SUPPRESS, help=words)
    smtp_set.set_defaults(handler=smtp_set_command)


def _zone(name: str | None) -> str:
    if name is None:
        from cdi_tui.config import load_config
        from cdi_tui.paths import app_paths

        try:
            config = load_config(app_paths().config_file)
        except Exception:
            return "UTC"
        return config.time_zone
    try:
        return validate_time_zone(name)
    except FieldError as error:
        raise UsageError(str(error)) from None


def next_runs_command(args: argparse.Namespace) -> int:
    from cdi_tui.schedule import ScheduleError, next_runs

    zone = _zone(args.time_zone)
    if args.after:
        try:
            after = datetime.fromisoformat(args.after.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"--after '{safe_text(args.after)}' is not an ISO 8601 date and time") from None
        if after.tzinfo is None:
            try:
                after = after.replace(tzinfo=ZoneInfo(zone))
            except ZoneInfoNotFoundError:
                raise UsageError(f"unknown time zone '{zone}'") from None
    else:
        after = datetime.now(UTC)
    if not 2 <= after.year <= 9998:
        raise UsageError(f"--after takes a date and time from year 2 to 9998, not {after.isoformat()}")
    try:
        runs = next_runs(args.spec, zone, after, args.count)
    except ScheduleError as error:
        raise UsageError(str(error)) from None
    except OverflowError:  # the next runs would fall past year 9999
        raise UsageError(f"the runs after {after.isoformat()} fall past year 9999") from None
    for moment in runs:
        print(moment.isoformat())
    return EXIT_OK


def _run_due_once(workspace: Workspace, now: datetime, cancel: threading.Event | None = None) -> list[dict[str, Any]]:
    """Claim and run every due integration (one after the other). Returns a report per integration."""
    report: list[dict[str, Any]] = []
    config = workspace.config()
    due_names = {due.integration for due in workspace.due_runs(now)}
    for name, integration in sorted(config.integrations.items()):
        # an active integration running now (a manual sync, the app) is said to be skipped, due or not
        if integration.state == IntegrationState.ACTIVE and name not in due_names and workspace.is_syncing(name):
            report.append({"integration": name, "status": "skipped", "error": _running_text(workspace, name)})
    if cancel is not None and cancel.is_set():
        return report
    for decision in workspace.take_due_runs(now):
        due = decision.due
        entry: dict[str, Any] = {"integration": due.integration, "slot": due.slot.isoformat(), "reason": due.reason}
        if decision.skipped == "busy":
            # a run under way: the slot is not claimed, so it runs at the next check after that run ends
            entry.update(status="skipped", error=_running_text(workspace, due.integration))
        elif decision.skipped == "taken":
            entry.update(status="skipped", error="another scheduler took this slot")
        else:
            _run_claimed(workspace, due.integration, entry, cancel)
        report.append(entry)
        if cancel is not None and cancel.is_set():
            break  # before the next slot is claimed
    return report


def _run_claimed(workspace: Workspace, name: str, entry: dict[str, Any], cancel: threading.Event | None) -> None:
    """Run a claimed scheduled slot; the outcome goes into its report ``entry``."""
    from cdi_tui.workspace import RunInProgress, SyncOptions, SyncRefused

    try:
        record = workspace.sync(name, SyncOptions(trigger=Trigger.SCHEDULED), None, cancel)
    except (RunInProgress, SyncRefused) as error:
        entry.update(status="skipped", error=str(error))
    else:
        entry.update(record.as_json())


def _running_text(workspace: Workspace, name: str) -> str:
    """'another run is in progress (run #7, manual, started 02:10:00 UTC)', as far as the run log knows."""
    newest = workspace.runs(name, 1)  # a dry run (an estimate) under way holds the lock too
    last = newest[0] if newest else None
    if last is None or last.status != RunStatus.RUNNING:
        return "another run is in progress"
    return f"another run is in progress (run #{last.id}, {last.trigger}, started {last.started_at:%Y-%m-%d %H:%M:%S} UTC)"


def _exit_code(report: list[dict[str, Any]]) -> int:
    statuses = {entry["status"] for entry in report}
    if statuses & {RunStatus.ERROR, RunStatus.CANCELLED, RunStatus.INTERRUPTED}:
        return EXIT_ERROR
    if statuses & {RunStatus.PARTIAL, RunStatus.LIMIT_EXCEEDED}:
        return EXIT_PARTIAL
    return EXIT_OK


def run_due_command(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    use_log_format(args)
    report = _run_due_once(workspace, datetime.now(UTC))
    try:
        workspace.check_all_alerts()  # from cron too: "no success in N hours" is noticed here
    except Exception:  # an alert never changes what run-due reports
        import logging

        logging.getLogger("cdi_tui.cli").exception("checking the alerts failed")
    if args.json:
        ran = [entry for entry in report if entry["status"] != "skipped"]
        skipped = [entry for entry in report if entry["status"] == "skipped"]
        print(json.dumps({"ran": ran, "skipped": skipped}))
    else:
        if not report:
            print("Nothing is due.")
        for entry in report:
            counts = ""
            if "run_id" in entry:
                counts = (
                    f": run #{entry['run_id']}, read {entry['rows_read']}, sent {entry['rows_sent']}, "
                    f"failed {entry['rows_failed']}"
                )
            error = f" ({safe_text(entry['error'])})" if entry.get("error") else ""
            print(f"{entry['integration']}: {entry['status']}{counts}{error}")
    return _exit_code(report)


def serve_command(args: argparse.Namespace) -> int:
    import logging

    from cdi_tui.service.http import Listen
    from cdi_tui.workspace import SecretsUnavailable

    workspace = open_workspace()
    json_logs = use_log_format(args)
    config = workspace.config()
    listen_text = args.listen or (config.serve.listen if config.serve is not None else None)
    listen = Listen.parse(listen_text) if listen_text else None
    token: str | None = None
    if listen is not None:
        try:
            token = workspace.serve_token()
        except SecretsUnavailable as error:
            if not listen.loopback:
                raise CommandError(
                    f"{listen} is not a loopback address: the API token is mandatory there (cdi-tui serve token --new; "
                    f"TLS in front), and it cannot be read: {error}"
                ) from None
            print(f"cdi-tui: warning: the API token cannot be read ({error}); the trigger API answers 401", file=sys.stderr)
        if not listen.loopback and token is None:
            raise CommandError(
                f"{listen} is not a loopback address: the API token is mandatory there; run 'cdi-tui serve token --new' "
                "first (and put a TLS-terminating proxy in front: the listener speaks plain HTTP)"
            )
        if not listen.loopback:
            print(
                f"cdi-tui: warning: serving plain HTTP on {listen}: the bearer token crosses the network in clear "
                "unless a TLS-terminating proxy is in front",
                file=sys.stderr,
            )
    workspace.close()
    serve_log = logging.getLogger("cdi_tui.serve")

    def say(message: str, event: str = "serve", level: int = logging.INFO, **extra: Any) -> None:
        if json_logs:
            serve_log.log(level, message, extra={"event": event, **extra})
        else:
            print(safe_text(message), flush=True)

    service = workspace.service(args.interval, listen, token, say)

    def request_stop(signum: int, _frame: Any) -> None:
        if not service.stop.is_set():
            say(f"cdi-tui serve: {signal.Signals(signum).name} received; finishing the runs under way", event="stopping")
        service.stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_stop)
    say(f"cdi-tui serve: checking for due integrations every {args.interval:g} s (pid {os.getpid()})", event="started")
    try:
        service.run()
    except OSError as error:
        raise CommandError(f"cannot listen on {listen}: {error.strerror or error}") from None
    say("cdi-tui serve: stopped", event="stopped")
    return EXIT_OK


def serve_token_command(args: argparse.Namespace) -> int:
    workspace = open_workspace(read_only_ok=not (args.new or args.remove))
    if args.new:
        token = workspace.new_serve_token()
        print("A new API token for the trigger API (shown once; kept in the keyring; restart serve to use it):")
        print(token)
        return EXIT_OK
    if args.remove:
        workspace.remove_serve_token()
        print("The API token was removed; the trigger API answers 401 until a new one is made")
        return EXIT_OK
    stored = workspace.serve_token() is not None
    print(
        "An API token is stored (it is never shown again; --new replaces it)"
        if stored
        else "No API token yet: 'cdi-tui serve token --new' makes one"
    )
    return EXIT_OK


def smtp_set_command(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from cdi_tui.config import SmtpSettings
    from cdi_tui.notify import plain_password_problem

    workspace = open_workspace()
    current = workspace.config().smtp
    given = given_values(args, SMTP_FIELDS)
    if current is None:
        missing = [flag for key, flag in (("host", "--host"), ("sender", "--from")) if key not in given]
        if missing:
            raise UsageError(f"SMTP is not set up yet: give {' and '.join(missing)}")
        settings = SmtpSettings(**{"security": "starttls", **given})
    else:
        settings = replace(current, **given)
    refused, warning = plain_password_problem(settings)
    if refused:
        raise UsageError(refused)
    password = read_secret(f"SMTP password for {settings.user}") if given.get("user") else None
    if warning:
        print(f"cdi-tui: warning: {warning}", file=sys.stderr)
    workspace.set_smtp(settings, password)
    print(
        f"SMTP set: {settings.host}:{settings.port} ({settings.security}), from {settings.sender}"
        + ("; password kept in the keyring" if password else "")
    )
    return EXIT_OK
