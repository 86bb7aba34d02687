"""Several Braze workspaces, the rules alone: the config file's two forms (an older file's single
``[braze]`` is the workspace ``default``), each workspace's key account and variable, what each
integration's workspace decides (its schedule's time zone, the test it needs, which store of
delivered values a deleted user leaves)."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cdi_tui.checks import integration_fingerprint
from cdi_tui.config import (
    DEFAULT_WORKSPACE,
    BrazeSettings,
    Config,
    ConfigError,
    Credential,
    Integration,
    config_to_dict,
    load_config,
    save_config,
)
from cdi_tui.engine.changes import DeliveredStore
from cdi_tui.enums import DataType, IntegrationState
from cdi_tui.runlog import RunLog
from cdi_tui.scheduler import due_runs
from cdi_tui.secret_store import MemoryCredentials, braze_key_account, braze_key_env_var

CREDENTIAL = """
[credentials.wh]
host = "wh.example.com"
database = "dev"
user = "braze_user"
"""

OLDER = (
    """
[braze]
endpoint = "US-03"
time_zone = "America/New_York"
requests_per_window = 1200
window_seconds = 2.0
combined_batch_limit = true
max_in_flight = 32
"""
    + CREDENTIAL
    + """
[integrations.people]
credential = "wh"
table = "ingestion.people"
data_type = "attributes"
"""
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_an_older_files_braze_section_is_the_workspace_default_and_is_written_back_in_the_newer_form(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, OLDER))
    assert config.workspaces == {
        "default": BrazeSettings(
            endpoint="US-03",
            time_zone="America/New_York",
            requests_per_window=1200,
            window_seconds=2.0,
            combined_batch_limit=True,
            max_in_flight=32,
        )
    }
    assert config.integrations["people"].workspace == "default" and config.braze == config.workspaces["default"]
    save_config(tmp_path / "saved.toml", config)
    document = tomllib.loads((tmp_path / "saved.toml").read_text())
    assert document["braze"] == {"default": config_to_dict(config)["braze"]["default"]}
    assert document["integrations"]["people"]["workspace"] == "default"
    assert load_config(tmp_path / "saved.toml") == config  # nothing lost either way


def test_workspaces_are_tables_of_their_own_and_each_integration_names_one(tmp_path: Path) -> None:
    text = (
        '[braze.dev]\nendpoint = "US-03"\n[braze.prod]\nendpoint = "EU-01"\ntime_zone = "Europe/Berlin"\n'
        + CREDENTIAL
        + '[integrations.people]\ncredential = "wh"\ntable = "s.people"\ndata_type = "attributes"\nworkspace = "prod"\n'
    )
    config = load_config(write(tmp_path, text))
    assert sorted(config.workspaces) == ["dev", "prod"] and config.braze is None
    people = config.integrations["people"]
    assert config.braze_of(people) == config.workspaces["prod"] and config.zone_of(people) == "Europe/Berlin"
    assert config.main_workspace == "dev" and config.time_zone == "UTC"


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (
            '[braze]\nendpoint = "US-03"\n[braze.prod]\nendpoint = "EU-01"\n',
            "braze.endpoint",
            "a setting beside workspace tables",
        ),
        ('[braze."bad name"]\nendpoint = "US-03"\n', "braze.bad name", "bad name"),
        ('[braze.prod]\ntime_zone = "UTC"\n', "braze.prod.endpoint", "required"),
        ('[braze.prod]\nendpoint = "US-03"\n[braze.PROD]\nendpoint = "US-03"\n', "braze.PROD", "CDI_TUI_BRAZE_API_KEY_PROD"),
        (
            '[braze.dev]\nendpoint = "US-03"\n' + CREDENTIAL + '[integrations.x]\ncredential = "wh"\ntable = "s.t"\n'
            'data_type = "events"\nworkspace = "prod"\n',
            "integrations.x.workspace",
            "no Braze workspace named 'prod' in [braze] (workspaces: dev)",
        ),
    ],
)
def test_a_braze_section_that_does_not_fit_names_where_and_why(tmp_path: Path, text: str, where: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    assert raised.value.where == where and problem in raised.value.problem


def test_an_integration_may_name_its_workspace_before_braze_is_set_up(tmp_path: Path) -> None:
    text = CREDENTIAL + '[integrations.x]\ncredential = "wh"\ntable = "s.t"\ndata_type = "events"\nworkspace = "prod"\n'
    assert load_config(write(tmp_path, text)).integrations["x"].workspace == "prod"


def test_one_table_is_synced_by_one_integration_in_each_workspace(tmp_path: Path) -> None:
    twice = (
        '[braze.dev]\nendpoint = "US-03"\n[braze.prod]\nendpoint = "EU-01"\n'
        + CREDENTIAL
        + '[integrations.a]\ncredential = "wh"\ntable = "s.t"\ndata_type = "events"\nworkspace = "dev"\n'
        + '[integrations.b]\ncredential = "wh"\ntable = "S.T"\ndata_type = "events"\nworkspace = "prod"\n'
    )
    assert sorted(load_config(write(tmp_path, twice)).integrations) == ["a", "b"]
    with pytest.raises(ConfigError, match="already synced by 'a' to workspace 'dev'"):
        load_config(write(tmp_path, twice.replace('workspace = "prod"', 'workspace = "dev"')))


def test_each_workspace_keeps_its_key_in_an_account_and_a_variable_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    assert braze_key_account() == braze_key_account("default") == "braze:api-key"  # where an older cdi-tui kept it
    assert braze_key_account("prod") == "braze:api-key:prod"
    assert (braze_key_env_var(), braze_key_env_var("prod-eu")) == ("CDI_TUI_BRAZE_API_KEY", "CDI_TUI_BRAZE_API_KEY_PROD_EU")
    secrets = MemoryCredentials()
    secrets.set(braze_key_account("prod"), "stored-prod")
    monkeypatch.setenv("CDI_TUI_BRAZE_API_KEY_PROD", "from-the-environment")
    assert secrets.get(braze_key_account("prod")) == "from-the-environment"
    assert secrets.get(braze_key_account()) is None


def integration_in(workspace: str, name: str = "people", **settings: object) -> Integration:
    return Integration(
        name=name,
        credential="wh",
        table=f"s.{name}",
        data_type=DataType.ATTRIBUTES,
        workspace=workspace,
        **settings,  # type: ignore[arg-type]
    )


def test_an_integration_tested_for_one_workspace_needs_a_test_for_another() -> None:
    credential = Credential(name="wh", host="wh.example.com", database="dev", user="u")
    in_default = integration_fingerprint(credential, integration_in(DEFAULT_WORKSPACE))
    assert in_default == integration_fingerprint(credential, Integration("people", "wh", "s.people", DataType.ATTRIBUTES))
    assert integration_fingerprint(credential, integration_in("prod")) != in_default


def test_each_integration_is_due_by_its_workspaces_clock(tmp_path: Path) -> None:
    config = Config(
        workspaces={
            "tokyo": BrazeSettings(endpoint="US-03", time_zone="Asia/Tokyo"),
            "newyork": BrazeSettings(endpoint="US-03", time_zone="America/New_York"),
        },
        integrations={
            name: integration_in(name, name=name, frequency="daily at 09:00", state=IntegrationState.ACTIVE)
            for name in ("tokyo", "newyork")
        },
    )
    runlog = RunLog(tmp_path / "runs.sqlite3")
    for name in ("tokyo", "newyork"):
        runlog.claim_slot(name, datetime(2026, 3, 1, 14, 0, tzinfo=UTC))  # 09:00 in New York, 23:00 in Tokyo
    # 01:00 UTC the next day is 10:00 in Tokyo (a new 09:00 has passed there) and still 20:00 in New York
    due = due_runs(config, runlog, datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    assert [run.integration for run in due] == ["tokyo"]
    runlog.close()


def test_a_deleted_user_is_forgotten_by_the_integrations_of_its_workspace_only(tmp_path: Path) -> None:
    store = DeliveredStore(tmp_path / "delivered.sqlite3")
    for integration in ("dev-people", "prod-people"):
        store.save(integration, [("external_id=u1", {1: 2}), ("external_id=u2", {1: 2})])
    store.forget_users(["external_id=u1"], ["dev-people", "dev-deletes"])
    assert sorted(store.lookup("dev-people", ["external_id=u1", "external_id=u2"])) == ["external_id=u2"]
    assert sorted(store.lookup("prod-people", ["external_id=u1", "external_id=u2"])) == ["external_id=u1", "external_id=u2"]
    store.close()


def test_the_next_scheduled_run_serve_reports_is_in_the_integrations_workspace_zone(tmp_path: Path) -> None:
    from cdi_tui.paths import app_paths
    from cdi_tui.workspace import Workspace

    workspace = Workspace(app_paths(tmp_path / "home"), MemoryCredentials())
    config = Config(
        workspaces={
            DEFAULT_WORKSPACE: BrazeSettings(endpoint="US-03", time_zone="America/New_York"),
            "tokyo": BrazeSettings(endpoint="US-03", time_zone="Asia/Tokyo"),
        },
        credentials={"wh": Credential(name="wh", host="wh.example.com", database="dev", user="u")},
        integrations={
            name: integration_in(name, name=name, frequency="daily at 09:00", state=IntegrationState.ACTIVE)
            for name in (DEFAULT_WORKSPACE, "tokyo")
        },
    )
    save_config(workspace.paths.config_file, config)
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo, 20:00 the day before in New York
    for name in (DEFAULT_WORKSPACE, "tokyo"):
        workspace._runlog.claim_slot(name, now)  # each ran at its last slot: the next is its next 09:00
    assert workspace.next_scheduled_run("tokyo", now) == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    assert workspace.next_scheduled_run(DEFAULT_WORKSPACE, now) == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # in New York
    workspace.close()


def test_a_copy_to_another_workspace_keeps_its_alerts_and_their_signing_secret_but_not_its_ping_url(tmp_path: Path) -> None:
    from cdi_tui.paths import app_paths
    from cdi_tui.secret_store import alert_secret_account
    from cdi_tui.workspace import Workspace

    workspace = Workspace(app_paths(tmp_path / "home"), MemoryCredentials())
    config = Config(
        workspaces={name: BrazeSettings(endpoint="US-03") for name in ("dev", "prod")},
        credentials={"wh": Credential(name="wh", host="wh.example.com", database="dev", user="u")},
        integrations={
            "people": integration_in(
                "dev",
                alert_run_minutes=30.0,
                alert_webhooks=("https://hooks.example.com/a",),
                alert_webhook_format="json",
                ping_url="https://hc-ping.example.com/people-dev",
            )
        },
    )
    save_config(workspace.paths.config_file, config)
    workspace.set_alert_webhook_secret("people", "signing-secret")
    copy = workspace.copy_integration("people", "prod")
    assert (copy.name, copy.workspace, copy.state) == ("people-prod", "prod", IntegrationState.DRAFT)
    assert (copy.alert_run_minutes, copy.alert_webhooks, copy.alert_webhook_format) == (
        30.0,
        ("https://hooks.example.com/a",),
        "json",
    )
    assert copy.ping_url is None  # a dead-man's switch watches one job
    assert workspace._secrets.get(alert_secret_account("people-prod")) == "signing-secret"
    workspace.close()
