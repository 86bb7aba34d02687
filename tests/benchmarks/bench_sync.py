"""Benchmark: sync 1,000,000 attribute rows through the real stack, as users meet it, and print the figures.

Run by hand (not by the test suite):

    python tests/benchmarks/bench_sync.py [--rows 1000000] [--latencies 0,50,150,300] [--baseline GIT-REV] [--check]

With ``--check`` it exits 1 when a target it states is missed (after printing every figure
and a line per target), so a pipeline can run it and fail on it.

The stand-ins run in processes of their own (the warehouse, and one Braze stand-in per
latency: each answers every request that many milliseconds after it came, under Braze's
default limit of 3,000 requests per 3 s), and each measurement runs in a fresh child
process, so CPU time and peak RSS are the sync's own. Printed, from one run:

- for each latency: rows/s, its share of the 75,000 rows/s the limit allows, CPU per row of
  the sync's process (all its threads), peak RSS, the share of requests refused with 429,
  the most requests the stand-in answered at once, and the stand-in's own CPU a request
  with the ceiling that gives it on one core (so a figure limited by the stand-in shows);
- the floors: a bare redshift-connector ``DECLARE``/``FETCH FORWARD`` read of the same rows,
  and httpx alone posting as many ready-made 75-object requests;
- peak RSS for 1,000,000 and 100,000 rows; two syncs started together (their times); a
  Textual app's 50 ms timer while a sync runs in its worker thread; a Braze allowing only
  300 requests per 3 s (share of that rate used, share refused);
- with ``--baseline REV``: the same syncs by an earlier revision, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve()
USER, PASSWORD, SCHEMA = "bench_user", "bench-password-1", "bench"
PAYLOAD_SQL = (
    "'{\"first_name\": \"User ' || g || '\", \"plan\": \"' || (ARRAY['Free','Pro','Team'])[1 + g % 3] || "
    '\'", "lifetime_value": \' || (g % 1000) || \'.25, "newsletter": \' '
    "|| CASE WHEN g % 2 = 0 THEN 'true' ELSE 'false' END || '}'"
)


@dataclass(frozen=True)
class Target:
    """A target the benchmark states: one figure at most or at least a bound."""

    figure: str  # its key in the printed JSON figures
    what: str  # as the benchmark's report words it
    at_most: float | None = None
    at_least: float | None = None

    def met(self, figures: dict[str, Any]) -> bool:
        value = figures[self.figure]
        if self.at_most is not None and value > self.at_most:
            return False
        return self.at_least is None or value >= self.at_least

    def bound(self) -> str:
        return f"<= {self.at_most:g}" if self.at_most is not None else f">= {self.at_least:g}"


# the targets the report states (README, "Benchmark"), for the full run and for --only-changes
TARGETS = (
    Target("ordered_over_unordered_far", "per-user order: rows/s with it over without, at the far latency", at_least=0.90),
    Target("hidden_worst_over_zero", "latency hidden: the slowest of 50/150/300 ms over 0 ms, rows/s", at_least=0.90),
    Target("default_over_send_all_cpu", "the default's first sync: CPU a row over --send-all's (0 ms)", at_most=1.30),
    Target("send_all_far_over_bare_cpu", "--send-all at the far latency: CPU a row over the bare read's", at_most=2.50),
    Target("rss_huge_over_small", "peak RSS, the huge table over the small one (within 20%)", at_most=1.20),
    Target("rss_mb_large_far", "peak RSS of the large sync, MB", at_most=250),
    Target("rss_mb_small_far", "peak RSS of the small sync, MB", at_most=250),
    Target("rss_large_over_small", "peak RSS, large over small (within 20%)", at_most=1.20),
    Target("pair_slower_over_faster", "two syncs together: slower over faster (within 1.25x)", at_most=1.25),
    Target("app_timer_p95_ms", "the app's 50 ms timer during a sync: p95, ms", at_most=100),
    Target("rate_test_refused_share", "against a Braze allowing 300 requests per 3 s: share refused", at_most=0.01),
    Target("changes_unchanged_speedup", "send only changed attributes: re-stamped re-sync over first sync", at_least=5),
    Target("changes_unchanged_requests", "send only changed attributes: requests of the re-stamped re-sync", at_most=0),
    Target("rss_with_over_without", "peak RSS with the option over without (within 20%)", at_most=1.20),
)
CHANGES_TARGETS = tuple(
    target
    for target in TARGETS
    if target.figure in ("changes_unchanged_speedup", "changes_unchanged_requests", "rss_with_over_without")
)


def report_targets(figures: dict[str, Any], targets: tuple[Target, ...], check: bool) -> int:
    """Print a line per target; with ``check``, 1 when one is missed (else 0)."""
    missed = [target for target in targets if not target.met(figures)]
    print()
    for target in targets:
        verdict = "MISSED" if target in missed else "met"
        print(f"target {verdict:<6} {target.what}: {figures[target.figure]} (target {target.bound()})")
    if check and missed:
        print(f"{len(missed)} of {len(targets)} targets missed", file=sys.stderr)
        return 1
    return 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- children -------------------------------------------------------------------------


def child_bare(args: argparse.Namespace) -> dict[str, Any]:
    import redshift_connector

    conn = redshift_connector.connect(
        host="127.0.0.1",
        port=args.port,
        database="postgres",
        user=USER,
        password=PASSWORD,
        ssl=False,
        timeout=600,
        application_name="cdi-tui bench",
    )
    conn.autocommit = True
    cursor = conn.cursor()
    started_cpu, started = cpu_seconds(), time.perf_counter()
    cursor.execute("BEGIN READ ONLY")
    cursor.execute(
        f"DECLARE c NO SCROLL CURSOR FOR SELECT updated_at, external_id, alias_name, alias_label, braze_id, payload "
        f'FROM "{SCHEMA}"."{args.table}" ORDER BY updated_at'
    )
    rows = 0
    while True:
        cursor.execute("FETCH FORWARD 10000 FROM c")
        batch = cursor.fetchall()
        if not batch:
            break
        rows += len(batch)
    cursor.execute("COMMIT")
    return {"rows": rows, "cpu": cpu_seconds() - started_cpu, "wall": time.perf_counter() - started, "rss_mb": peak_rss_mb()}


def child_httpx(args: argparse.Namespace) -> dict[str, Any]:
    """httpx alone: one POST per 75 objects shaped like the benchmark's rows, bodies made beforehand."""
    import orjson

    from cdi_tui.braze.client import RateLimiter

    def body(start: int) -> bytes:
        objects = [
            {"external_id": f"user-{g}", "first_name": f"User {g}", "plan": ("Free", "Pro", "Team")[g % 3],
             "lifetime_value": g % 1000 + 0.25, "newsletter": g % 2 == 0}
            for g in range(start, start + 75)
        ]  # fmt: skip
        return orjson.dumps({"attributes": objects})

    bodies = [body(1 + 75 * n) for n in range(200)]
    url = httpx.URL(args.braze_url + "/users/track")
    headers = httpx.Headers({"Authorization": f"Bearer {args.api_key}", "Content-Type": "application/json"})
    timeout = {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 30.0}
    requests = -(-args.rows // 75)
    # the same limit as the sync's (the product's limiter, as cheap as a lock and a deque): waiting costs no CPU
    limiter = RateLimiter(args.rate_limit, args.rate_window)
    refused = 0
    with httpx.HTTPTransport() as transport:
        started_cpu, started = cpu_seconds(), time.perf_counter()
        for number in range(requests):
            limiter.acquire()
            request = httpx.Request("POST", url, headers=headers, content=bodies[number % 200], extensions={"timeout": timeout})
            response = transport.handle_request(request)
            response.read()
            response.close()
            refused += response.status_code == 429
        cpu = cpu_seconds() - started_cpu
    return {"rows": args.rows, "requests": requests, "refused": refused, "cpu": cpu, "wall": time.perf_counter() - started,
            "rss_mb": peak_rss_mb()}  # fmt: skip


def make_workspace(args: argparse.Namespace, tables: list[str]) -> Any:
    from cdi_tui.config import BrazeSettings, Credential, Integration
    from cdi_tui.paths import app_paths
    from cdi_tui.secret_store import MemoryCredentials
    from cdi_tui.workspace import Workspace

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="cdi-bench-"))
    if (home / "config.toml").exists():  # a later sync in the same home (secrets were in memory)
        from cdi_tui.secret_store import braze_key_account, credential_account

        secrets = MemoryCredentials()
        secrets.set(braze_key_account(), args.api_key)
        secrets.set(credential_account("bench"), PASSWORD)
        return Workspace(app_paths(home), secrets)
    workspace = Workspace(app_paths(home), MemoryCredentials())
    workspace.set_braze(
        BrazeSettings(endpoint=args.braze_url, requests_per_window=args.rate_limit, window_seconds=args.rate_window), args.api_key
    )
    workspace.add_credential(
        Credential(name="bench", host="127.0.0.1", port=args.port, database="postgres", user=USER, sslmode="disable"), PASSWORD
    )
    for table in tables:
        extra = {"send_changed_only": False} if args.send_all else {}  # (earlier revisions have no such option)
        workspace.add_integration(
            Integration(
                name=table,
                credential="bench",
                table=f"{SCHEMA}.{table}",
                data_type="attributes",
                contact_emails=("b@example.com",),
                **extra,
            )
        )
        assert workspace.test_integration(table).ok
        workspace.activate(table)
    return workspace


