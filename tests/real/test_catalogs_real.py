"""Catalog syncs through the real stack, as a user runs them: the ``cdi-tui`` command in its own
process, the real keyring, redshift-connector -> the Redshift proxy -> PostgreSQL, httpx -> the
Braze stand-in on a real socket. The stand-in holds each catalog's items by Braze's rules (a bad
item fails its whole request with a 400; requests under way are processed out of order), so the
tests assert what the catalog ends up holding."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest
from test_cli_commands import Cli, last_json, setup  # noqa: F401  (setup is a fixture)

from cdi_tui.standins.braze import BrazeStandIn, FaultPlan
from cdi_tui.standins.demo_data import create_table_sql
from cdi_tui.standins.postgres import RedshiftStandIn, quote_literal

pytestmark = pytest.mark.real

PRODUCT_FIELDS = {"name": "string", "price": "number", "size": "string"}
OVERTAKING = FaultPlan(latency_seconds=0.05, jitter_seconds=0.25, seed=5)


def make_catalog_table(redshift: RedshiftStandIn, schema: str, table: str, rows: list[str] | None = None) -> None:
    redshift.admin_execute(
        [create_table_sql(schema, table, "catalogs"), *(rows or []), f"GRANT SELECT ON {schema}.{table} TO {schema}_u"]
    )


def item(schema: str, table: str, second: int, item_id: str | None, payload: dict[str, Any] | None, deleted: str = "NULL") -> str:
    return (
        f"INSERT INTO {schema}.{table} (updated_at, id, deleted, payload) VALUES "
        f"(timestamptz '2026-03-01 12:00:00+00' + interval '{second} seconds', "
        f"{'NULL' if item_id is None else quote_literal(item_id)}, {deleted}, "
        f"{'NULL' if payload is None else quote_literal(json.dumps(payload))})"
    )


def add_catalog_integration(cli: Cli, schema: str, name: str, *extra: str) -> None:
    result = cli("integrations", "add", name, "--credential", "wh", "--table", f"{schema}.{name}", "--data-type", "catalogs",
                 "--contact-email", "ops@example.com", *extra)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_a_catalog_sync_writes_and_deletes_items_and_isolates_the_bad_ones(
    setup: tuple[Cli, str, str],  # noqa: F811
    redshift: RedshiftStandIn,
    braze: BrazeStandIn,
) -> None:
    cli, schema, _password = setup
    braze.define_catalog("products", PRODUCT_FIELDS)
    rows = [item(schema, "products", n, f"p{n}", {"name": f"Product {n}", "price": n}) for n in range(1, 121) if n not in (7, 9)]
    rows += [
        item(schema, "products", 7, "p7", {"name": "Product 7", "color": "red"}),  # a field the catalog lacks
        item(schema, "products", 9, "p9", {"name": "x" * 6000}),  # a value over 5,000 characters
        item(schema, "products", 11, "bad id", {"name": "spaces"}),  # ids checked before sending
        item(schema, "products", 12, "i" * 251, {"name": "long"}),
        item(schema, "products", 13, None, {"name": "no id"}),
        item(schema, "products", 200, "p3", None, deleted="true"),  # deletes
        item(schema, "products", 201, "p4", {"name": "ignored"}, deleted="true"),
        item(schema, "products", 202, "p5", {"name": "Product 5, renamed", "price": 55}),  # the newest row wins
        item(schema, "products", 203, "gone", None, deleted="true"),  # deleting an item Braze never had
    ]
    make_catalog_table(redshift, schema, "products", rows)
    add_catalog_integration(cli, schema, "products")
    tested = cli("test", "products")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "into catalog 'products'" in tested.stdout
    assert cli("activate", "products").returncode == 0

    result = cli("sync", "products", "--json")
    assert result.returncode == 3, result.stderr  # partial: some rows failed
    summary = last_json(result.stdout)
    assert summary["status"] == "partial" and summary["data_points"] == 0
    assert summary["rows_read"] == 127 and summary["rows_failed"] == 5
    assert summary["items_deleted"] == 3 and summary["items_written"] + summary["items_deleted"] == summary["rows_sent"]

    held = braze.catalog_items("products")
    assert "p3" not in held and "p4" not in held and "p7" not in held and "p9" not in held
    assert held["p5"] == {"id": "p5", "name": "Product 5, renamed", "price": 55}
    assert held["p1"] == {"id": "p1", "name": "Product 1", "price": 1}
    assert len(held) == 120 - 4  # p3, p4 deleted; p7, p9 refused
    assert braze.stats.bad_requests > 0 and braze.stats.item_overlaps == 0

    errors = cli("errors", str(summary["run_id"]), "--json")
    failed = {row["identifier"]: (row["code"], row["reason"]) for row in json.loads(errors.stdout)}
    assert failed["id=p7"][0] == "invalid-fields" and "unknown field: color" in failed["id=p7"][1]
    assert failed["id=p9"][0] == "items-too-large"
    assert failed["id=bad id"][0] == "item_id_invalid"
    assert failed["id=" + "i" * 251][0] == "item_id_too_long"
    assert failed["(none)"][0] == "item_id_missing"

    runs = cli("runs", "products")
    assert "WRITTEN" in runs.stdout and "DELETED" in runs.stdout and "DATA POINTS" not in runs.stdout

    # send only changed items: the same rows stamped anew are not sent again; a changed one is, whole
    sent_before = braze.stats.catalog_requests
    redshift.admin_execute(
        [
            f"UPDATE {schema}.products SET updated_at = updated_at + interval '1 day'",
            f'UPDATE {schema}.products SET payload = \'{{"name": "Product 2", "price": 22}}\' WHERE id = \'p2\'',
        ]
    )
    again = last_json(cli("sync", "products", "--json").stdout)
    # all but p2 and the failed rows (p7 and p9 refused again); p3, p4 and p5 each had an older row, superseded
    assert (again["rows_unchanged"], again["rows_superseded"]) == (127 - 5 - 1 - 3, 3)
    assert (again["items_written"], again["items_deleted"], again["rows_failed"]) == (1, 0, 5)
    assert braze.catalog_items("products")["p2"] == {"id": "p2", "name": "Product 2", "price": 22}
    assert braze.stats.catalog_requests - sent_before < 15


def test_the_connection_test_checks_the_catalog_and_the_fields_of_the_preview_rows(
    setup: tuple[Cli, str, str],  # noqa: F811
    redshift: RedshiftStandIn,
    braze: BrazeStandIn,
) -> None:
    cli, schema, _password = setup
    rows = [
        item(schema, "menu", 1, "soup", {"name": "Soup", "price": 4}),
        item(schema, "menu", 2, "tea", {"name": "Tea", "kcal": 2}),
    ]
    make_catalog_table(redshift, schema, "menu", rows)
    add_catalog_integration(cli, schema, "menu", "--catalog", "dishes")

    missing = cli("test", "menu", "--json")
    assert missing.returncode == 1
    report = json.loads(missing.stdout)
    assert report["error"]["kind"] == "catalog_missing" and "Catalog 'dishes' cannot be found" in report["error"]["message"]

    braze.define_catalog("dishes", {"name": "string", "price": "number"})
    unknown = cli("test", "menu")
    assert unknown.returncode == 1
    assert "Preview rows hold fields catalog 'dishes' does not have: kcal" in unknown.stdout
    assert "unknown field 'kcal'" in unknown.stdout  # the VALID? column of the row that holds it
    assert cli("activate", "menu").returncode == 1  # a failed test activates nothing

    braze.define_catalog("dishes", {"name": "string", "price": "number", "kcal": "number"})
    passed = cli("test", "menu", "--json")
    assert passed.returncode == 0 and json.loads(passed.stdout)["catalog"]["fields"]["kcal"] == "number"
    estimate = cli("estimate", "menu")
    assert "catalog syncs spend no data points" in estimate.stdout


def test_a_catalog_sync_killed_mid_way_resumes_and_every_item_ends_on_its_newest_row(
    setup: tuple[Cli, str, str],  # noqa: F811
    redshift: RedshiftStandIn,
    braze: BrazeStandIn,
) -> None:
    cli, schema, _password = setup
    items, versions = 2_000, 4
    braze.define_catalog("stock", {"version": "number", "state": "string"})
    make_catalog_table(
        redshift,
        schema,
        "stock",
        [
            f"INSERT INTO {schema}.stock (updated_at, id, deleted, payload) "
            f"SELECT timestamptz '2026-03-01 12:00:00+00' + ((v * {items} + i) || ' seconds')::interval, 'item-' || i, "
            f"v = {versions} AND i % 10 = 0, '{{\"version\": ' || v || ', \"state\": \"v' || v || '\"}}' "
            f"FROM generate_series(1, {items}) i, generate_series(1, {versions}) v"
        ],
    )
    add_catalog_integration(cli, schema, "stock")
    assert cli("test", "stock").returncode == 0 and cli("activate", "stock").returncode == 0
    braze.set_faults(OVERTAKING)
    process = cli.popen("sync", "stock", "--json")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and braze.accepted_count < 2_500:
        time.sleep(0.01)
    assert process.poll() is None, "the sync ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    time.sleep(0.6)  # what the killed run had under way is processed (or not) by now
    assert braze.catalog_items("stock") != {}

    resumed = cli("sync", "stock", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert last_json(resumed.stdout)["status"] == "success"
    runs = json.loads(cli("runs", "stock", "--json").stdout)
    assert [run["status"] for run in runs] == ["success", "interrupted"]
    held = braze.catalog_items("stock")
    expected = {
        f"item-{i}": {"id": f"item-{i}", "version": versions, "state": f"v{versions}"} for i in range(1, items + 1) if i % 10
    }
    assert held == expected  # written items on their newest row; every tenth deleted by its newest row
    assert braze.stats.item_overlaps == 0  # never two requests for one item under way
