"""``cdi-tui test``, ``activate``, ``pause``, ``sync``, ``runs`` and ``errors``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from cdi_tui.checks import ConnectionTestResult
from cdi_tui.cli.common import (
    CliColumn,
    add_log_format,
    bounded_int,
    fitted_table,
    open_workspace,
    print_json,
    shown,
    use_log_format,
)
from cdi_tui.cli.errors import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, CommandError
from cdi_tui.display import safe_text
from cdi_tui.enums import DataType, IntegrationState, RunStatus, Trigger
from cdi_tui.fields import DATA_TYPE_LABELS
from cdi_tui.warehouse.timestamps import OutOfRangeTime

if TYPE_CHECKING:
    from cdi_tui.workspace import RunRecord, Workspace

PREVIEW_ROWS_MAX = 1000
RUNS_LIMIT_MAX = 10_000
RUN_ID_MAX = 2**63 - 1  # SQLite's largest INTEGER
EXIT_BY_STATUS = {RunStatus.SUCCESS: EXIT_OK, RunStatus.PARTIAL: EXIT_PARTIAL, RunStatus.LIMIT_EXCEEDED: EXIT_PARTIAL}


def register(commands: Any) -> None:
    test = commands.add_parser("test", help="test an integration: connection, table check and a preview of the rows")
    test.add_argument("name")
    test.add_argument(
        "--rows",
        type=bounded_int(1, PREVIEW_ROWS_MAX),
        default=10,
        help=f"preview rows to print, 1 to {PREVIEW_ROWS_MAX} (default 10)",
    )
    test.add_argument("--json", action="store_true", help="print one JSON object")
    test.add_argument(
        "--accept-host-key",
        metavar="SHA256:...",
        help="trust the SSH bastion's host key with this fingerprint (as the failed test showed it) before testing",
    )
    test.set_defaults(handler=test_command)
    for verb, helptext in (("activate", "activate (or resume) a tested integration"), ("pause", "pause an active integration")):
        parser = commands.add_parser(verb, help=helptext)
        parser.add_argument("name")
        parser.set_defaults(handler=state_command, verb=verb)
    sync = commands.add_parser("sync", help="run a sync now ('Sync Now'); does not move scheduled runs")
    sync.add_argument("name")
    sync.add_argument("--full-resync", action="store_true", help="forget the watermark and send every row again")
    sync.add_argument("--dry-run", action="store_true", help="read, validate and count; send nothing")
    sync.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    add_log_format(sync)
    sync.set_defaults(handler=sync_command, estimate=False)
    estimate = commands.add_parser(
        "estimate",
        help="what a sync would spend now: data points and unchanged rows (a dry run: reads and checks, sends nothing)",
    )
    estimate.add_argument("name")
    estimate.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    estimate.set_defaults(handler=sync_command, estimate=True, dry_run=True, full_resync=False)
    runs = commands.add_parser("runs", help="the run history of an integration")
    runs.add_argument("name")
    runs.add_argument(
        "--limit",
        type=bounded_int(1, RUNS_LIMIT_MAX),
        default=20,
        help=f"newest runs to show, 1 to {RUNS_LIMIT_MAX:,} (default 20)",
    )
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=runs_command)
    errors = commands.add_parser("errors", help="the failed rows of a run")
    errors.add_argument("run_id", type=bounded_int(1, RUN_ID_MAX), metavar="RUN_ID", help="a run id, as 'cdi-tui runs' shows")
    errors.add_argument("--csv", type=Path, metavar="PATH", help="export the failed rows to a CSV file")
    errors.add_argument("--search", help="only rows whose identifier contains this text")
    errors.add_argument("--json", action="store_true")
    errors.set_defaults(handler=errors_command)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, OutOfRangeTime):  # infinity, -infinity, ... as the warehouse writes it
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def _accept_host_key(workspace: Workspace, credential_name: str, shown_fingerprint: str, quiet: bool) -> None:
    from cdi_tui.warehouse.errors import WarehouseError

    try:
        credential = workspace.accept_host_key(credential_name, shown_fingerprint)
    except WarehouseError as error:
        raise CommandError(str(error)) from None
    if not quiet:
        print(
            f"Host key {shown_fingerprint} of {credential.ssh_host}:{credential.ssh_port} accepted for credential "
            f"'{credential_name}'"
        )


def _shown_cell(value: Any) -> str:
    return shown(_cell(value))


def test_command(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    integration = workspace.integration(args.name)
    if args.accept_host_key:
        _accept_host_key(workspace, integration.credential, args.accept_host_key, quiet=args.json)
    result: ConnectionTestResult = workspace.test_integration(args.name, preview_rows=max(args.rows, 1))
    if args.json:
        print_json(
            {
                "integration": args.name,
                "ok": result.ok,
                "warnings": result.warnings,
                "error": None if result.error is None else _error_json(result.error),
                "pending_rows": result.pending_rows,
                "catalog": None if result.catalog is None else {"name": result.catalog.name, "fields": result.catalog.fields},
                "columns": list(result.preview.columns) if result.preview else None,
                "preview": [[_cell(value) for value in row] for row in result.preview.rows] if result.preview else None,
            }
        )
        return EXIT_OK if result.ok else EXIT_ERROR
    console = Console()
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {shown(warning)}")
    if not result.ok:
        assert result.error is not None
        console.print(f"[red]Connection test failed[/] ({result.error.kind}): {shown(result.error.message)}")
        if result.error.fix:
            console.print(f"  Fix: {shown(result.error.fix.replace('INTEGRATION', args.name))}")
        if result.preview is not None and result.shape is not None:  # a catalog's fields: the rows say which
            _print_preview(console, workspace, integration, result, args.rows)
        return EXIT_ERROR
    assert result.shape is not None and result.preview is not None
    into = f" into catalog '{integration.catalog_name}'" if result.catalog is not None else ""
    console.print(
        f"[green]Connection test passed[/]: {integration.table} fits {DATA_TYPE_LABELS[integration.data_type]}{into} "
        f"(identifiers: {', '.join(name.upper() for name in result.shape.identifier_columns)}); "
        f"{result.pending_rows} row(s) in the table"
    )
    _print_preview(console, workspace, integration, result, args.rows)
    if integration.state == IntegrationState.DRAFT:
        from cdi_tui.cli.settings_cmd import next_step_after_test

        console.print(shown(next_step_after_test(integration)))
    return EXIT_OK


def _print_preview(console: Console, workspace: Workspace, integration: Any, result: ConnectionTestResult, count: int) -> None:
    """The preview rows with their VALID? verdicts (a catalog's rows checked against its fields)."""
    assert result.preview is not None
    verdicts = workspace.preview_verdicts(
        result, integration.data_type, integration.update_existing_only, integration.prioritization
    )
    # VALID? first, as in the app; long cells are cut to the terminal's width ('--json' has every value)
    columns = [CliColumn("VALID?", shrink=True)] + [
        CliColumn(column.upper(), shrink=column.lower() != "updated_at") for column in result.preview.columns
    ]
    rows = [
        ["[green]yes[/]" if row_verdict.problem is None else f"[red]no[/]: {shown(row_verdict.problem)}"]
        + [_shown_cell(value) for value in row]
        for row, row_verdict in list(zip(result.preview.rows, verdicts, strict=True))[:count]
    ]
    console.print(fitted_table(columns, rows, console.width, title=f"Newest {len(rows)} rows"))


def _error_json(error: Any) -> dict[str, Any]:
    """A failed test's error; a host key error adds the fingerprint to check and accept."""
    from cdi_tui.warehouse.tunnel import HostKeyError

    value: dict[str, Any] = {"kind": error.kind, "message": error.message, "fix": error.fix}
    if isinstance(error, HostKeyError):
        value["host_key_fingerprint"] = error.shown_fingerprint
        value["expected_fingerprints"] = list(error.expected_fingerprints)
    return value


def state_command(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    if args.verb == "activate":
        integration = workspace.activate(args.name)
        print(f"'{integration.name}' is active ({integration.frequency})")
    else:
        integration = workspace.pause(args.name)
        print(f"'{integration.name}' is paused; resume with: cdi-tui activate {integration.name}")
    return EXIT_OK


def _watermark_text(record: RunRecord) -> str | None:
    """The UPDATED_AT a run got to (or started from): ``runs`` and ``sync --json`` show it."""
    from cdi_tui.workspace import to_text

    watermark = record.end_watermark or record.start_watermark
    return to_text(watermark.updated_at) if watermark else None


def sync_command(args: argparse.Namespace) -> int:
    from cdi_tui.workspace import RunInProgress, SyncOptions, SyncRefused, WorkspaceError

    workspace = open_workspace()
    workspace.integration(args.name)
    json_logs = use_log_format(args)
    cancel = threading.Event()
    console = Console(stderr=True)

    def request_cancel(signum: int, _frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        console.print("cancelling: finishing the requests in flight (press Ctrl-C again to stop at once)")

    previous = {sig: signal.signal(sig, request_cancel) for sig in (signal.SIGINT, signal.SIGTERM)}
    options = SyncOptions(
        trigger=Trigger.FULL_RESYNC if args.full_resync else Trigger.MANUAL, full_resync=args.full_resync, dry_run=args.dry_run
    )
    show_bar = sys.stderr.isatty() and not args.json and not json_logs

    def run(on_progress: Callable[[Any], None] | None) -> RunRecord:
        if args.estimate:  # a dry run that may also estimate a tested draft
            return workspace.estimate(args.name, on_progress, cancel)
        return workspace.sync(args.name, options, on_progress, cancel)

    try:
        if show_bar:
            with Progress(
                TextColumn("[bold]{task.fields[phase]:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]:>8.0f} rows/s  failed {task.fields[failed]}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task(args.name, total=None, phase="connecting", rate=0.0, failed=0)

                def on_progress(progress: Any) -> None:
                    bar.update(
                        task,
                        total=progress.total,
                        completed=progress.done,
                        phase=progress.phase,
                        rate=progress.rate,
                        failed=progress.failed,
                    )

                record = run(on_progress)
        else:
            record = run(None)
    except (SyncRefused, RunInProgress, WorkspaceError) as error:
        raise CommandError(str(error)) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    summary = {
        "run_id": record.id,
        "status": record.status,
        "rows_read": record.rows_read,
        "rows_sent": record.rows_sent,
        "rows_failed": record.rows_failed,
        "rows_skipped": record.rows_skipped,
        "watermark": _watermark_text(record),
        "data_points": record.data_points,
        "rows_unchanged": record.rows_unchanged,
        "rows_superseded": record.rows_superseded,
        "items_written": record.items_written,
        "items_deleted": record.items_deleted,
    }
    if not args.json:
        _print_run_report(record, workspace.integration(args.name).data_type)
    else:
        if record.error:
            print(f"cdi-tui: {record.status}: {safe_text(record.error)}", file=sys.stderr)
        print(json.dumps(summary))
    return EXIT_BY_STATUS.get(record.status, EXIT_ERROR)


SEGMENTATION_NOTE = (
    "  event and purchase properties your workspace enabled for segmentation cost extra data points, "
    "not counted here (a workspace setting cdi-tui cannot see)"
)


CATALOG_DATA_POINTS_NOTE = "catalog syncs spend no data points (Braze bills catalogs by their storage)"


def _print_run_report(record: Any, data_type: DataType) -> None:
    console = Console()
    colour = {RunStatus.SUCCESS: "green", RunStatus.PARTIAL: "yellow"}.get(record.status, "red")
    duration = f"{record.duration_seconds:.1f}s" if record.duration_seconds is not None else "-"
    dry = " (dry run: nothing sent)" if record.dry_run else ""
    console.print(
        f"Run #{record.id} of '{record.integration}': [{colour}]{record.status}[/]{dry} in {duration}: "
        f"read {record.rows_read}, sent {record.rows_sent}, failed {record.rows_failed}, skipped {record.rows_skipped}"
        + (f", retried {record.rows_retried}" if record.rows_retried else "")
        + (f", unchanged {record.rows_unchanged}" if record.rows_unchanged else "")
        + (f", superseded {record.rows_superseded}" if record.rows_superseded else "")
    )
    spent = "would spend" if record.dry_run else "spent"
    unchanged = f" ({record.rows_unchanged:,} unchanged row(s) not sent)" if record.rows_unchanged else ""
    if data_type == DataType.CATALOGS:
        if record.dry_run:
            console.print(f"  rows that would be sent: {record.rows_skipped:,}{unchanged}")
        else:
            console.print(f"  items written: {record.items_written:,}, deleted: {record.items_deleted:,}{unchanged}")
        console.print(f"  {CATALOG_DATA_POINTS_NOTE}")
    else:
        console.print(f"  data points {spent}: {record.data_points:,}{unchanged}")
    if record.dry_run and data_type in (DataType.EVENTS, DataType.PURCHASES):
        console.print(SEGMENTATION_NOTE)
    if record.rows_superseded:
        whose = "item" if data_type == DataType.CATALOGS else "user"
        console.print(f"  {record.rows_superseded:,} row(s) not sent: a newer row of the same {whose} made them moot")
    if record.watermark_after:
        console.print(f"  watermark: {record.watermark_after}")
    for warning in record.warnings:
        console.print(f"  [yellow]warning:[/] {shown(warning)}")
    if record.error:
        console.print(f"  [{colour}]{shown(record.error)}[/]")
    if record.rows_failed:
        console.print(f"  failed rows: cdi-tui errors {record.id}")


def runs_command(args: argparse.Namespace) -> int:
    workspace = open_workspace(read_only_ok=True)
    catalogs = workspace.integration(args.name).data_type == DataType.CATALOGS
    records = workspace.runs(args.name, args.limit)
    if args.json:
        print_json([record.as_json() for record in records])
        return EXIT_OK
    if not records:
        print(f"No runs of '{args.name}' yet. Start one with: cdi-tui sync {args.name}")
        return EXIT_OK
    # narrow, the table leaves out Superseded, Skipped, Duration, Last UPDATED_AT, Started and Read, in that order
    columns = [
        CliColumn("RUN", justify="right"),
        CliColumn("TRIGGER", shrink=True),
        CliColumn("STATUS"),
        CliColumn("READ", drop=2, justify="right"),
        CliColumn("SENT", justify="right"),
        CliColumn("FAILED", justify="right"),
        CliColumn("SKIPPED", drop=6, justify="right"),
        CliColumn("UNCHANGED", justify="right"),
        CliColumn("SUPERSEDED", drop=7, justify="right"),
        *(
            [CliColumn("WRITTEN", justify="right"), CliColumn("DELETED", justify="right")]
            if catalogs  # a catalog's items; catalog syncs spend no data points
            else [CliColumn("DATA POINTS", justify="right")]
        ),
        CliColumn("LAST UPDATED_AT", drop=4, shrink=True),
        CliColumn("STARTED", drop=3),
        CliColumn("DURATION", drop=5, justify="right"),
    ]
    rows = [
        [
            str(record.id),
            record.trigger + (" (dry)" if record.dry_run else ""),
            record.status,
            f"{record.rows_read:,}",
            f"{record.rows_sent:,}",
            f"{record.rows_failed:,}",
            f"{record.rows_skipped:,}",
            f"{record.rows_unchanged:,}",
            f"{record.rows_superseded:,}",
            *([f"{record.items_written:,}", f"{record.items_deleted:,}"] if catalogs else [f"{record.data_points:,}"]),
            _watermark_text(record) or "-",
            record.started_at.isoformat(sep=" ", timespec="seconds"),
            f"{record.duration_seconds:.1f}s" if record.duration_seconds is not None else "-",
        ]
        for record in records
    ]
    console = Console()
    console.print(fitted_table(columns, rows, console.width))
    return EXIT_OK


def errors_command(args: argparse.Namespace) -> int:
    from cdi_tui.workspace import ROW_ERROR_COLUMNS, write_row_errors_csv

    workspace = open_workspace(read_only_ok=True)
    record = workspace.run(args.run_id)
    if record is None:
        raise CommandError(f"no run with id {args.run_id}")
    rows = workspace.row_errors(args.run_id, search=args.search)
    if args.csv is not None:
        try:
            write_row_errors_csv(args.csv, rows)
        except OSError as error:
            raise CommandError(f"cannot write {args.csv}: {error.strerror}") from None
        print(f"{len(rows)} failed row(s) of run #{args.run_id} written to {args.csv}")
        return EXIT_OK
    if args.json:
        print_json([{name: getattr(row, name) for name in ROW_ERROR_COLUMNS} for row in rows])
        return EXIT_OK
    if not rows:
        print(f"Run #{args.run_id} has no failed rows")
        return EXIT_OK
    columns = [CliColumn("UPDATED_AT", drop=1), CliColumn("IDENTIFIER", shrink=True), CliColumn("REASON", shrink=True),
               CliColumn("PAYLOAD", shrink=True, drop=2)]  # fmt: skip
    cells = [
        [shown(row.updated_at or "NULL"), shown(row.identifier), shown(row.reason), shown(row.payload_preview or "")]
        for row in rows
    ]
    console = Console()
    title = f"Failed rows of run #{args.run_id} ({record.integration}); each in full: --json or --csv"
    console.print(fitted_table(columns, cells, console.width, title=shown(title)))
    return EXIT_OK
