"""Several Braze workspaces, through the real stack: the ``cdi-tui`` command in its own process and
the real keyring (Secret Service); two Braze stand-ins, each a workspace with its own key and rate
limit; redshift-connector -> the Redshift proxy -> PostgreSQL for the syncs."""

from __future__ import annotations

import json
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_commands import Cli, last_json

from cdi_tui.checks import integration_fingerprint
from cdi_tui.config import load_config
from cdi_tui.paths import app_paths
from cdi_tui.runlog import RunLog, Watermark
from cdi_tui.secret_store import KeyringCredentials, braze_key_account, credential_account
from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.demo_data import create_table_sql
from cdi_tui.standins.postgres import RedshiftStandIn, quote_ident
from cdi_tui.standins.secret_service import SecretService
from cdi_tui.workspace import SyncOptions, Workspace

pytestmark = pytest.mark.real

OLD_CONFIG = """
[braze]
endpoint = "{endpoint}"
time_zone = "America/New_York"
requests_per_window = 1200
window_seconds = 2.0
combined_batch_limit = true
max_in_flight = 32

[credentials.wh]
host = "wh.example.com"
database = "dev"
user = "braze_user"

[integrations.people]
credential = "wh"
table = "ingestion.people"
data_type = "attributes"
frequency = "hourly at :15"
contact_emails = ["crm@example.com"]
state = "active"
"""


@pytest.fixture
def dev_and_prod() -> Iterator[tuple[BrazeStandIn, BrazeStandIn]]:
    """Two Braze workspaces: dev allows 5 requests a second, prod 1,000."""
    dev = BrazeStandIn(api_keys=("dev-key",), rate_limit=5, rate_window_seconds=1.0).start()
    prod = BrazeStandIn(api_keys=("prod-key",), rate_limit=1000, rate_window_seconds=1.0).start()
    try:
        yield dev, prod
    finally:
        dev.stop()
        prod.stop()


def keyring_of(home: Path) -> KeyringCredentials:
    return KeyringCredentials.for_home(app_paths(home))


def test_an_older_config_becomes_the_workspace_default_with_nothing_lost(
    tmp_path: Path, secret_service: SecretService, braze: BrazeStandIn
) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(OLD_CONFIG.format(endpoint=braze.url))
    (home / "config.toml").chmod(0o600)
    keyring_of(home).set(braze_key_account(), "test-key")  # where an older cdi-tui kept the key
    old = load_config(home / "config.toml")
    runlog = RunLog(app_paths(home).ensure().run_log)
    people = old.integrations["people"]
    runlog.record_test("people", integration_fingerprint(old.credentials["wh"], people))
    runlog.save_watermark("people", Watermark(datetime_at(), 3))
    runlog.close()
    cli = Cli(home)

    [listed] = json.loads(cli("braze", "list", "--json").stdout)
    assert listed == {
        "workspace": "default", "endpoint": braze.url, "url": braze.url, "time_zone": "America/New_York",
        "requests_per_window": 1200, "window_seconds": 2.0, "catalog_requests_per_minute": 16_000, "max_in_flight": 32,
        "key_stored": True, "integrations": ["people"],
    }  # fmt: skip
    assert cli("braze", "check").returncode == 0  # the key kept where it was works
    [summary] = json.loads(cli("integrations", "list", "--json").stdout)
    assert (summary["workspace"], summary["state"], summary["tested"]) == ("default", "active", True)

    # the first save writes the newer form; every setting, the test and the watermark stay
    added = cli("braze", "set", "--workspace", "prod", "--endpoint", "EU-01", "--time-zone", "Europe/Berlin", stdin="prod-key\n")
    assert added.returncode == 0, added.stderr
    document = tomllib.loads((home / "config.toml").read_text())
    assert set(document["braze"]) == {"default", "prod"}
    assert document["braze"]["default"]["combined_batch_limit"] is True
    assert document["integrations"]["people"]["workspace"] == "default"
    new = load_config(home / "config.toml")
    assert new.workspaces["default"] == old.workspaces["default"] and new.integrations["people"] == people
    [summary] = json.loads(cli("integrations", "list", "--json").stdout)
    assert (summary["state"], summary["tested"]) == ("active", True)
    runlog = RunLog(app_paths(home).run_log)
    assert runlog.watermark("people") == Watermark(datetime_at(), 3)
    runlog.close()
    assert keyring_of(home).get(braze_key_account("prod")) == "prod-key"
    assert keyring_of(home).get(braze_key_account()) == "test-key"
    for account in (braze_key_account(), braze_key_account("prod")):
        keyring_of(home).delete(account)


