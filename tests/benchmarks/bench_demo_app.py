"""The demo's large sync (300,000 attribute rows) in the app and as the command line runs it, on
the same stand-ins: prints rows/s of each and the app's progress second by second.

python tests/benchmarks/bench_demo_app.py [--latency 0.3]   (by hand; not part of the test suite)

The app runs headless (``App.run_test``) with the demo's workspace, as ``cdi-tui demo`` opens it;
the command line's number is ``Workspace.sync``, what ``cdi-tui sync`` calls. Each in a fresh
demo environment (its own PostgreSQL, Redshift proxy and Braze stand-in, in this process as in
the demo).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from cdi_tui.enums import Trigger
from cdi_tui.standins.demo import BULK_INTEGRATION, DemoEnvironment
from cdi_tui.workspace import RunRecord, SyncOptions, Workspace


def prepared(demo: DemoEnvironment) -> Workspace:
    workspace = Workspace(demo.paths, demo.secrets)
    workspace.add_integration(demo.create_bulk_table())
    assert workspace.test_integration(BULK_INTEGRATION).ok
    workspace.activate(BULK_INTEGRATION)
    return workspace


def command_line(latency: float) -> RunRecord:
    with DemoEnvironment(braze_latency_seconds=latency) as demo:
        workspace = prepared(demo)
        try:
            return workspace.sync(BULK_INTEGRATION, SyncOptions(trigger=Trigger.MANUAL))
        finally:
            workspace.close()


def app(latency: float) -> tuple[RunRecord, list[tuple[int, int, str]]]:
    from cdi_tui.tui.app import CdiApp
    from cdi_tui.tui.widgets.progress_panel import ProgressPanels

    seconds: list[tuple[int, int, str]] = []
    with DemoEnvironment(braze_latency_seconds=latency) as demo:
        workspace = prepared(demo)

        async def run() -> None:
            cdi = CdiApp(workspace, run_schedules=False, demo=True)
            async with cdi.run_test(size=(140, 45)) as pilot:
                await pilot.pause(0.5)
                cdi.runner.start(BULK_INTEGRATION)
                started = time.monotonic()
                while cdi.runner.is_running(BULK_INTEGRATION):
                    await pilot.pause(1.0)
                    progress = cdi.progress.get(BULK_INTEGRATION)
                    labels = cdi.screen.query_one(ProgressPanels).query(".eta")
                    eta = str(labels.first().render()) if labels else ""
                    if progress is not None:
                        seconds.append((round(time.monotonic() - started), progress.done, eta))

        try:
            asyncio.run(run())
            [record] = workspace.runs(BULK_INTEGRATION, 1)
        finally:
            workspace.close()
    return record, seconds


def rate(record: RunRecord) -> float:
    return record.rows_read / (record.duration_seconds or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.3, help="the Braze stand-in's latency in seconds (the demo's: 0.3)")
    args = parser.parse_args()
    cli_record = command_line(args.latency)
    app_record, seconds = app(args.latency)
    print(f"Braze latency {args.latency:g} s, {cli_record.rows_read:,} rows")
    print(f"command line: {rate(cli_record):,.0f} rows/s ({cli_record.duration_seconds:.1f} s)")
    print(
        f"app:          {rate(app_record):,.0f} rows/s ({app_record.duration_seconds:.1f} s), {rate(app_record) / rate(cli_record):.0%}"
    )
    for second, done, eta in seconds:
        print(f"  {second:>3} s  {done:>9,} rows  {eta}")


if __name__ == "__main__":
    main()
