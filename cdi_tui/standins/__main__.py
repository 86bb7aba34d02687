"""``python -m cdi_tui.standins``: run the stand-ins in their own process.

Prints one JSON line (ports, the admin password of the throwaway PostgreSQL, the Braze URL
and key) and serves until stdin closes or SIGTERM/SIGINT arrives. Used by the benchmark so
that the stand-ins' CPU is not counted against the sync.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from cdi_tui.standins.braze import BrazeStandIn, FaultPlan
from cdi_tui.standins.postgres import RedshiftStandIn


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m cdi_tui.standins")
    parser.add_argument("--api-key", default="bench-key")
    parser.add_argument("--rate-limit", type=int, default=3000)
    parser.add_argument("--rate-window", type=float, default=3.0)
    parser.add_argument("--no-record", action="store_true", help="count accepted objects without keeping them")
    parser.add_argument("--no-redshift", action="store_true")
    parser.add_argument("--no-braze", action="store_true")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="Braze answers each request this long after it came")
    parser.add_argument(
        "--jitter-ms",
        type=float,
        default=0.0,
        help="and a random further 0 to this many ms, drawn for each request: requests under way overtake each other",
    )
    parser.add_argument(
        "--cursor-row-cap", type=int, default=None, help="Redshift: refuse a cursor whose result holds more rows than this"
    )
    args = parser.parse_args()
    redshift = None if args.no_redshift else RedshiftStandIn().start()
    if redshift is not None and args.cursor_row_cap:
        redshift.set_cursor_row_cap(args.cursor_row_cap)
    braze = None
    if not args.no_braze:
        braze = BrazeStandIn(
            api_keys=(args.api_key,),
            rate_limit=args.rate_limit,
            rate_window_seconds=args.rate_window,
            record_objects=not args.no_record,
            faults=FaultPlan(latency_seconds=args.latency_ms / 1000, jitter_seconds=args.jitter_ms / 1000),
        ).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    info: dict[str, object] = {"api_key": args.api_key}
    if braze is not None:
        info["braze_url"] = braze.url
    if redshift is not None:
        info.update(redshift_port=redshift.port, postgres_port=redshift.postgres_port, admin_password=redshift.admin_password)
    print(json.dumps(info), flush=True)

    def wait_for_stdin_to_close() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_stdin_to_close, daemon=True).start()
    try:
        stop.wait()
    finally:
        if braze is not None:
            braze.stop()
        if redshift is not None:
            redshift.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
