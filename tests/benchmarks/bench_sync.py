"""Benchmark: sync 1,000,000 attribute rows through the real stack and print the figures.

Run by hand (not by the test suite):

    python tests/benchmarks/bench_sync.py [--rows 1000000] [--small-rows 100000] [--rate-rows 150000]

The stand-ins (PostgreSQL + Redshift proxy, Braze) run in their own processes, and each
measurement runs in a fresh child process, so CPU time and peak RSS are the sync's own.
Printed, from one run:

- end-to-end rows/s of the sync;
- CPU seconds per row of the sync, beside those of a bare redshift-connector
  ``DECLARE``/``FETCH FORWARD`` read of the same rows (the floor this driver allows), and
  those of httpx alone posting as many requests of 75 ready-made objects of the same shape
  (the floor of the HTTP client: no reading, no transform, no accounting);
- peak RSS of the sync for the large and the small table;
- against a Braze stand-in limited to 300 requests per 3 s: the share of the allowed rate
  used and the share of requests refused with 429.
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


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- children -------------------------------------------------------------------------


def child_bare(args: argparse.Namespace) -> dict[str, Any]:
    import redshift_connector

    conn = redshift_connector.connect(
        host="127.0.0.1", port=args.port, database="postgres", user=USER, password=PASSWORD, ssl=False, timeout=600
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


def child_sync(args: argparse.Namespace) -> dict[str, Any]:
    from cdi_tui.config import BrazeSettings, Credential, Integration
    from cdi_tui.engine.sync import SyncOptions
    from cdi_tui.paths import app_paths
    from cdi_tui.secret_store import MemoryCredentials
    from cdi_tui.workspace import Workspace

    home = Path(tempfile.mkdtemp(prefix="cdi-bench-"))
    workspace = Workspace(app_paths(home), MemoryCredentials())
    workspace.set_braze(
        BrazeSettings(endpoint=args.braze_url, requests_per_window=args.rate_limit, window_seconds=args.rate_window), args.api_key
    )
    workspace.add_credential(
        Credential(name="bench", host="127.0.0.1", port=args.port, database="postgres", user=USER, sslmode="disable"), PASSWORD
    )
    workspace.add_integration(
        Integration(
            name="bench",
            credential="bench",
            table=f"{SCHEMA}.{args.table}",
            data_type="attributes",
            contact_emails=("b@example.com",),
        )
    )
    assert workspace.test_integration("bench").ok
    workspace.activate("bench")
    started_cpu, started = cpu_seconds(), time.perf_counter()
    options = SyncOptions(dry_run=args.dry_run)
    if args.concurrency:
        options = SyncOptions(dry_run=args.dry_run, concurrency=args.concurrency)
    record = workspace.sync("bench", options)
    wall = time.perf_counter() - started
    return {
        "rows": record.rows_sent + record.rows_skipped,
        "status": record.status,
        "cpu": cpu_seconds() - started_cpu,
        "wall": wall,
        "rss_mb": peak_rss_mb(),
    }


def run_child(mode: str, **params: Any) -> dict[str, Any]:
    command = [sys.executable, str(HERE), "--child", mode]
    for key, value in params.items():
        if value is True:
            command.append(f"--{key.replace('_', '-')}")
        else:
            command += [f"--{key.replace('_', '-')}", str(value)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600)
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

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(60)


def admin(info: dict[str, Any], statements: list[str]) -> None:
    import redshift_connector

    conn = redshift_connector.connect(
        host="127.0.0.1", port=info["redshift_port"], database="postgres", user="postgres",
        password=info["admin_password"], ssl=False, timeout=3600,
    )  # fmt: skip
    conn.autocommit = True
    cursor = conn.cursor()
    for statement in statements:
        cursor.execute(statement)
    conn.close()


def make_table(info: dict[str, Any], table: str, rows: int) -> None:
    admin(
        info,
        [
            f'CREATE TABLE "{SCHEMA}"."{table}" (updated_at timestamptz, external_id varchar, alias_name varchar, '
            "alias_label varchar, braze_id varchar, payload varchar(65535))",
            f'INSERT INTO "{SCHEMA}"."{table}" SELECT '
            f"timestamptz '2026-01-01 00:00:00+00' + (g || ' milliseconds')::interval, "
            f"'user-' || g, NULL, NULL, NULL, {PAYLOAD_SQL} FROM generate_series(1, {rows}) g",
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
    parser.add_argument("--rate-rows", type=int, default=150_000)
    parser.add_argument("--rounds", type=int, default=3, help="bare read and sync alternate this many times; medians are used")
    parser.add_argument("--child")
    parser.add_argument("--port", type=int)
    parser.add_argument("--table")
    parser.add_argument("--braze-url")
    parser.add_argument("--api-key", default="bench-key")
    parser.add_argument("--rate-limit", type=int, default=3000)
    parser.add_argument("--rate-window", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=0, help="most requests in flight (default: the product's)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    if args.child:
        children = {"bare": child_bare, "httpx": child_httpx, "sync": child_sync}
        result = children[args.child](args)
        print(json.dumps(result))
        return 0

    print(f"cdi-tui sync benchmark: {args.rows:,} attribute rows, {args.rounds} rounds; {os.cpu_count()} cores", flush=True)
    standins = StandIns()
    info = standins.info
    try:
        setup_warehouse(info)
        started = time.perf_counter()
        make_table(info, "big", args.rows)
        make_table(info, "small", args.small_rows)
        print(f"tables filled in {time.perf_counter() - started:.1f}s", flush=True)
        port = info["redshift_port"]
        common = {"port": port, "braze_url": info["braze_url"], "api_key": info["api_key"]}
        bares, httpxs, syncs = [], [], []
        for round_number in range(1, args.rounds + 1):
            bares.append(run_child("bare", port=port, table="big"))
            print(line(f"bare FETCH #{round_number}", bares[-1]), flush=True)
            httpxs.append(run_child("httpx", rows=args.rows, braze_url=info["braze_url"], api_key=info["api_key"]))
            assert httpxs[-1]["refused"] == 0, httpxs[-1]
            print(line(f"httpx alone #{round_number}", httpxs[-1]), flush=True)
            syncs.append(run_child("sync", table="big", **common))
            print(line(f"sync #{round_number}", syncs[-1]), flush=True)
        small = run_child("sync", table="small", **common)
        print(line("sync (small)", small), flush=True)
    finally:
        standins.stop()

    limited = StandIns("--no-redshift", "--rate-limit", "300", "--rate-window", "3")
    warehouse = StandIns()  # a fresh warehouse for the rate test
    try:
        setup_warehouse(warehouse.info)
        make_table(warehouse.info, "rated", args.rate_rows)
        rated = run_child(
            "sync", table="rated", port=warehouse.info["redshift_port"], braze_url=limited.info["braze_url"],
            api_key=limited.info["api_key"], rate_limit=300, rate_window=3,
        )  # fmt: skip
        print(line("sync (300/3s)", rated), flush=True)
        rated_stats = limited.stats()["stats"]
    finally:
        limited.stop()
        warehouse.stop()

    bare_cpu_per_row = statistics.median(result["cpu"] / result["rows"] for result in bares)
    sync_cpu_per_row = statistics.median(result["cpu"] / result["rows"] for result in syncs)
    httpx_cpu_per_row = statistics.median(result["cpu"] / result["rows"] for result in httpxs)
    big = sorted(syncs, key=lambda result: result["wall"])[len(syncs) // 2]
    peak_large = max(result["rss_mb"] for result in syncs)
    allowed_rps = 300 / 3
    achieved_rps = rated_stats["requests"] / rated["wall"]
    refused_share = rated_stats["rate_limited"] / max(rated_stats["requests"], 1)
    figures = {
        "rows": big["rows"],
        "end_to_end_rows_per_second": round(big["rows"] / big["wall"]),
        "sync_cpu_us_per_row": round(sync_cpu_per_row * 1e6, 2),
        "bare_fetch_cpu_us_per_row": round(bare_cpu_per_row * 1e6, 2),
        "cpu_ratio_sync_to_bare": round(sync_cpu_per_row / bare_cpu_per_row, 2),
        "httpx_alone_cpu_us_per_row": round(httpx_cpu_per_row * 1e6, 2),
        "httpx_alone_us_per_request": round(statistics.median(r["cpu"] / r["requests"] for r in httpxs) * 1e6),
        "floor_ratio_bare_plus_httpx_to_bare": round((bare_cpu_per_row + httpx_cpu_per_row) / bare_cpu_per_row, 2),
        "peak_rss_mb_large": round(peak_large),
        "peak_rss_mb_small": round(small["rss_mb"]),
        "rss_large_over_small": round(peak_large / small["rss_mb"], 2),
        "rate_test_rows": rated["rows"],
        "rate_test_requests": rated_stats["requests"],
        "rate_test_share_of_allowed_rate": round(achieved_rps / allowed_rps, 3),
        "rate_test_refused_share": round(refused_share, 4),
    }
    print()
    print(f"end-to-end          {figures['end_to_end_rows_per_second']:>10,} rows/s (median run)")
    print(f"sync CPU per row    {figures['sync_cpu_us_per_row']:>10} us (median of {args.rounds})")
    print(f"bare FETCH per row  {figures['bare_fetch_cpu_us_per_row']:>10} us (median of {args.rounds})")
    print(f"ratio sync / bare   {figures['cpu_ratio_sync_to_bare']:>10}    (target <= 2.5)")
    print(
        f"httpx alone per row {figures['httpx_alone_cpu_us_per_row']:>10} us ({figures['httpx_alone_us_per_request']} us a request "
        f"of 75 objects); bare + httpx alone = {figures['floor_ratio_bare_plus_httpx_to_bare']}x the bare read"
    )
    print(
        f"peak RSS large/small {figures['peak_rss_mb_large']:>5} MB / {figures['peak_rss_mb_small']} MB"
        "  (targets <= 250 MB, within 20%)"
    )
    print(
        f"rate test (300/3s)  {figures['rate_test_share_of_allowed_rate']:>10.1%} of the allowed rate, "
        f"{figures['rate_test_refused_share']:.2%} refused  (targets >= 90%, <= 1%)"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
