"""Tables of any size: a run reads in chunks no query of which returns more rows than the
credential allows, as a Redshift cluster caps a cursor's result by its size.

The Redshift stand-in plays that cap (its proxy makes PostgreSQL count a cursor's whole
result and refuse one past the cap). Through the real stack: redshift-connector -> the proxy
-> PostgreSQL; httpx -> the Braze stand-in.
"""

from __future__ import annotations

import collections
import os
import signal
import time
from collections.abc import Iterator

import pytest
from helpers import BASE, SyncEnv
from test_cli_commands import Cli, last_json, setup  # noqa: F401  (setup is a fixture)

from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.demo_data import create_table_sql
from cdi_tui.standins.postgres import RedshiftStandIn

pytestmark = pytest.mark.real

CAP = 1_000


@pytest.fixture
def capped(redshift: RedshiftStandIn) -> Iterator[RedshiftStandIn]:
    """The Redshift stand-in refusing a cursor of more than CAP rows (for this test's connections)."""
    redshift.set_cursor_row_cap(CAP)
    try:
        yield redshift
    finally:
        redshift.set_cursor_row_cap(None)
        assert redshift.proxy is not None
        redshift.proxy.release()


def fill_with_shared_times(redshift: RedshiftStandIn, table: str) -> int:
    """6,000 rows: 1,500 at times of their own, then 2,500 sharing one time (more than one query
    may return), then 2,000 in groups of 9 sharing a time. Users user-1 ... user-6000."""
    base = f"timestamptz '{BASE.isoformat()}'"
    redshift.admin_execute(
        f"INSERT INTO {table} (updated_at, external_id, payload) SELECT "
        f"CASE WHEN g <= 1500 THEN {base} + (g || ' seconds')::interval "
        f"     WHEN g <= 4000 THEN {base} + interval '2000 seconds' "
        f"     ELSE {base} + ((3000 + (g - 4001) / 9) || ' seconds')::interval END, "
        f"'user-' || g, '{{\"n\": ' || g || '}}' FROM generate_series(1, 6000) g"
    )
    return 6_000


def test_a_run_reads_in_chunks_the_cluster_accepts_and_delivers_every_row_once(capped: RedshiftStandIn, env: SyncEnv) -> None:
    env.create_integration("big")
    table = env.ws.integration("big").table_name.sql
    rows = fill_with_shared_times(capped, table)
    credential = env.ws.config().credentials["warehouse"]
    from dataclasses import replace

    # one query for the whole range: the cluster refuses it, and the run says what to do
    refused = env.sync("big")
    assert refused.status == "error" and refused.error is not None
    assert "too large" in refused.error and "--max-rows-per-query" in refused.error
    assert env.braze.accepted_count == 0
    env.ws.add_credential(replace(credential, max_rows_per_query=CAP), env.password, replace_existing=True)
    record = env.sync("big")
    assert (record.status, record.rows_read, record.rows_sent) == ("success", rows, rows), record.error
    counts = collections.Counter(env.external_ids())
    assert counts == {f"user-{n}": 1 for n in range(1, rows + 1)}  # every row, none twice
    assert env.sync("big").rows_read == 0  # and the watermark is past them all


def test_a_run_killed_between_chunks_resumes_and_delivers_every_row_exactly_once(
    capped: RedshiftStandIn,
    setup: tuple[Cli, str, str],  # noqa: F811
    braze: BrazeStandIn,
) -> None:
    cli, schema, password = setup
    user = f"{schema}_u"
    capped.admin_execute([create_table_sql(schema, "big", "attributes"), f"GRANT SELECT ON {schema}.big TO {user}"])
    rows = fill_with_shared_times(capped, f"{schema}.big")
    # answers well within a request's share of this limit: requests go one at a time, from the reading thread
    assert cli("braze", "set", "--endpoint", braze.url, "--requests-per-window", "600", "--window-seconds", "3",
               stdin="test-key\n").returncode == 0  # fmt: skip
    added = cli("credentials", "add", "wh", "--host", "127.0.0.1", "--port", str(capped.port), "--database", "postgres",
                "--user", user, "--sslmode", "disable", "--max-rows-per-query", str(CAP), "--replace", stdin=password + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = cli("credentials", "list", "--json")
    assert f'"max_rows_per_query": {CAP}' in listed.stdout
    assert cli("integrations", "add", "big", "--credential", "wh", "--table", f"{schema}.big", "--data-type", "attributes",
               "--contact-email", "ops@example.com").returncode == 0  # fmt: skip
    assert cli("test", "big").returncode == 0 and cli("activate", "big").returncode == 0
    proxy = capped.proxy
    assert proxy is not None
    proxy.hold_at(b"LIMIT 1 OFFSET", occurrence=2)  # where the second chunk is looked for: the first is done
    process = cli.popen("sync", "big", "--json")
    assert proxy.held.wait(60), "the run never reached its second chunk"
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    proxy.release()
    first = collections.Counter(obj["external_id"] for obj in braze.objects("attributes"))
    assert 0 < len(first) < CAP  # the first chunk's full requests went out
    resumed = cli("sync", "big", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert last_json(resumed.stdout)["status"] == "success"
    counts = collections.Counter(obj["external_id"] for obj in braze.objects("attributes"))
    assert counts == {f"user-{n}": 1 for n in range(1, rows + 1)}
