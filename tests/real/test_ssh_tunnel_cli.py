"""The SSH tunnel as a user sets it up on the command line: real processes, the real keyring
(Secret Service), a real SSH server on 127.0.0.1 in front of the Redshift stand-in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from test_cli_commands import Cli, last_json, make_table

from cdi_tui.paths import app_paths
from cdi_tui.secret_store import home_keyring_service, ssh_key_account, ssh_passphrase_account
from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.postgres import RedshiftStandIn, quote_ident
from cdi_tui.standins.secret_service import SecretService
from cdi_tui.standins.ssh_bastion import SshBastion

pytestmark = pytest.mark.real


@pytest.fixture
def world(
    redshift: RedshiftStandIn,
    braze: BrazeStandIn,
    secret_service: SecretService,
    tmp_path: Path,
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Cli, SshBastion, str, str]]:
    schema, user, password = unique_name, f"{unique_name}_u", f"Pw-{unique_name}-secret"
    redshift.create_user(user, password)
    redshift.admin_execute([f"CREATE SCHEMA {schema}", f"GRANT USAGE ON SCHEMA {schema} TO {quote_ident(user)}"])
    make_table(redshift, schema, "people", "attributes", user, 300)
    cli = Cli(tmp_path / "home")
    cli.env["HOME"] = str(tmp_path / "user-home")  # no ~/.ssh/known_hosts of the machine's
    assert cli("braze", "set", "--endpoint", braze.url, stdin="test-key\n").returncode == 0
    bastion = SshBastion().start()
    yield cli, bastion, schema, password
    bastion.stop()
    redshift.admin_execute(f"DROP SCHEMA {schema} CASCADE")


def add_tunnelled(cli: Cli, name: str, redshift: RedshiftStandIn, bastion: SshBastion, user: str, *key: str, stdin: str) -> str:
    result = cli(
        "credentials", "add", name, "--host", "127.0.0.1", "--port", str(redshift.port), "--database", "postgres",
        "--user", user, "--sslmode", "disable", "--ssh-host", "127.0.0.1", "--ssh-port", str(bastion.port),
        "--ssh-user", "tunnel", *key, stdin=stdin,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_generated_key_an_accepted_host_key_then_test_and_sync_through_the_tunnel(
    world: tuple[Cli, SshBastion, str, str], redshift: RedshiftStandIn, braze: BrazeStandIn
) -> None:
    cli, bastion, schema, password = world
    output = add_tunnelled(cli, "wh", redshift, bastion, f"{schema}_u", "--ssh-generate-key", stdin=password + "\n")
    [line] = [text.strip() for text in output.splitlines() if text.strip().startswith("restrict,")]
    assert line.startswith(
        f'restrict,port-forwarding,permitopen="127.0.0.1:{redshift.port}",command="/bin/false",'
        'permitlisten="127.0.0.1:1" ssh-ed25519 AAAA'
    )
    assert "PRIVATE KEY" not in output
    bastion.authorized_keys = line  # the bastion's administrator adds the printed line
    config_text = (cli.home / "config.toml").read_text()
    assert "PRIVATE KEY" not in config_text and password not in config_text
    private_key = keyring.get_password(home_keyring_service(app_paths(cli.home)), ssh_key_account("wh"))
    assert private_key is not None and private_key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    shown_again = cli("credentials", "public-key", "wh")
    assert shown_again.returncode == 0 and line in shown_again.stdout

    added = cli(
        "integrations", "add", "people", "--credential", "wh", "--table", f"{schema}.people", "--data-type", "attributes",
        "--contact-email", "crm@example.com",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    unknown = cli("test", "people", "--json")
    assert unknown.returncode == 1
    error = last_json(unknown.stdout)["error"]
    assert isinstance(error, dict) and error["kind"] == "ssh_host_key_unknown"
    assert error["host_key_fingerprint"] == bastion.fingerprint and bastion.fingerprint in str(error["message"])
    human = cli("test", "people")
    assert human.returncode == 1 and f"cdi-tui test people --accept-host-key {bastion.fingerprint}" in " ".join(
        human.stdout.split()
    )

    wrong = cli("test", "people", "--accept-host-key", SshBastion().fingerprint)
    assert wrong.returncode == 1 and "nothing was accepted" in wrong.stderr and bastion.fingerprint in wrong.stderr
    accepted = cli("test", "people", "--accept-host-key", bastion.fingerprint)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "accepted" in accepted.stdout and "Connection test passed" in accepted.stdout
    [listed] = json.loads(cli("credentials", "list", "--json").stdout)
    assert listed["ssh"] == {
        "host": "127.0.0.1",
        "port": bastion.port,
        "user": "tunnel",
        "key": "generated (keyring)",
        "host_key": bastion.fingerprint,
    }

    assert cli("activate", "people").returncode == 0
    forwards_before = bastion.stats.forwards
    synced = cli("sync", "people", "--json")
    assert synced.returncode == 0, synced.stderr
    assert last_json(synced.stdout)["rows_sent"] == 300
    assert bastion.stats.forwards > forwards_before
    assert len(braze.objects("attributes")) == 300
    # replacing the credential with the same bastion keeps the generated key and the accepted host key
    add_tunnelled(cli, "wh", redshift, bastion, f"{schema}_u", "--replace", stdin=password + "\n")
    assert cli("test", "people").returncode == 0
    assert json.loads(cli("integrations", "list", "--json").stdout)[0]["state"] == "active"


def test_a_key_file_with_a_passphrase_kept_in_the_keyring(
    world: tuple[Cli, SshBastion, str, str], redshift: RedshiftStandIn, tmp_path: Path
) -> None:
    import asyncssh

    cli, bastion, schema, password = world
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(key.export_private_key("openssh", passphrase="correct horse"))
    key_file.chmod(0o600)
    refused = cli(
        "credentials", "add", "wh", "--host", "127.0.0.1", "--port", str(redshift.port), "--database", "postgres",
        "--user", f"{schema}_u", "--sslmode", "disable", "--ssh-host", "127.0.0.1", "--ssh-port", str(bastion.port),
        "--ssh-user", "tunnel", "--ssh-key", str(key_file), stdin=f"{password}\nwrong phrase\n",
    )  # fmt: skip
    assert refused.returncode == 1 and "passphrase" in refused.stderr and "wrong phrase" not in refused.stderr
    output = add_tunnelled(
        cli, "wh", redshift, bastion, f"{schema}_u", "--ssh-key", str(key_file), stdin=f"{password}\ncorrect horse\n"
    )
    assert keyring.get_password(home_keyring_service(app_paths(cli.home)), ssh_passphrase_account("wh")) == "correct horse"
    assert keyring.get_password(home_keyring_service(app_paths(cli.home)), ssh_key_account("wh")) is None
    assert "correct horse" not in (cli.home / "config.toml").read_text() and "correct horse" not in output
    [line] = [text.strip() for text in output.splitlines() if text.strip().startswith("restrict,")]
    bastion.authorized_keys = line
    assert (
        cli(
            "integrations", "add", "people", "--credential", "wh", "--table", f"{schema}.people", "--data-type", "attributes"
        ).returncode
        == 0
    )
    tested = cli("test", "people", "--accept-host-key", bastion.fingerprint)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # removing the credential removes its secrets too
    assert cli("integrations", "remove", "people").returncode == 0
    assert cli("credentials", "remove", "wh").returncode == 0
    assert keyring.get_password(home_keyring_service(app_paths(cli.home)), ssh_passphrase_account("wh")) is None


def test_tunnel_flags_that_do_not_fit_are_usage_errors(world: tuple[Cli, SshBastion, str, str]) -> None:
    cli, _bastion, _schema, _password = world
    base = ["credentials", "add", "wh", "--host", "h.example.com", "--database", "dev", "--user", "u"]
    for extra, message in (
        (["--ssh-host", "b.example.com", "--ssh-user", "t"], "needs --ssh-key PATH or --ssh-generate-key"),
        (["--ssh-host", "b.example.com", "--ssh-generate-key"], "--ssh-user: required with an SSH"),
        (["--ssh-generate-key"], "only with --ssh-host"),
        (["--ssh-user", "t"], "--ssh-user: only with an SSH bastion host"),
    ):
        result = cli(*base, *extra, stdin="pw\n")
        assert result.returncode == 2, (extra, result.stderr)
        assert message in result.stderr and re.match(r"^cdi-tui: error: ", result.stderr)
