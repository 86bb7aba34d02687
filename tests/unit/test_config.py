from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from cdi_tui import config as config_module
from cdi_tui.config import (
    BrazeSettings,
    Config,
    ConfigError,
    ConfigStore,
    Credential,
    Integration,
    load_config,
    with_credential,
    with_integration,
)
from cdi_tui.paths import AppPaths, app_paths

README = Path(__file__).resolve().parents[2] / "README.md"

GOOD = """
[braze]
endpoint = "EU-01"
time_zone = "Europe/Berlin"

[credentials.prod]
host = "examplecluster.abc123.us-west-2.redshift.amazonaws.com"
database = "dev"
user = "braze_user"

[integrations.users]
credential = "prod"
table = "BRAZE_CLOUD_PRODUCTION.INGESTION.USERS_ATTRIBUTES_SYNC"
data_type = "attributes"
frequency = "daily at 02:30"
contact_emails = ["crm@example.com"]
"""


SAME_TABLE_AGAIN = """
[integrations.users2]
credential = "prod"
table = "braze_cloud_production.ingestion.USERS_ATTRIBUTES_SYNC"
data_type = "events"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_hand_written_file_loads_with_defaults_filled_in(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "config.toml", GOOD))
    assert config.braze == BrazeSettings(endpoint="EU-01", time_zone="Europe/Berlin")
    assert config.braze.base_url == "https://rest.fra-01.braze.eu"
    credential = config.credentials["prod"]
    assert (credential.port, credential.sslmode) == (5439, "verify-full")
    integration = config.integrations["users"]
    assert integration.state == "draft"
    assert integration.update_existing_only is False
    assert integration.contact_emails == ("crm@example.com",)
    assert integration.table_name.database == "braze_cloud_production"
    assert integration.table_name.sql == '"ingestion"."users_attributes_sync"'


def test_a_missing_file_is_an_empty_config(tmp_path: Path) -> None:
    assert load_config(tmp_path / "nothing.toml") == Config()


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("[braze\nendpoint = 1", "", "invalid TOML"),
        (
            GOOD.replace('data_type = "attributes"', 'data_type = "users"'),
            "integrations.users.data_type",
            "unknown data type 'users'",
        ),
        (
            GOOD.replace('credential = "prod"', 'credential = "staging"'),
            "integrations.users.credential",
            "no credential named 'staging'",
        ),
        (
            GOOD.replace('user = "braze_user"', 'user = "braze_user"\npassword = "hunter2"'),
            "credentials.prod.password",
            "not kept in this file",
        ),
        (
            GOOD.replace('frequency = "daily at 02:30"', 'frequency = "every 5 minutes"'),
            "integrations.users.frequency",
            "unknown frequency",
        ),
        (
            GOOD.replace('endpoint = "EU-01"', 'endpoint = "http://braze.example.com"'),
            "braze.endpoint",
            "only to a loopback",
        ),
        (
            GOOD.replace('time_zone = "Europe/Berlin"', 'time_zone = "Mars/Olympus"'),
            "braze.time_zone",
            "unknown time zone",
        ),
        (GOOD.replace("[credentials.prod]", "[credentials.prod]\nport = 70000"), "credentials.prod.port", "1 to 65535"),
        (
            GOOD.replace('contact_emails = ["crm@example.com"]', 'contact_emails = ["not-an-email"]'),
            "integrations.users.contact_emails",
            "not an email",
        ),
        (
            GOOD + SAME_TABLE_AGAIN,
            "integrations.users2.table",
            "one integration per table",
        ),
        (
            GOOD.replace("[integrations.users]", '[integrations.users]\ncolour = "blue"'),
            "integrations.users.colour",
            "unknown setting",
        ),
    ],
)
def test_a_broken_file_names_the_file_the_key_and_the_fault(tmp_path: Path, text: str, where: str, problem: str) -> None:
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert where in message
    assert problem in message


def test_bad_toml_errors_give_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", GOOD + "\n[integrations.broken\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    line_count = (GOOD + "\n[integrations.broken\n").count("\n")
    assert re.search(rf"line {line_count}\b", str(caught.value))


def test_a_broken_file_is_never_overwritten_by_an_update(tmp_path: Path) -> None:
    broken = GOOD.replace('data_type = "attributes"', 'data_type = "nope"')
    path = write(tmp_path / "config.toml", broken)
    store = ConfigStore(path)
    with pytest.raises(ConfigError):
        store.update(lambda config: config)
    assert path.read_text(encoding="utf-8") == broken


def test_an_update_that_breaks_a_rule_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", GOOD)
    before = path.read_bytes()
    store = ConfigStore(path)
    ghost = Integration(name="ghost", credential="missing", table="a.b", data_type="events")
    with pytest.raises(ConfigError, match="no credential named 'missing'"):
        store.update(lambda config: with_integration(config, ghost))
    assert path.read_bytes() == before


def test_saved_files_round_trip_with_mode_0600_in_a_0700_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDI_TUI_HOME", str(tmp_path / "home"))
    paths = app_paths().ensure()
    store = ConfigStore(paths.config_file)
    credential = Credential(name="prod", host="h.example.com", database="dev", user="u")
    integration = Integration(
        name="events", credential="prod", table="s.t", data_type="events", contact_emails=("a@example.com",)
    )
    store.update(lambda config: with_integration(with_credential(config, credential), integration))
    assert store.load().integrations["events"] == integration
    assert stat.S_IMODE(paths.config_file.stat().st_mode) == 0o600
    for folder in (paths.config_dir, paths.data_dir, paths.log_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not [name for name in os.listdir(paths.config_dir) if name.endswith(".tmp")]


def test_a_crash_mid_write_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "config.toml", GOOD)
    before = path.read_bytes()
    store = ConfigStore(path)

    def crash(_fd: int) -> None:
        raise OSError("disk full (simulated crash before rename)")

    monkeypatch.setattr(config_module.os, "fsync", crash)
    credential = Credential(name="second", host="h2.example.com", database="dev", user="u")
    with pytest.raises(ConfigError, match="cannot save: disk full"):  # one line for people, not an OSError's traceback
        store.update(lambda config: with_credential(config, credential))
    assert path.read_bytes() == before
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_cdi_tui_home_moves_config_data_and_logs_under_one_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDI_TUI_HOME", str(tmp_path / "elsewhere"))
    paths = app_paths()
    assert paths == AppPaths(
        tmp_path / "elsewhere" / "config.toml", tmp_path / "elsewhere" / "data", tmp_path / "elsewhere" / "data" / "logs"
    )
    monkeypatch.delenv("CDI_TUI_HOME")
    default = app_paths()
    assert "cdi-tui" in str(default.config_file)
    assert default.config_file != paths.config_file


def test_the_readme_example_config_is_valid(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- config-example -->\s*```toml\n(.*?)```", text, re.DOTALL)
    assert match, "README.md must carry a full config example after <!-- config-example -->"
    config = load_config(write(tmp_path / "config.toml", match.group(1)))
    assert config.braze is not None and sorted(config.workspaces) == ["default", "prod-eu"]
    assert config.credentials and config.integrations
    assert {item.data_type for item in config.integrations.values()} == {
        "attributes",
        "events",
        "purchases",
        "deletes",
        "catalogs",
    }
    assert config.integrations["products"].workspace == "prod-eu"
