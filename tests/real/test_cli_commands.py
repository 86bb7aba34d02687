"""The headless commands as a user runs them: real processes, the real keyring (Secret
Service), the Redshift and Braze stand-ins. Contracts: flags, JSON keys, exit codes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from forked_cli import run_cdi

from cdi_tui.runlog import RunLog
from cdi_tui.standins.braze import BrazeStandIn, FaultPlan
from cdi_tui.standins.demo_data import create_table_sql
from cdi_tui.standins.postgres import RedshiftStandIn, quote_ident
from cdi_tui.standins.secret_service import SecretService

pytestmark = pytest.mark.real


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "CDI_TUI_HOME": str(home), "COLUMNS": "200"}

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cdi(args, input=stdin, env=self.env, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "cdi_tui", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env
        )


@pytest.fixture
def setup(
    redshift: RedshiftStandIn, braze: BrazeStandIn, secret_service: SecretService, tmp_path: Path, unique_name: str
) -> Iterator[tuple[Cli, str, str]]:
    """A Redshift user and schema, and a CLI with Braze and a credential configured."""
    schema, user, password = unique_name, f"{unique_name}_u", f"Pw-{unique_name}-secret"
    redshift.create_user(user, password)
    redshift.admin_execute([f"CREATE SCHEMA {schema}", f"GRANT USAGE ON SCHEMA {schema} TO {quote_ident(user)}"])
    cli = Cli(tmp_path / "home")
    result = cli("braze", "set", "--endpoint", braze.url, "--time-zone", "Europe/Berlin", stdin="test-key\n")
    assert result.returncode == 0, result.stderr
    result = cli(
        "credentials", "add", "wh", "--host", "127.0.0.1", "--port", str(redshift.port), "--database", "postgres",
        "--user", user, "--sslmode", "disable", stdin=password + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    yield cli, schema, password
    redshift.admin_execute(f"DROP SCHEMA {schema} CASCADE")


def make_table(
    redshift: RedshiftStandIn, schema: str, table: str, data_type: str, user_of: str, rows: int, extra: str = ""
) -> None:
    redshift.admin_execute(
        [
            create_table_sql(schema, table, data_type),
            f"INSERT INTO {schema}.{table} (updated_at, external_id, payload) "
            f"SELECT timestamptz '2026-03-01 12:00:00+00' + (g || ' seconds')::interval, 'user-' || g, "
            f"'{{\"n\": ' || g || '}}' FROM generate_series(1, {rows}) g",
            *([extra] if extra else []),
            f"GRANT SELECT ON {schema}.{table} TO {quote_ident(user_of)}",
        ]
    )


def last_json(stdout: str) -> dict[str, object]:
    value: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return value


def test_the_whole_headless_flow_with_its_contracts(
    setup: tuple[Cli, str, str], redshift: RedshiftStandIn, braze: BrazeStandIn
) -> None:
    cli, schema, password = setup
    user = f"{schema}_u"
    make_table(
        redshift, schema, "people", "attributes", user, 200,
        extra=f"INSERT INTO {schema}.people (updated_at, payload) VALUES ('2026-03-01 13:00:00+00', '{{\"a\": 1}}')",
    )  # fmt: skip

    credentials = json.loads(cli("credentials", "list", "--json").stdout)
    assert credentials == [
        {
            "name": "wh",
            "host": "127.0.0.1",
            "port": redshift.port,
            "database": "postgres",
            "user": user,
            "sslmode": "disable",
            "max_rows_per_query": 1_000_000,  # the default: a run reads in chunks no larger
            "integrations": [],
        }
    ]
    added = cli(
        "integrations", "add", "people", "--credential", "wh", "--table", f"{schema}.PEOPLE", "--data-type", "attributes",
        "--frequency", "every 15 minutes", "--contact-email", "crm@example.com", "--contact-email", "data@example.com",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    [listed] = json.loads(cli("integrations", "list", "--json").stdout)
    assert listed["state"] == "draft" and listed["tested"] is False
    assert listed["contact_emails"] == ["crm@example.com", "data@example.com"]
    assert listed["data_type"] == "attributes" and listed["frequency"] == "every 15 minutes"

    # a draft can neither activate nor sync
    refused = cli("activate", "people")
    assert refused.returncode == 1 and "cdi-tui test people" in refused.stderr
    refused = cli("sync", "people")
    assert refused.returncode == 1 and "draft" in refused.stderr and "Traceback" not in refused.stderr

    tested = cli("test", "people")
    assert tested.returncode == 0, tested.stderr
    assert "Connection test passed" in tested.stdout and "user-200" in tested.stdout
    assert "no identifier" in tested.stdout  # the preview says which rows are invalid and why
    assert cli("activate", "people").returncode == 0

    refused = cli("credentials", "remove", "wh")
    assert refused.returncode == 1 and "people" in refused.stderr and "active" in refused.stderr

    synced = cli("sync", "people", "--json")
    assert synced.returncode == 3, synced.stderr  # partial: one row has no identifier
    summary = last_json(synced.stdout)
    assert set(summary) == {"run_id", "status", "rows_read", "rows_sent", "rows_failed", "rows_skipped", "watermark",
                            "data_points", "rows_unchanged", "rows_superseded", "items_written", "items_deleted"}  # fmt: skip
    assert summary["status"] == "partial"
    assert (summary["rows_read"], summary["rows_sent"], summary["rows_failed"], summary["rows_skipped"]) == (201, 200, 1, 0)
    assert str(summary["watermark"]).startswith("2026-03-01T13:00:00")
    assert len(braze.objects("attributes")) == 200

    again = cli("sync", "people", "--json")
    assert again.returncode == 0 and last_json(again.stdout)["rows_read"] == 0

    runs = json.loads(cli("runs", "people", "--json").stdout)
    assert [run["status"] for run in runs] == ["success", "partial"]
    assert runs[1]["rows_failed"] == 1 and runs[1]["trigger"] == "manual"

    export = cli.home / "failed.csv"
    exported = cli("errors", str(summary["run_id"]), "--csv", str(export))
    assert exported.returncode == 0, exported.stderr
    with open(export, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert rows == [
        {"updated_at": "2026-03-01T13:00:00.000000+00:00", "identifier": "(none)", "code": "no_identifier",
         "reason": rows[0]["reason"], "payload_preview": '{"a": 1}'}
    ]  # fmt: skip
    assert "no identifier" in rows[0]["reason"]
    assert "no identifier" in cli("errors", str(summary["run_id"])).stdout

    paused = cli("pause", "people")
    assert paused.returncode == 0 and json.loads(cli("integrations", "list", "--json").stdout)[0]["state"] == "paused"

    # secrets are in the keyring only: not in config, logs, run log or any other file
    for path in cli.home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert password.encode() not in content, path
            assert b"test-key" not in content, path
    assert (cli.home / "data" / "logs" / "cdi-tui.log").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["integrations", "add", "x", "--credential", "wh", "--table", "s.t", "--data-type", "users"], "unknown data type"),
        (
            [
                "integrations",
                "add",
                "x",
                "--credential",
                "wh",
                "--table",
                "s.t",
                "--data-type",
                "events",
                "--frequency",
                "every 5 minutes",
            ],
            "accepted forms",
        ),
        (
            ["integrations", "add", "x", "--credential", "wh", "--table", "s.t.u.v", "--data-type", "events"],
            "DATABASE.]SCHEMA.TABLE",
        ),
        (
            [
                "integrations",
                "add",
                "x",
                "--credential",
                "wh",
                "--table",
                "s.t",
                "--data-type",
                "events",
                "--contact-email",
                "nope",
            ],
            "not an email",
        ),
        (["credentials", "add", "c2", "--host", "h", "--port", "99999", "--database", "d", "--user", "u"], "65535"),
        (["sync"], "required"),
        (["braze", "set", "--endpoint", "US-99"], "instance"),
    ],
)
def test_bad_input_is_a_one_line_usage_error_that_changes_nothing(
    setup: tuple[Cli, str, str], args: list[str], words: str
) -> None:
    cli, _schema, _password = setup
    before = (cli.home / "config.toml").read_bytes()
    result = cli(*args, stdin="pw\n")
    assert result.returncode == 2
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert (cli.home / "config.toml").read_bytes() == before


def test_errors_that_are_not_usage_errors_exit_1_in_one_line(setup: tuple[Cli, str, str]) -> None:
    cli, _schema, _password = setup
    for args in (["sync", "ghost"], ["test", "ghost"], ["runs", "ghost"], ["errors", "999"], ["credentials", "remove", "ghost"]):
        result = cli(*args)
        assert result.returncode == 1, args
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    duplicate = cli("integrations", "add", "a", "--credential", "nope", "--table", "s.t", "--data-type", "events")
    assert duplicate.returncode == 1 and "no credential named 'nope'" in duplicate.stderr


def test_one_integration_per_table_and_the_data_type_is_fixed(setup: tuple[Cli, str, str], redshift: RedshiftStandIn) -> None:
    cli, schema, _password = setup
    first = cli("integrations", "add", "one", "--credential", "wh", "--table", f"{schema}.t", "--data-type", "events")
    assert first.returncode == 0
    second = cli("integrations", "add", "two", "--credential", "wh", "--table", f'{schema}."t"', "--data-type", "purchases")
    assert second.returncode == 1 and "one integration per table" in second.stderr


def test_a_sync_killed_with_sigkill_resumes_where_it_stopped(
    setup: tuple[Cli, str, str], redshift: RedshiftStandIn, braze: BrazeStandIn
) -> None:
    cli, schema, _password = setup
    total = 20_000
    make_table(redshift, schema, "big", "attributes", f"{schema}_u", total)
    assert cli("integrations", "add", "big", "--credential", "wh", "--table", f"{schema}.big", "--data-type", "attributes",
               "--contact-email", "ops@example.com").returncode == 0  # fmt: skip
    assert cli("test", "big").returncode == 0 and cli("activate", "big").returncode == 0
    assert cli("braze", "set", "--endpoint", braze.url, "--max-in-flight", "16", "--keep-key").returncode == 0
    braze.set_faults(FaultPlan(latency_seconds=0.03))
    process = cli.popen("sync", "big", "--json")
    runlog = RunLog(cli.home / "data" / "runs.sqlite3")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if len(braze.objects("attributes")) >= 3_000 and runlog.watermark("big") is not None:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the sync ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    delivered_before_kill = len(braze.objects("attributes"))
    assert delivered_before_kill < total

    [killed] = runlog.runs("big")
    assert killed.status == "running"
    watermark = runlog.watermark("big")
    assert watermark is not None  # checkpointed during the run

    braze.set_faults(FaultPlan())
    resumed = cli("sync", "big", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert last_json(resumed.stdout)["rows_read"] < total  # it resumed, it did not start over
    statuses = [run.status for run in runlog.runs("big")]
    assert statuses == ["success", "interrupted"]
    delivered = [obj["external_id"] for obj in braze.objects("attributes")]
    assert set(delivered) == {f"user-{n}" for n in range(1, total + 1)}
    resent = len(delivered) - total
    assert resent <= 16 * 75, resent  # at most max_in_flight requests' objects
    runlog.close()


def test_sync_prints_a_report_for_people(setup: tuple[Cli, str, str], redshift: RedshiftStandIn) -> None:
    cli, schema, _password = setup
    make_table(redshift, schema, "small", "attributes", f"{schema}_u", 10)
    cli("integrations", "add", "small", "--credential", "wh", "--table", f"{schema}.small", "--data-type", "attributes",
        "--contact-email", "ops@example.com")  # fmt: skip
    cli("test", "small")
    cli("activate", "small")
    result = cli("sync", "small", "--dry-run")
    assert result.returncode == 0
    assert "dry run" in result.stdout and "skipped 10" in result.stdout
