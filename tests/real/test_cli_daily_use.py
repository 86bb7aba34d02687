"""Issue 22 on the command line: it edits what the app edits (``integrations set``, ``credentials
set``), ``braze set`` and ``smtp set`` change only what is given, tables fit 80 columns, the default
schedule is the app's, ``--read-only``, ``open`` and shell completion. Real processes and the
real keyring (Secret Service); no warehouse is needed."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from forked_cli import run_cdi

from cdi_tui.checks import integration_fingerprint
from cdi_tui.enums import Trigger
from cdi_tui.paths import app_paths
from cdi_tui.runlog import RunLog
from cdi_tui.secret_store import KeyringCredentials, braze_key_account, credential_account
from cdi_tui.standins.secret_service import SecretService

pytestmark = pytest.mark.real


class Cli:
    def __init__(self, home: Path, columns: int = 80) -> None:
        self.home = home
        self.env = {**os.environ, "CDI_TUI_HOME": str(home), "COLUMNS": str(columns)}

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cdi(args, input=stdin, env=self.env, timeout=120)

    def config(self) -> str:
        return (self.home / "config.toml").read_text()


@pytest.fixture
def cli(tmp_path: Path, secret_service: SecretService, unique_name: str) -> Iterator[Cli]:
    cli = Cli(tmp_path / "home")
    assert cli("braze", "set", "--endpoint", "US-03", "--time-zone", "Europe/Berlin", stdin="braze-key-1\n").returncode == 0
    added = cli("credentials", "add", "wh", "--host", "wh.example.com", "--database", "dev", "--user", "u", stdin="pw-1\n")
    assert added.returncode == 0, added.stderr
    made = cli("integrations", "add", "people", "--credential", "wh", "--table", "s.people", "--data-type", "attributes")
    assert made.returncode == 0, made.stderr
    yield cli
    for account in (braze_key_account(), credential_account("wh")):
        KeyringCredentials.for_home(app_paths(cli.home)).delete(account)


def one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("cdi-tui: error:")
    for word in words:
        assert word in line


def record_test(cli: Cli, name: str) -> None:
    """As a passed connection test leaves it (no warehouse here)."""
    from cdi_tui.config import load_config

    config = load_config(cli.home / "config.toml")
    runlog = RunLog(app_paths(cli.home).run_log)
    integration = config.integrations[name]
    runlog.record_test(name, integration_fingerprint(config.credentials[integration.credential], integration))
    runlog.close()


def test_braze_set_with_one_flag_changes_only_that_setting_and_keeps_the_key(cli: Cli) -> None:
    result = cli("braze", "set", "--max-in-flight", "512")
    assert result.returncode == 0, result.stderr
    shown = json.loads(cli("braze", "show", "--json").stdout)
    assert (shown["endpoint"], shown["time_zone"], shown["max_in_flight"]) == ("US-03", "Europe/Berlin", 512)
    assert KeyringCredentials.for_home(app_paths(cli.home)).get(braze_key_account()) == "braze-key-1"
    assert "stored API key kept" in result.stdout


def test_braze_set_reads_a_new_key_only_when_asked(cli: Cli) -> None:
    assert cli("braze", "set", "--new-key", stdin="braze-key-2\n").returncode == 0
    assert KeyringCredentials.for_home(app_paths(cli.home)).get(braze_key_account()) == "braze-key-2"
    assert json.loads(cli("braze", "show", "--json").stdout)["endpoint"] == "US-03"


def test_braze_set_the_first_time_needs_the_endpoint(tmp_path: Path, secret_service: SecretService) -> None:
    one_line_error(Cli(tmp_path / "fresh")("braze", "set", "--max-in-flight", "16"), 2, "give --endpoint")


def test_the_command_lines_default_schedule_is_the_apps(cli: Cli) -> None:
    from cdi_tui.fields import DEFAULT_FREQUENCY

    [people] = json.loads(cli("integrations", "list", "--json").stdout)
    assert people["frequency"] == DEFAULT_FREQUENCY == "daily at 02:00"


def test_integrations_set_has_a_flag_for_every_setting_of_the_apps_settings_tab(cli: Cli) -> None:
    result = cli(
        "integrations", "set", "people", "--frequency", "hourly at :15", "--contact-email", "a@example.com",
        "--contact-email", "b@example.com", "--update-existing-only", "--send-all", "--notify-row-error-percent", "5",
        "--notify-success", "--notify-no-rows",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [people] = json.loads(cli("integrations", "list", "--json").stdout)
    assert people["frequency"] == "hourly at :15"
    assert people["contact_emails"] == ["a@example.com", "b@example.com"]
    assert people["update_existing_only"] is True and people["send_changed_only"] is False
    assert "notify_row_error_percent = 5.0" in cli.config() and "notify_success = true" in cli.config()
    assert cli("integrations", "set", "people", "--no-notify-row-error-percent").returncode == 0
    assert "notify_row_error_percent" not in cli.config()


def test_a_new_table_or_credential_sends_an_integration_back_to_needing_a_test(cli: Cli) -> None:
    assert cli("integrations", "set", "people", "--contact-email", "a@example.com").returncode == 0
    record_test(cli, "people")
    assert cli("activate", "people").returncode == 0
    result = cli("integrations", "set", "people", "--table", "s.people_v2")
    assert result.returncode == 0, result.stderr
    [people] = json.loads(cli("integrations", "list", "--json").stdout)
    assert (people["state"], people["tested"], people["table"]) == ("draft", False, "s.people_v2")
    assert "cdi-tui test people" in result.stdout


def test_the_data_type_changes_until_activation_and_is_then_refused_in_one_line(cli: Cli) -> None:
    assert cli("integrations", "set", "people", "--data-type", "events").returncode == 0
    assert json.loads(cli("integrations", "list", "--json").stdout)[0]["data_type"] == "events"
    assert cli("integrations", "set", "people", "--contact-email", "a@example.com").returncode == 0
    record_test(cli, "people")
    assert cli("activate", "people").returncode == 0
    before = cli.config()
    one_line_error(cli("integrations", "set", "people", "--data-type", "purchases"), 1, "data type", "fixed")
    assert cli.config() == before


def test_integrations_set_with_nothing_to_change_is_a_usage_error(cli: Cli) -> None:
    one_line_error(cli("integrations", "set", "people"), 2, "nothing to change")


def test_a_draft_without_contacts_is_told_to_add_one_before_activating(cli: Cli) -> None:
    result = cli("integrations", "add", "more", "--credential", "wh", "--table", "s.more", "--data-type", "events")
    assert "--contact-email" in result.stdout


def test_credentials_set_changes_only_what_is_given_and_keeps_the_password(cli: Cli) -> None:
    result = cli("credentials", "set", "wh", "--port", "5440")
    assert result.returncode == 0, result.stderr
    [wh] = json.loads(cli("credentials", "list", "--json").stdout)
    assert (wh["host"], wh["port"], wh["user"], wh["database"]) == ("wh.example.com", 5440, "u", "dev")
    assert KeyringCredentials.for_home(app_paths(cli.home)).get(credential_account("wh")) == "pw-1"
    assert "people" in result.stdout  # its integrations need a new test


def test_smtp_set_changes_only_what_is_given(cli: Cli) -> None:
    assert cli("smtp", "set", "--host", "mail.example.com", "--from", "cdi@example.com", "--starttls").returncode == 0
    assert cli("smtp", "set", "--port", "2525").returncode == 0
    assert 'host = "mail.example.com"' in cli.config() and "port = 2525" in cli.config()
    assert 'security = "starttls"' in cli.config() and 'sender = "cdi@example.com"' in cli.config()


def test_runs_fits_80_columns_one_line_a_run(cli: Cli) -> None:
    runlog = RunLog(app_paths(cli.home).run_log)
    for index in range(3):
        run_id = runlog.start_run("people", Trigger.SCHEDULED, index == 1, False, None, 1)
        runlog.update_run(run_id, status="partial", rows_read=123_456, rows_sent=120_000, rows_failed=3_456)
    runlog.close()
    result = cli("runs", "people")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), result.stdout
    body = [line for line in lines if "scheduled" in line]
    assert len(body) == 3 and "120,000" in body[0]
    assert any("(dry)" in line for line in body)


def test_read_only_lists_and_refuses_every_change_in_one_line(cli: Cli) -> None:
    before = cli.config()
    listed = cli("--read-only", "integrations", "list", "--json")
    assert listed.returncode == 0 and listed.stderr == ""
    for args in (["sync", "people"], ["integrations", "set", "people", "--frequency", "hourly at :05"], ["test", "people"],
                 ["braze", "set", "--max-in-flight", "8"], ["run-due"], ["estimate", "people"]):  # fmt: skip
        one_line_error(cli("--read-only", *args), 1, "read-only (--read-only)")
    assert cli.config() == before


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_come_from_the_parser(tmp_path: Path, shell: str) -> None:
    result = Cli(tmp_path / "home")("completion", shell)
    assert result.returncode == 0, result.stderr
    for word in ("integrations", "credentials", "read-only", "max-in-flight", "open"):
        assert word in result.stdout, word


def test_open_needs_a_terminal_and_says_so_in_one_line(cli: Cli) -> None:
    one_line_error(cli("open", "people"), 2, "needs a terminal")