def sync_options(args: argparse.Namespace) -> Any:
    from cdi_tui.engine.sync import SyncOptions

    extra: dict[str, Any] = {}
    if args.concurrency:
        extra["concurrency"] = args.concurrency
    if args.unordered:  # (earlier revisions have no such option: they never kept a user's rows in order)
        extra["per_user_order"] = False
    return SyncOptions(dry_run=args.dry_run, **extra)


def child_sync(args: argparse.Namespace) -> dict[str, Any]:
    workspace = make_workspace(args, [args.table])
    started_cpu, started = cpu_seconds(), time.perf_counter()
    record = workspace.sync(args.table, sync_options(args))
    wall = time.perf_counter() - started
    delivered = Path(workspace.paths.data_dir) / "delivered.sqlite3"
    disk = sum(path.stat().st_blocks * 512 for path in delivered.parent.glob("delivered.sqlite3*"))  # what it takes on disk
    return {
        "rows": record.rows_read,
        "sent": record.rows_sent + record.rows_skipped,
        "unchanged": getattr(record, "rows_unchanged", 0),
        "data_points": getattr(record, "data_points", None),
        "delivered_disk_bytes": disk,
        "status": record.status,
        "cpu": cpu_seconds() - started_cpu,
        "wall": wall,
        "rss_mb": peak_rss_mb(),
    }


def child_pair(args: argparse.Namespace) -> dict[str, Any]:
    """Two syncs started together in one process (as the app runs them), sharing one limit."""
    import threading

    tables = args.table.split(",")
    workspace = make_workspace(args, tables)
    walls: dict[str, float] = {}
    records: dict[str, Any] = {}
    started_cpu, started = cpu_seconds(), time.perf_counter()

    def run(table: str) -> None:
        records[table] = workspace.sync(table, sync_options(args))
        walls[table] = time.perf_counter() - started

    threads = [threading.Thread(target=run, args=(table,)) for table in tables]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = sum(record.rows_sent for record in records.values())
    return {"rows": rows, "walls": walls, "status": ",".join(r.status for r in records.values()), "wall": max(walls.values()),
            "cpu": cpu_seconds() - started_cpu, "rss_mb": peak_rss_mb()}  # fmt: skip


