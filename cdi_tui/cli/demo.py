"""``cdi-tui demo``: the product on local stand-ins, in a throwaway home."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from cdi_tui.checks import ConnectionTestResult
from cdi_tui.config import Integration
from cdi_tui.enums import RunStatus
from cdi_tui.fields import DATA_TYPE_LABELS

if TYPE_CHECKING:
    from cdi_tui.standins.demo import DemoEnvironment
    from cdi_tui.tui.app import CdiApp
    from cdi_tui.workspace import Workspace


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the product on built-in local stand-ins for Redshift and Braze",
        description="Starts a local PostgreSQL dressed as Redshift and a local Braze stand-in, "
        "creates a demo table for each data type, and tests each demo integration. "
        "Uses a temporary home; your own config and keyring are never touched.",
    )
    from cdi_tui.cli.common import bounded_int

    parser.add_argument(
        "--preview-rows", type=bounded_int(1, 100), default=5, help="rows of preview to print, 1 to 100 (default 5)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--app", dest="app", action="store_true", default=None, help="open the app (the default on a terminal)")
    mode.add_argument("--no-app", dest="app", action="store_false", help="print connection tests, previews and sync reports")
    parser.set_defaults(handler=demo_command)


def _preview_table(integration: Integration, result: ConnectionTestResult, rows: int) -> Table:
    table = Table(title=f"Preview: newest {rows} rows of {integration.table}", title_justify="left")
    assert result.preview is not None
    for column in result.preview.columns:
        table.add_column(column.upper(), overflow="fold", max_width=60 if column == "payload" else 28)
    for row in result.preview.rows[:rows]:
        table.add_row(*("NULL" if value is None else str(value) for value in row))
    return table


def add_bulk_integration(demo: DemoEnvironment, workspace: Workspace, app: CdiApp) -> None:
    """In the background: fill the large table, add its integration (tested, then paused), tell the app."""
    from cdi_tui.tui.messages import ConfigChanged

    try:
        integration = demo.create_bulk_table()
        workspace.add_integration(integration)
        if workspace.test_integration(integration.name).ok:
            workspace.activate(integration.name)
            workspace.pause(integration.name)
    except Exception:
        return  # the demo works without it; the app shows what is there
    app.post_message(ConfigChanged())


def demo_app(console: Console) -> int:
    """The app on the stand-ins, with a tested and active demo integration of each data type.

    One demo table is left free for the user's own integration; a larger, paused attribute
    integration (300,000 rows) is added in the background once its table is filled.
    """
    import threading

    from cdi_tui.cli.app import finished
    from cdi_tui.standins.demo import DemoEnvironment
    from cdi_tui.tui.app import CdiApp

    console.print("[bold]cdi-tui demo[/]: starting local stand-ins (PostgreSQL as Redshift, Braze) ...")
    # Braze answers the stand-in's requests after 0.3 s, as a distant Braze would: long enough to
    # watch a sync's progress panel fill
    with DemoEnvironment(braze_latency_seconds=0.3) as demo:
        workspace = demo.workspace()
        try:
            for name in workspace.config().integrations:
                if workspace.test_integration(name).ok:
                    workspace.activate(name)
            app = CdiApp(workspace, demo=True, check_key=True)  # the header then says the demo key works
            threading.Thread(target=add_bulk_integration, args=(demo, workspace, app), daemon=True).start()
            app.run()
        finally:
            workspace.close()
    console.print("Demo stopped; its temporary home and stand-ins are gone.")
    return finished(app)


def _print_demo_run(console: Console, record: Any) -> None:
    """A run's report; its failed rows are printed here, as the demo's home (and run log) goes at the end."""
    colour = {RunStatus.SUCCESS: "green", RunStatus.PARTIAL: "yellow"}.get(record.status, "red")
    duration = f"{record.duration_seconds:.1f}s" if record.duration_seconds is not None else "-"
    console.print(
        f"Run #{record.id} of '{record.integration}': [{colour}]{record.status}[/] in {duration}: "
        f"read {record.rows_read}, sent {record.rows_sent}, failed {record.rows_failed}, skipped {record.rows_skipped}"
    )
    if record.error:
        console.print(f"  [{colour}]{record.error}[/]")


def _print_failed_rows(console: Console, workspace: Workspace, run_id: int) -> None:
    for row in workspace.row_errors(run_id, limit=10):
        console.print(f"  failed: {row.identifier or '(no identifier)'}: {row.reason}", markup=False, highlight=False)


def demo_command(args: argparse.Namespace) -> int:
    import sys

    open_app = args.app if args.app is not None else (sys.stdin.isatty() and sys.stdout.isatty())
    if open_app:
        return demo_app(Console())
    return demo_report(args)


def demo_report(args: argparse.Namespace) -> int:
    from cdi_tui.standins.demo import DemoEnvironment

    console = Console()
    console.print("[bold]cdi-tui demo[/]: starting local stand-ins (PostgreSQL as Redshift, Braze) ...")
    failures = 0
    runs = []
    with DemoEnvironment() as demo:
        assert demo.redshift is not None and demo.braze is not None
        console.print(f"  Redshift stand-in: 127.0.0.1:{demo.redshift.port}  (demo home {demo.home})")
        console.print(f"  Braze stand-in:    {demo.braze.url}")
        workspace = demo.workspace()
        try:
            for integration in workspace.config().integrations.values():
                label = DATA_TYPE_LABELS[integration.data_type]
                console.rule(f"{integration.name}  ({label})")
                result = workspace.test_integration(integration.name)
                for warning in result.warnings:
                    console.print(f"[yellow]warning:[/] {warning}")
                if not result.ok:
                    failures += 1
                    assert result.error is not None
                    console.print(f"[red]Connection test failed:[/] {result.error}")
                    continue
                assert result.shape is not None
                identifiers = ", ".join(name.upper() for name in result.shape.identifier_columns)
                console.print(
                    f"[green]Connection test passed[/]: table {integration.table}, "
                    f"identifier columns {identifiers}, {result.pending_rows} rows to sync"
                )
                console.print(_preview_table(integration, result, args.preview_rows))
                workspace.activate(integration.name)
                record = workspace.sync(integration.name)
                _print_demo_run(console, record)
                _print_failed_rows(console, workspace, record.id)
                runs.append(record)
                if record.status not in (RunStatus.SUCCESS, RunStatus.PARTIAL):
                    failures += 1
            console.rule("Braze stand-in received")
            for array in ("attributes", "events", "purchases", "deletes"):
                console.print(f"  {array:<11} {len(demo.braze.objects(array)):>6} objects")
            for catalog in demo.braze.catalogs.catalogs.values():
                console.print(f"  catalog {catalog.name}: {len(catalog.items):,} items held")
        finally:
            workspace.close()
    summary = [{"integration": r.integration, "status": r.status, "sent": r.rows_sent, "failed": r.rows_failed} for r in runs]
    print(json.dumps({"connection_tests_failed": failures, "runs": summary}), flush=True)
    return 0 if failures == 0 else 1