def datetime_at() -> object:
    from datetime import UTC, datetime

    return datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_workspaces_are_added_listed_removed_and_an_integration_copied_to_another_is_a_draft(
    tmp_path: Path, secret_service: SecretService, dev_and_prod: tuple[BrazeStandIn, BrazeStandIn]
) -> None:
    dev, prod = dev_and_prod
    cli = Cli(tmp_path / "home")
    assert cli("braze", "set", "--workspace", "dev", "--endpoint", dev.url, stdin="dev-key\n").returncode == 0
    assert (
        cli("braze", "set", "--workspace", "prod", "--endpoint", prod.url, "--max-in-flight", "8", stdin="prod-key\n").returncode
        == 0
    )
    assert (
        cli("credentials", "add", "wh", "--host", "wh.example.com", "--database", "dev", "--user", "u", stdin="pw\n").returncode
        == 0
    )
    assert [row["workspace"] for row in json.loads(cli("braze", "list", "--json").stdout)] == ["dev", "prod"]
    assert cli("braze", "check", "--workspace", "dev").returncode == 0
    assert cli("braze", "check", "--workspace", "prod").returncode == 0  # each key with its own endpoint

    # several workspaces and no "default": an integration names its own
    unnamed = cli("integrations", "add", "people", "--credential", "wh", "--table", "s.people", "--data-type", "attributes")
    assert unnamed.returncode == 1 and "name the integration's with --workspace" in unnamed.stderr
    unknown = cli("integrations", "add", "people", "--credential", "wh", "--table", "s.people", "--data-type", "attributes",
                  "--workspace", "staging")  # fmt: skip
    assert unknown.returncode == 1 and "no Braze workspace named 'staging'" in unknown.stderr
    assert cli("integrations", "add", "people", "--credential", "wh", "--table", "s.people", "--data-type", "attributes",
               "--workspace", "dev", "--contact-email", "crm@example.com").returncode == 0  # fmt: skip

    copied = cli("integrations", "copy", "people", "--to-workspace", "prod")
    assert copied.returncode == 0, copied.stderr
    listed = {row["name"]: row for row in json.loads(cli("integrations", "list", "--json").stdout)}
    assert (listed["people-prod"]["workspace"], listed["people-prod"]["state"], listed["people-prod"]["tested"]) == (
        "prod", "draft", False,
    )  # fmt: skip
    assert listed["people-prod"]["table"] == listed["people"]["table"]  # one table, one integration in each workspace
    assert listed["people-prod"]["contact_emails"] == ["crm@example.com"]
    assert "people-prod" in cli("integrations", "list", "--workspace", "prod").stdout
    assert "people-prod" not in cli("integrations", "list", "--workspace", "dev").stdout
    assert cli("sync", "people-prod").returncode == 1  # a draft: its test first
    again = cli("integrations", "copy", "people", "--to-workspace", "prod")
    assert again.returncode == 1 and "already exists" in again.stderr

    refused = cli("braze", "remove", "prod")
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "people-prod (draft)" in refused.stderr
    assert json.loads(cli("braze", "list", "--json").stdout)[1]["workspace"] == "prod"  # nothing changed
    moved = cli("integrations", "set", "people-prod", "--workspace", "dev")
    assert moved.returncode == 1 and "already synced by 'people'" in moved.stderr  # one integration per table in a workspace
    assert cli("integrations", "remove", "people-prod").returncode == 0
    assert cli("braze", "remove", "prod").returncode == 0
    assert keyring_of(cli.home).get(braze_key_account("prod")) is None
    for account in (braze_key_account("dev"), credential_account("wh")):
        keyring_of(cli.home).delete(account)