def child_app(args: argparse.Namespace) -> dict[str, Any]:
    """A Textual app (headless) with a 50 ms timer, while a sync runs in one of its worker threads."""
    import asyncio

    from textual.app import App

    workspace = make_workspace(args, [args.table])
    gaps: list[float] = []
    outcome: dict[str, Any] = {}

    class Probe(App[None]):
        def on_mount(self) -> None:
            self.last = time.perf_counter()
            self.set_interval(0.05, self.tick)
            self.run_worker(self.sync, thread=True)

        def tick(self) -> None:
            now = time.perf_counter()
            gaps.append(now - self.last)
            self.last = now

        def sync(self) -> None:
            started = time.perf_counter()
            record = workspace.sync(args.table, sync_options(args))
            outcome.update(rows=record.rows_sent, status=record.status, wall=time.perf_counter() - started)
            self.call_from_thread(self.exit)

    async def drive() -> None:
        async with Probe().run_test(headless=True) as pilot:
            while not outcome:
                await pilot.pause(0.2)

    started_cpu = cpu_seconds()
    asyncio.run(drive())
    gaps_ms = sorted(gap * 1000 for gap in gaps)
    return {**outcome, "cpu": cpu_seconds() - started_cpu, "rss_mb": peak_rss_mb(), "timer_ticks": len(gaps_ms),
            "timer_median_ms": statistics.median(gaps_ms), "timer_p95_ms": gaps_ms[int(len(gaps_ms) * 0.95)],
            "timer_worst_ms": gaps_ms[-1]}  # fmt: skip