@pytest.mark.serial  # timing: measured alone, not beside other tests
def test_two_workspaces_sync_at_once_each_within_its_own_rate_limit(
    redshift: RedshiftStandIn,
    secret_service: SecretService,
    dev_and_prod: tuple[BrazeStandIn, BrazeStandIn],
    tmp_path: Path,
    unique_name: str,
) -> None:
    dev, prod = dev_and_prod
    schema, user, password = unique_name, f"{unique_name}_u", f"Pw-{unique_name}"
    redshift.create_user(user, password)
    redshift.admin_execute([
        f"CREATE SCHEMA {schema}", f"GRANT USAGE ON SCHEMA {schema} TO {quote_ident(user)}",
        create_table_sql(schema, "people", "attributes"),
        f"INSERT INTO {schema}.people (updated_at, external_id, payload) "
        f"SELECT timestamptz '2026-03-01 12:00:00+00' + (g || ' seconds')::interval, 'user-' || g, '{{\"n\": ' || g || '}}' "
        f"FROM generate_series(1, 1500) g",
        f"GRANT SELECT ON {schema}.people TO {quote_ident(user)}",
    ])  # fmt: skip
    cli = Cli(tmp_path / "home")
    try:
        for name, standin, key, limit in (("dev", dev, "dev-key", "4"), ("prod", prod, "prod-key", "1000")):
            result = cli("braze", "set", "--workspace", name, "--endpoint", standin.url, "--requests-per-window", limit,
                         "--window-seconds", "1", stdin=f"{key}\n")  # fmt: skip
            assert result.returncode == 0, result.stderr
        assert cli("credentials", "add", "wh", "--host", "127.0.0.1", "--port", str(redshift.port), "--database", "postgres",
                   "--user", user, "--sslmode", "disable", stdin=password + "\n").returncode == 0  # fmt: skip
        assert cli("integrations", "add", "people", "--credential", "wh", "--table", f"{schema}.people", "--data-type",
                   "attributes", "--workspace", "dev", "--contact-email", "crm@example.com").returncode == 0  # fmt: skip
        assert cli("integrations", "copy", "people", "--to-workspace", "prod", "--name", "people-live").returncode == 0
        for name in ("people", "people-live"):
            tested = cli("test", name)
            assert tested.returncode == 0, tested.stdout + tested.stderr
            assert cli("activate", name).returncode == 0

        # both at once, in one process (as the app or 'serve' runs them): each workspace's limiter its own
        workspace = Workspace(app_paths(cli.home), KeyringCredentials.for_home(app_paths(cli.home)))
        records: dict[str, object] = {}
        seconds: dict[str, float] = {}

        def run(name: str) -> None:
            started = time.monotonic()
            records[name] = workspace.sync(name, SyncOptions(checkpoint_seconds=0.0))
            seconds[name] = time.monotonic() - started

        threads = [threading.Thread(target=run, args=(name,)) for name in ("people", "people-live")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        workspace.close()
        assert {name: record.status for name, record in records.items()} == {"people": "success", "people-live": "success"}  # type: ignore[attr-defined]
        # each stand-in got its workspace's rows, with its own key, and never had to refuse a request
        assert len(dev.objects("attributes")) == len(prod.objects("attributes")) == 1500
        assert dev.stats.rate_limited == prod.stats.rate_limited == 0
        assert dev.stats.unauthorized == prod.stats.unauthorized == 0
        # 20 requests: 4 a second (dev's limit as set; its stand-in refuses a 6th in a second) take their
        # windows; 1,000 a second in prod does not wait for dev's
        assert seconds["people"] >= 3.5
        assert seconds["people-live"] < seconds["people"] / 2
        runs = json.loads(cli("runs", "people-live", "--json").stdout)
        assert last_json(json.dumps(runs[0]))["rows_sent"] == 1500
    finally:
        for account in (braze_key_account("dev"), braze_key_account("prod"), credential_account("wh")):
            keyring_of(cli.home).delete(account)
        redshift.admin_execute(f"DROP SCHEMA {schema} CASCADE")