def run_child(mode: str, code: Path | None = None, **params: Any) -> dict[str, Any]:
    """Run one measurement in a fresh process; ``code``: a checkout whose cdi_tui it imports instead."""
    command = [sys.executable, str(HERE), "--child", mode]
    env = {**os.environ, "PYTHONPATH": str(code)} if code is not None else None
    for key, value in params.items():
        if value is True:
            command.append(f"--{key.replace('_', '-')}")
        else:
            command += [f"--{key.replace('_', '-')}", str(value)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600, env=env)
    if result.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{result.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


# --- the stand-ins -------------------------------------------------------------------------


class StandIns:
    def __init__(self, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cdi_tui.standins", "--no-record", *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.info: dict[str, Any] = json.loads(self.process.stdout.readline())

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.info['braze_url']}/_standin/received", timeout=30).json()
        return data

    def reset(self) -> None:
        httpx.post(f"{self.info['braze_url']}/_standin/reset", timeout=30)

    def cpu(self) -> float:
        """CPU seconds the stand-in's process has used."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(60)


def admin(info: dict[str, Any], statements: list[str]) -> None:
    import redshift_connector

    conn = redshift_connector.connect(
        host="127.0.0.1", port=info["redshift_port"], database="postgres", user="postgres",
        password=info["admin_password"], ssl=False, timeout=3600, application_name="cdi-tui bench",
    )  # fmt: skip
    conn.autocommit = True
    cursor = conn.cursor()
    for statement in statements:
        cursor.execute(statement)
    conn.close()


def make_table(info: dict[str, Any], table: str, rows: int, hot_every: int = 0) -> None:
    """``rows`` attribute rows, one user each; with ``hot_every`` N, every Nth row is one user's ("hot")."""
    user = f"CASE WHEN g % {hot_every} = 0 THEN 'hot' ELSE 'user-' || g END" if hot_every else "'user-' || g"
    admin(
        info,
        [
            f'CREATE TABLE "{SCHEMA}"."{table}" (updated_at timestamptz, external_id varchar, alias_name varchar, '
            "alias_label varchar, braze_id varchar, payload varchar(65535))",
            f'INSERT INTO "{SCHEMA}"."{table}" SELECT '
            f"timestamptz '2026-01-01 00:00:00+00' + (g || ' milliseconds')::interval, "
            f"{user}, NULL, NULL, NULL, {PAYLOAD_SQL} FROM generate_series(1, {rows}) g",
            f'CREATE INDEX ON "{SCHEMA}"."{table}" (updated_at)',
            f'ANALYZE "{SCHEMA}"."{table}"',
            f'GRANT SELECT ON "{SCHEMA}"."{table}" TO {USER}',
        ],
    )


def line(label: str, result: dict[str, Any]) -> str:
    return (
        f"{label:<16}: {result['rows']:>9,} rows  {result['wall']:6.1f}s  cpu {result['cpu']:6.1f}s  "
        f"rss {result['rss_mb']:6.0f} MB  {result.get('status', '')}"
    )


def setup_warehouse(info: dict[str, Any]) -> None:
    admin(
        info,
        [f"CREATE USER {USER} PASSWORD '{PASSWORD}'", f"CREATE SCHEMA {SCHEMA}", f"GRANT USAGE ON SCHEMA {SCHEMA} TO {USER}"],
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large table (and rows' worth for httpx alone)")
    parser.add_argument("--small-rows", type=int, default=100_000)
    parser.add_argument(
        "--huge-rows", type=int, default=10_000_000, help="rows of the one huge sync at the far latency (0: none)"
    )
    parser.add_argument("--pair-rows", type=int, default=300_000, help="rows of each of the two syncs started together")
    parser.add_argument("--rate-rows", type=int, default=150_000, help="rows against a Braze allowing 300 requests per 3 s")
    parser.add_argument("--latencies", default="0,50,150,300", help="Braze stand-in latencies to measure, in ms")
    parser.add_argument(
        "--rounds", type=int, default=3, help="bare read, httpx alone and the 0 ms sync alternate this many times"
    )
    parser.add_argument("--baseline", help="a git revision whose sync is measured beside this one (same tables, same run)")
    parser.add_argument("--baseline-latencies", default="0,150")
    parser.add_argument("--child")
    parser.add_argument("--port", type=int)
    parser.add_argument("--table")
    parser.add_argument("--braze-url")
    parser.add_argument("--api-key", default="bench-key")
    parser.add_argument("--rate-limit", type=int, default=3000)
    parser.add_argument("--rate-window", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=0, help="most requests in flight (default: the product's)")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--home", help="(child) the workspace folder, kept between children")
    parser.add_argument("--send-all", action="store_true", help="(child) the integration sends every attribute")
    parser.add_argument("--unordered", action="store_true", help="(child) without the per-user order guarantee")
    parser.add_argument("--changes-rows", type=int, default=0, help="rows of the send-only-changes test (default: --rows)")
    parser.add_argument(
        "--only-changes", action="store_true", help="measure only 'send only changed attributes' (--changes-rows rows, 0 ms)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a stated target is missed (after the report)")
    parser.add_argument(
        "--issue-table",
        action="store_true",
        help="only the README's table: --send-all and the default first sync at each latency, for this code and --baseline",
    )
    args = parser.parse_args()
    if args.child:
        children = {"bare": child_bare, "httpx": child_httpx, "sync": child_sync, "pair": child_pair, "app": child_app}
        result = children[args.child](args)
        print(json.dumps(result))
        return 0

    if args.only_changes:
        return only_changes(args)
    if args.issue_table:
        return issue_table(args)
    latencies = [int(value) for value in args.latencies.split(",")]
    limit_rows_per_second = args.rate_limit / args.rate_window * 75
    print(f"cdi-tui sync benchmark: {args.rows:,} attribute rows; {os.cpu_count()} cores; Braze limit "
          f"{args.rate_limit} requests per {args.rate_window:g} s = {limit_rows_per_second:,.0f} rows/s", flush=True)  # fmt: skip
    warehouse = StandIns("--no-braze")
    brazes = {latency: StandIns("--no-redshift", "--latency-ms", str(latency)) for latency in latencies}
    info = warehouse.info
    port = info["redshift_port"]
    rows: dict[str, dict[str, Any]] = {}
    try:
        setup_warehouse(info)
        started = time.perf_counter()
        make_table(info, "big", args.rows)
        make_table(info, "small", args.small_rows)
        make_table(info, "pair_a", args.pair_rows)
        make_table(info, "pair_b", args.pair_rows)
        make_table(info, "rated", args.rate_rows)
        make_table(info, "hot", args.rows, hot_every=10)  # one user has a tenth of the rows
        if args.huge_rows:
            make_table(info, "huge", args.huge_rows)
        changes_rows = args.changes_rows or args.rows
        make_table(info, "chg", changes_rows)
        print(f"tables filled in {time.perf_counter() - started:.1f}s", flush=True)

        def measured(label: str, latency: int, mode: str, table: str, code: Path | None = None, **extra: Any) -> dict[str, Any]:
            braze = brazes[latency]
            braze.reset()
            standin_cpu = braze.cpu()
            result = run_child(
                mode, code, table=table, port=port, braze_url=braze.info["braze_url"], api_key=braze.info["api_key"], **extra
            )
            stats = braze.stats()["stats"]
            result["standin_cpu_per_request"] = (braze.cpu() - standin_cpu) / max(stats["requests"], 1)
            result["requests"], result["refused"] = stats["requests"], stats["rate_limited"]
            result["peak_in_flight"] = stats["peak_in_flight"]
            print(line(label, result), flush=True)
            return result

        bares, httpxs, zero = [], [], []
        near = brazes[latencies[0]]
        for round_number in range(1, args.rounds + 1):
            bares.append(run_child("bare", port=port, table="big"))
            print(line(f"bare FETCH #{round_number}", bares[-1]), flush=True)
            httpxs.append(run_child("httpx", rows=args.rows, braze_url=near.info["braze_url"], api_key=near.info["api_key"]))
            assert httpxs[-1]["refused"] == 0, httpxs[-1]
            print(line(f"httpx alone #{round_number}", httpxs[-1]), flush=True)
            zero.append(measured(f"sync {latencies[0]} ms #{round_number}", latencies[0], "sync", "big"))
        rows[f"{latencies[0]} ms"] = sorted(zero, key=lambda result: result["wall"])[len(zero) // 2]
        for latency in latencies[1:]:
            rows[f"{latency} ms"] = measured(f"sync {latency} ms", latency, "sync", "big")
        baseline: dict[str, dict[str, Any]] = {}
        if args.baseline:
            with tempfile.TemporaryDirectory(prefix="cdi-baseline-") as folder:
                checkout = Path(folder) / "code"
                subprocess.run(["git", "-C", str(HERE.parents[2]), "worktree", "add", "--detach", "-q", str(checkout), args.baseline],
                               check=True)  # fmt: skip
                try:
                    for latency in [int(value) for value in args.baseline_latencies.split(",")]:
                        if latency in brazes:
                            label = f"{latency} ms"
                            baseline[label] = measured(f"before {label}", latency, "sync", "big", code=checkout)
                finally:
                    subprocess.run(
                        ["git", "-C", str(HERE.parents[2]), "worktree", "remove", "--force", str(checkout)], check=False
                    )
        far = 150 if 150 in brazes else latencies[-1]
        # what the per-user order costs: the same sync without it, and a table where one user has a tenth of the rows
        unordered = measured(f"sync {far} ms unordered", far, "sync", "big", unordered=True)
        hot = measured(f"sync {far} ms hot user", far, "sync", "hot")
        small = measured(f"sync {far} ms small", far, "sync", "small")
        send_all_far = measured(f"sync {far} ms, all", far, "sync", "big", send_all=True)
        huge = measured(f"sync {far} ms huge", far, "sync", "huge") if args.huge_rows else None
        pair = measured(f"2 syncs {far} ms", far, "pair", "pair_a,pair_b")
        app = measured(f"app + sync {far} ms", far, "app", "pair_a")
        # where the limit binds: a Braze allowing 300 requests per 3 s, at the same latency
        limited = StandIns("--no-redshift", "--latency-ms", str(far), "--rate-limit", "300", "--rate-window", "3")
        try:
            rated = run_child("sync", table="rated", port=port, braze_url=limited.info["braze_url"],
                              api_key=limited.info["api_key"], rate_limit=300, rate_window=3)  # fmt: skip
            rated_stats = limited.stats()["stats"]
        finally:
            limited.stop()
        print(line(f"sync {far} ms 300/3s", rated), flush=True)

        # send only changed attributes: a first sync, the table re-stamped, then 10% changed in one key
        near_ms = latencies[0]
        send_all = measured(f"sync {near_ms} ms, all", near_ms, "sync", "big", send_all=True)
        with tempfile.TemporaryDirectory(prefix="cdi-bench-changes-") as home:
            first = measured("changes: first", near_ms, "sync", "chg", home=home)
            admin(info, [f'UPDATE "{SCHEMA}"."chg" SET updated_at = updated_at + interval \'1 day\''])
            unchanged = measured("changes: re-stamped", near_ms, "sync", "chg", home=home)
            admin(info, [f'UPDATE "{SCHEMA}"."chg" SET updated_at = updated_at + interval \'1 day\', '
                         f"payload = replace(payload, '\"plan\": \"', '\"plan\": \"New ') "
                         f"WHERE substr(external_id, 6)::int % 10 = 0",
                         f'UPDATE "{SCHEMA}"."chg" SET updated_at = updated_at + interval \'1 day\' '
                         f"WHERE substr(external_id, 6)::int % 10 <> 0"])  # fmt: skip
            tenth = measured("changes: 10% changed", near_ms, "sync", "chg", home=home)
    finally:
        warehouse.stop()
        for braze in brazes.values():
            braze.stop()

    bare_cpu = statistics.median(result["cpu"] / result["rows"] for result in bares)
    httpx_cpu = statistics.median(result["cpu"] / result["rows"] for result in httpxs)
    print()
    print(f"{'Braze latency':<14}{'rows/s':>9}{'of limit':>10}{'CPU/row':>10}{'peak RSS':>10}{'429s':>7}"
          f"{'in flight':>11}   stand-in: CPU/request, ceiling on one core")  # fmt: skip
    table = []
    for label, result in rows.items():
        rate = result["rows"] / result["wall"]
        ceiling = 1 / result["standin_cpu_per_request"] if result["standin_cpu_per_request"] else float("inf")
        entry = {
            "latency": label,
            "rows_per_second": round(rate),
            "share_of_limit": round(rate / limit_rows_per_second, 3),
            "cpu_us_per_row": round(result["cpu"] / result["rows"] * 1e6, 2),
            "peak_rss_mb": round(result["rss_mb"]),
            "refused_share": round(result["refused"] / max(result["requests"], 1), 4),
            "peak_in_flight": result["peak_in_flight"],
            "standin_us_per_request": round(result["standin_cpu_per_request"] * 1e6),
            "standin_ceiling_rows_per_second": round(ceiling * 75),
        }
        before = baseline.get(label)
        if before is not None:
            entry["before_rows_per_second"] = round(before["rows"] / before["wall"])
            entry["before_cpu_us_per_row"] = round(before["cpu"] / before["rows"] * 1e6, 2)
        table.append(entry)
        print(f"{label:<14}{entry['rows_per_second']:>9,}{entry['share_of_limit']:>10.1%}{entry['cpu_us_per_row']:>8} us"
              f"{entry['peak_rss_mb']:>7} MB{entry['refused_share']:>7.2%}{entry['peak_in_flight']:>11}   "
              f"{entry['standin_us_per_request']} us, {ceiling:,.0f} requests/s = {ceiling * 75:,.0f} rows/s")  # fmt: skip
        if before is not None:
            print(f"{'  before':<14}{entry['before_rows_per_second']:>9,}"
                  f"{entry['before_rows_per_second'] / limit_rows_per_second:>10.1%}{entry['before_cpu_us_per_row']:>8} us"
                  f"   ({args.baseline}; now {rate / entry['before_rows_per_second']:.2f}x the rows/s)")  # fmt: skip
    big_far = rows.get(f"{far} ms", rows[f"{latencies[-1]} ms"])
    walls = sorted(pair["walls"].values())
    figures = {
        "latencies": table,
        "bare_fetch_cpu_us_per_row": round(bare_cpu * 1e6, 2),
        "httpx_alone_cpu_us_per_row": round(httpx_cpu * 1e6, 2),
        "httpx_alone_us_per_request": round(statistics.median(r["cpu"] / r["requests"] for r in httpxs) * 1e6),
        "rss_mb_large_far": round(big_far["rss_mb"]),
        "rss_mb_small_far": round(small["rss_mb"]),
        "rss_large_over_small": round(big_far["rss_mb"] / small["rss_mb"], 2),
        "pair_walls_s": [round(wall, 1) for wall in walls],
        "pair_slower_over_faster": round(walls[-1] / walls[0], 3),
        "pair_rows_per_second": round(pair["rows"] / pair["wall"]),
        "app_timer_median_ms": round(app["timer_median_ms"], 1),
        "app_timer_p95_ms": round(app["timer_p95_ms"], 1),
        "app_timer_worst_ms": round(app["timer_worst_ms"], 1),
        "app_sync_rows_per_second": round(app["rows"] / app["wall"]),
        "rate_test_share_of_allowed_rate": round(rated_stats["requests"] / rated["wall"] / 100, 3),
        "rate_test_refused_share": round(rated_stats["rate_limited"] / max(rated_stats["requests"], 1), 4),
        "changes_first_rows_per_second": round(first["rows"] / first["wall"]),
        "changes_unchanged_rows_per_second": round(unchanged["rows"] / unchanged["wall"]),
        "changes_unchanged_speedup": round((unchanged["rows"] / unchanged["wall"]) / (first["rows"] / first["wall"]), 2),
        "changes_unchanged_requests": unchanged["requests"],
        "changes_unchanged_rows_unchanged": unchanged["unchanged"],
        "changes_tenth_rows_sent": tenth["sent"],
        "changes_tenth_data_points": tenth["data_points"],
        "changes_tenth_requests": tenth["requests"],
        "changes_disk_bytes_per_user": round(tenth["delivered_disk_bytes"] / changes_rows, 1),
        "changes_bare_read_over_first_sync": round((bares[0]["rows"] / bares[0]["wall"]) / (first["rows"] / first["wall"]), 2),
        "rss_mb_with_option": round(rows[f"{latencies[0]} ms"]["rss_mb"]),
        "rss_mb_without_option": round(send_all["rss_mb"]),
        "rss_with_over_without": round(rows[f"{latencies[0]} ms"]["rss_mb"] / send_all["rss_mb"], 3),
        "rows_per_second_without_option": round(send_all["rows"] / send_all["wall"]),
        "ordered_rows_per_second_far": round(big_far["rows"] / big_far["wall"]),
        "unordered_rows_per_second_far": round(unordered["rows"] / unordered["wall"]),
        "ordered_over_unordered_far": round((big_far["rows"] / big_far["wall"]) / (unordered["rows"] / unordered["wall"]), 3),
        "hot_user_rows_per_second_far": round(hot["rows"] / hot["wall"]),
        "hot_user_status": hot["status"],
        "send_all_far_cpu_us_per_row": round(send_all_far["cpu"] / send_all_far["rows"] * 1e6, 2),
        "send_all_far_rows_per_second": round(send_all_far["rows"] / send_all_far["wall"]),
        "send_all_far_over_bare_cpu": round(send_all_far["cpu"] / send_all_far["rows"] / bare_cpu, 2),
        "default_over_send_all_cpu": round(
            (rows[f"{latencies[0]} ms"]["cpu"] / rows[f"{latencies[0]} ms"]["rows"]) / (send_all["cpu"] / send_all["rows"]), 2
        ),
        "send_all_cpu_us_per_row": round(send_all["cpu"] / send_all["rows"] * 1e6, 2),
    }
    zero_rate = rows[f"{latencies[0]} ms"]["rows"] / rows[f"{latencies[0]} ms"]["wall"]
    hidden = {
        label: (result["rows"] / result["wall"]) / zero_rate for label, result in rows.items() if label != f"{latencies[0]} ms"
    }
    figures["hidden_over_zero"] = {label: round(share, 3) for label, share in hidden.items()}
    figures["hidden_worst_over_zero"] = round(min(hidden.values()), 3) if hidden else 1.0
    if huge is not None:
        figures["huge_rows"] = huge["rows"]
        figures["huge_rows_per_second"] = round(huge["rows"] / huge["wall"])
        figures["huge_cpu_us_per_row"] = round(huge["cpu"] / huge["rows"] * 1e6, 2)
        figures["rss_mb_huge"] = round(huge["rss_mb"])
        figures["rss_huge_over_small"] = round(huge["rss_mb"] / small["rss_mb"], 2)
        figures["huge_delivered_disk_bytes_per_user"] = round(huge["delivered_disk_bytes"] / max(huge["rows"], 1), 1)
        figures["huge_status"] = huge["status"]
    print()
    print(f"per-user order at {far} ms: {figures['ordered_rows_per_second_far']:,} rows/s with it, "
          f"{figures['unordered_rows_per_second_far']:,} without ({figures['ordered_over_unordered_far']:.1%}; target >= 90%); "
          f"one user with a tenth of {args.rows:,} rows: {figures['hot_user_rows_per_second_far']:,} rows/s "
          f"({figures['hot_user_status']})")  # fmt: skip
    print(f"latency hidden: {', '.join(f'{label} {share:.1%}' for label, share in figures['hidden_over_zero'].items())} "
          f"of the 0 ms rows/s (target >= 90% each)")  # fmt: skip
    print(f"CPU a row: default first sync {rows[f'{latencies[0]} ms']['cpu'] / rows[f'{latencies[0]} ms']['rows'] * 1e6:.1f} us, "
          f"--send-all {figures['send_all_cpu_us_per_row']} us = {figures['default_over_send_all_cpu']}x (target <= 1.3x); "
          f"--send-all at {far} ms {figures['send_all_far_cpu_us_per_row']} us ({figures['send_all_far_rows_per_second']:,} rows/s) "
          f"= {figures['send_all_far_over_bare_cpu']}x the bare read (target <= 2.5x)")  # fmt: skip
    if huge is not None:
        print(f"{figures['huge_rows']:,} rows at {far} ms: {figures['huge_rows_per_second']:,} rows/s "
              f"({figures['huge_cpu_us_per_row']} us CPU a row), peak RSS {figures['rss_mb_huge']} MB = "
              f"{figures['rss_huge_over_small']}x the {args.small_rows:,}-row sync's (target within 20%), "
              f"{figures['huge_delivered_disk_bytes_per_user']} bytes on disk per delivered user; {figures['huge_status']}")  # fmt: skip
    print(f"floors: bare FETCH {figures['bare_fetch_cpu_us_per_row']} us/row; httpx alone (blocking, 0 ms) "
          f"{figures['httpx_alone_cpu_us_per_row']} us/row ({figures['httpx_alone_us_per_request']} us a request)")  # fmt: skip
    print(f"peak RSS at {far} ms: {figures['rss_mb_large_far']} MB ({args.rows:,} rows) / {figures['rss_mb_small_far']} MB "
          f"({args.small_rows:,} rows) = {figures['rss_large_over_small']}x  (targets <= 250 MB, within 20%)")  # fmt: skip
    print(f"two {args.pair_rows:,}-row syncs together at {far} ms: {walls[0]:.1f} s and {walls[-1]:.1f} s "
          f"({figures['pair_slower_over_faster']}x; target within 1.25x), {figures['pair_rows_per_second']:,} rows/s together")  # fmt: skip
    print(f"app during a sync at {far} ms: 50 ms timer median {figures['app_timer_median_ms']} ms, "
          f"p95 {figures['app_timer_p95_ms']} ms (target <= 100), worst {figures['app_timer_worst_ms']} ms")  # fmt: skip
    print(f"against a Braze allowing 300 requests per 3 s at {far} ms ({args.rate_rows:,} rows): "
          f"{figures['rate_test_share_of_allowed_rate']:.1%} of the allowed rate, {figures['rate_test_refused_share']:.2%} refused "
          "(target <= 1%)")  # fmt: skip
    print(f"send only changed attributes ({changes_rows:,} rows): first sync {figures['changes_first_rows_per_second']:,} rows/s; "
          f"re-stamped, nothing changed: {figures['changes_unchanged_rows_per_second']:,} rows/s "
          f"({figures['changes_unchanged_speedup']}x; target >= 5x), {figures['changes_unchanged_requests']} requests, "
          f"{figures['changes_unchanged_rows_unchanged']:,} rows unchanged; a bare read is "
          f"{figures['changes_bare_read_over_first_sync']}x the first sync's rows/s (the ceiling of that ratio)")  # fmt: skip
    print(f"  10% changed in one key: {figures['changes_tenth_rows_sent']:,} rows sent, {figures['changes_tenth_data_points']:,} "
          f"data points (one a changed row), {figures['changes_tenth_requests']} requests; "
          f"{figures['changes_disk_bytes_per_user']} bytes on disk per remembered user")  # fmt: skip
    print(f"  peak RSS at {latencies[0]} ms with the option {figures['rss_mb_with_option']} MB, without "
          f"{figures['rss_mb_without_option']} MB (target within 20%); rows/s without it "
          f"{figures['rows_per_second_without_option']:,}")  # fmt: skip
    print(json.dumps(figures))
    return report_targets(figures, TARGETS, args.check)


def changes_runs(info: dict[str, Any], measured: Any, table: str, home: str) -> dict[str, dict[str, Any]]:
    """A first sync with the option, the table re-stamped (nothing changed), then 10% changed in one key."""
    first = measured("changes: first", "sync", table, home=home)
    admin(info, [f'UPDATE "{SCHEMA}"."{table}" SET updated_at = updated_at + interval \'1 day\''])
    unchanged = measured("changes: re-stamped", "sync", table, home=home)
    admin(info, [f'UPDATE "{SCHEMA}"."{table}" SET updated_at = updated_at + interval \'1 day\', '
                 f"payload = replace(payload, '\"plan\": \"', '\"plan\": \"New ') "
                 f"WHERE substr(external_id, 6)::int % 10 = 0",
                 f'UPDATE "{SCHEMA}"."{table}" SET updated_at = updated_at + interval \'1 day\' '
                 f"WHERE substr(external_id, 6)::int % 10 <> 0"])  # fmt: skip
    tenth = measured("changes: 10% changed", "sync", table, home=home)
    return {"first": first, "unchanged": unchanged, "tenth": tenth}


def issue_table(args: argparse.Namespace) -> int:
    """The README's table from one run: rows/s and CPU a row of ``--send-all`` and of the default
    first sync ("send only changed attributes") at each latency, for this code and for
    ``--baseline`` (same tables, same stand-ins, alternating), beside the bare read's CPU a row."""
    latencies = [int(value) for value in args.latencies.split(",")]
    limit = args.rate_limit / args.rate_window * 75
    print(f"cdi-tui benchmark, the README's table: {args.rows:,} attribute rows; {os.cpu_count()} cores", flush=True)
    warehouse = StandIns("--no-braze")
    brazes = {latency: StandIns("--no-redshift", "--latency-ms", str(latency)) for latency in latencies}
    info = warehouse.info
    codes: dict[str, Path | None] = {"this code": None}
    folder = tempfile.mkdtemp(prefix="cdi-baseline-")
    if args.baseline:
        checkout = Path(folder) / "code"
        subprocess.run(["git", "-C", str(HERE.parents[2]), "worktree", "add", "--detach", "-q", str(checkout), args.baseline],
                       check=True)  # fmt: skip
        codes[args.baseline] = checkout
    figures: dict[str, Any] = {"rows": args.rows, "table": []}
    try:
        setup_warehouse(info)
        make_table(info, "big", args.rows)
        bares = [run_child("bare", port=info["redshift_port"], table="big") for _ in range(2)]
        bare_cpu = statistics.median(bare["cpu"] / bare["rows"] for bare in bares) * 1e6
        figures["bare_cpu_us_per_row"] = round(bare_cpu, 2)
        print(f"bare read: {bare_cpu:.1f} us CPU a row", flush=True)
        for latency in latencies:
            braze = brazes[latency]
            for code_name, code in codes.items():
                entry: dict[str, Any] = {"latency_ms": latency, "code": code_name}
                for mode, extra in (("send_all", {"send_all": True}), ("default", {})):
                    braze.reset()
                    result = run_child("sync", code, table="big", port=info["redshift_port"],
                                       braze_url=braze.info["braze_url"], api_key=braze.info["api_key"], **extra)  # fmt: skip
                    entry[f"{mode}_rows_per_second"] = round(result["rows"] / result["wall"])
                    entry[f"{mode}_cpu_us_per_row"] = round(result["cpu"] / result["rows"] * 1e6, 1)
                    print(line(f"{latency} ms {mode} ({code_name})", result), flush=True)
                figures["table"].append(entry)
    finally:
        warehouse.stop()
        for braze in brazes.values():
            braze.stop()
        if args.baseline:
            subprocess.run(["git", "-C", str(HERE.parents[2]), "worktree", "remove", "--force", str(Path(folder) / "code")],
                           check=False)  # fmt: skip
    print()
    print("| Braze latency | code | `--send-all`: rows/s, CPU a row | default (first sync): rows/s, CPU a row | "
          "default over `--send-all`, CPU |")  # fmt: skip
    print("|---|---|---|---|---|")
    zero: dict[str, float] = {}
    for entry in figures["table"]:
        all_rate, default_rate = entry["send_all_rows_per_second"], entry["default_rows_per_second"]
        zero.setdefault(entry["code"], default_rate)
        entry["default_share_of_zero_ms"] = round(default_rate / zero[entry["code"]], 3)
        entry["send_all_cpu_over_bare"] = round(entry["send_all_cpu_us_per_row"] / bare_cpu, 2)
        entry["default_cpu_over_send_all"] = round(entry["default_cpu_us_per_row"] / entry["send_all_cpu_us_per_row"], 2)
        print(f"| {entry['latency_ms']} ms | {entry['code']} | {all_rate:,} ({all_rate / limit:.0%}), "
              f"{entry['send_all_cpu_us_per_row']} us ({entry['send_all_cpu_over_bare']}x bare) | "
              f"{default_rate:,} ({default_rate / limit:.0%}; {entry['default_share_of_zero_ms']:.0%} of 0 ms), "
              f"{entry['default_cpu_us_per_row']} us | {entry['default_cpu_over_send_all']}x |")  # fmt: skip
    print(f"\nbare redshift-connector read of the same table: {bare_cpu:.1f} us CPU a row")
    print(json.dumps(figures))
    return 0


def only_changes(args: argparse.Namespace) -> int:
    """The send-only-changed-attributes figures alone, against a Braze stand-in at 0 ms."""
    rows = args.changes_rows or args.rows
    print(f"cdi-tui benchmark, send only changed attributes: {rows:,} attribute rows; {os.cpu_count()} cores", flush=True)
    warehouse, braze = StandIns("--no-braze"), StandIns("--no-redshift", "--latency-ms", "0")
    info, port = warehouse.info, warehouse.info["redshift_port"]
    try:
        setup_warehouse(info)
        make_table(info, "chg", rows)
        make_table(info, "chg_all", rows)

        def measured(label: str, mode: str, table: str, **extra: Any) -> dict[str, Any]:
            braze.reset()
            result = run_child(
                mode, table=table, port=port, braze_url=braze.info["braze_url"], api_key=braze.info["api_key"], **extra
            )
            stats = braze.stats()["stats"]
            result["requests"] = stats["requests"]
            print(line(label, result), flush=True)
            return result

        bare = run_child("bare", port=port, table="chg")
        print(line("bare FETCH", bare), flush=True)
        send_all = measured("sync, all", "sync", "chg_all", send_all=True)
        with tempfile.TemporaryDirectory(prefix="cdi-bench-changes-") as home:
            runs = changes_runs(info, measured, "chg", home)
    finally:
        warehouse.stop()
        braze.stop()
    first, unchanged, tenth = runs["first"], runs["unchanged"], runs["tenth"]
    speed = {name: result["rows"] / result["wall"] for name, result in (*runs.items(), ("bare", bare), ("all", send_all))}
    figures = {
        "changes_first_rows_per_second": round(speed["first"]),
        "changes_unchanged_rows_per_second": round(speed["unchanged"]),
        "changes_unchanged_speedup": round(speed["unchanged"] / speed["first"], 2),
        "changes_unchanged_requests": unchanged["requests"],
        "changes_unchanged_rows_unchanged": unchanged["unchanged"],
        "changes_unchanged_cpu_us_per_row": round(unchanged["cpu"] / unchanged["rows"] * 1e6, 2),
        "bare_fetch_cpu_us_per_row": round(bare["cpu"] / bare["rows"] * 1e6, 2),
        "changes_tenth_rows_sent": tenth["sent"],
        "changes_tenth_data_points": tenth["data_points"],
        "changes_tenth_requests": tenth["requests"],
        "changes_disk_bytes_per_user": round(tenth["delivered_disk_bytes"] / rows, 1),
        "changes_bare_read_over_first_sync": round(speed["bare"] / speed["first"], 2),
        "rss_mb_with_option": round(first["rss_mb"]),
        "rss_mb_without_option": round(send_all["rss_mb"]),
        "rss_with_over_without": round(first["rss_mb"] / send_all["rss_mb"], 3),
        "rows_per_second_without_option": round(speed["all"]),
    }
    print()
    print(f"first sync {figures['changes_first_rows_per_second']:,} rows/s (without the option "
          f"{figures['rows_per_second_without_option']:,}); re-stamped, nothing changed: "
          f"{figures['changes_unchanged_rows_per_second']:,} rows/s ({figures['changes_unchanged_speedup']}x; target >= 5x), "
          f"{figures['changes_unchanged_requests']} requests, {figures['changes_unchanged_rows_unchanged']:,} rows unchanged, "
          f"{figures['changes_unchanged_cpu_us_per_row']} us CPU a row against {figures['bare_fetch_cpu_us_per_row']} us for "
          f"a bare read ({figures['changes_bare_read_over_first_sync']}x the first sync's rows/s: the ceiling of the ratio)")  # fmt: skip
    print(f"10% changed in one key: {figures['changes_tenth_rows_sent']:,} rows sent, {figures['changes_tenth_data_points']:,} "
          f"data points, {figures['changes_tenth_requests']} requests; {figures['changes_disk_bytes_per_user']} bytes on disk "
          f"per remembered user")  # fmt: skip
    print(f"peak RSS of the first sync with the option {figures['rss_mb_with_option']} MB, without "
          f"{figures['rss_mb_without_option']} MB ({figures['rss_with_over_without']}x; target within 1.2x)")  # fmt: skip
    print(json.dumps(figures))
    return report_targets(figures, CHANGES_TARGETS, args.check)


if __name__ == "__main__":
    raise SystemExit(main())
