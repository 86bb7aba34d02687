"""The sign-in and SSH tunnel options of a credential: declared once, checked in the config
file and on the command line, stored without secrets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cdi_tui.checks import integration_fingerprint
from cdi_tui.config import Config as ConfigModel
from cdi_tui.config import ConfigError, Credential, Integration, config_to_dict, load_config, save_config
from cdi_tui.fields import ALL_CREDENTIAL_FIELDS, FieldError, credential_problems, validate_ssh_public_key
from cdi_tui.secret_store import MemoryCredentials, ssh_key_account, ssh_passphrase_account
from cdi_tui.warehouse.tunnel import authorized_keys_line, fingerprint, generate_key_pair


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = '[credentials.prod]\nhost = "c.abc.us-west-2.redshift.amazonaws.com"\ndatabase = "dev"\n'


def test_a_tunnelled_iam_credential_loads_and_is_written_back_the_same(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE + 'auth = "iam"\nregion = "us-west-2"\ncluster_id = "examplecluster"\ndb_user = "braze_user"\n'
        'aws_profile = "data"\nssh_host = "bastion.example.com"\nssh_user = "tunnel"\n',
    )
    credential = load_config(path).credentials["prod"]
    assert credential.uses_iam and credential.uses_ssh and credential.ssh_port == 22 and credential.user == ""
    assert credential.login == "IAM:braze_user"
    save_config(path, load_config(path))
    assert load_config(path).credentials["prod"] == credential
    assert "password" not in path.read_text()


def test_a_plain_credential_is_written_as_before(tmp_path: Path) -> None:
    credential = Credential(name="prod", host="h.example.com", database="dev", user="u")
    written = config_to_dict(ConfigModel(credentials={"prod": credential}))["credentials"]["prod"]
    assert written == {"host": "h.example.com", "database": "dev", "user": "u", "port": 5439, "sslmode": "verify-full"}


@pytest.mark.parametrize(
    ("extra", "where", "problem"),
    [
        ('auth = "iam"\ncluster_id = "c1"\n', "credentials.prod.region", "required for IAM"),
        ('auth = "iam"\nregion = "us-west-2"\n', "credentials.prod.cluster_id", "either a cluster identifier"),
        ('auth = "iam"\nregion = "us-west-2"\ncluster_id = "c1"\nworkgroup = "wg1"\n', "credentials.prod.cluster_id", "either"),
        ('auth = "iam"\nregion = "us-west-2"\nworkgroup = "wg1"\ndb_user = "u"\n', "credentials.prod.db_user", "Serverless"),
        ('user = "u"\nregion = "us-west-2"\n', "credentials.prod.region", "only for IAM"),
        ("", "credentials.prod.user", "required"),
        ('user = "u"\nssh_host = "bastion.example.com"\n', "credentials.prod.ssh_user", "required with an SSH"),
        ('user = "u"\nssh_user = "tunnel"\n', "credentials.prod.ssh_user", "only with an SSH bastion"),
        ('user = "u"\nauth = "kerberos"\n', "credentials.prod.auth", "password, iam"),
        ('auth = "iam"\nregion = "moon-1"\ncluster_id = "c1"\n', "credentials.prod.region", "not an AWS region"),
        (
            'user = "u"\nssh_host = "b.example.com"\nssh_user = "t"\nssh_host_key = "nope"\n',
            "credentials.prod.ssh_host_key",
            "OpenSSH",
        ),
        ('user = "u"\nssh_private_key = "-----BEGIN"\n', "credentials.prod.ssh_private_key", "unknown setting"),
    ],
)
def test_inconsistent_sign_in_and_tunnel_settings_name_the_key(tmp_path: Path, extra: str, where: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, BASE + extra))
    assert error.value.where == where and problem in error.value.problem


def test_every_new_option_is_declared_once_with_a_flag() -> None:
    flags = {spec.key: spec.cli_flag for spec in ALL_CREDENTIAL_FIELDS}
    assert flags["ssh_key_path"] == "--ssh-key" and flags["cluster_id"] == "--cluster-id" and flags["db_user"] == "--db-user"
    assert flags["workgroup"] == "--workgroup" and flags["aws_profile"] == "--aws-profile" and flags["auth"] == "--auth"
    assert credential_problems({"auth": "password", "user": "u"}) == []


def test_generated_keys_fingerprints_and_the_authorized_keys_line() -> None:
    private_key, public_key = generate_key_pair("cdi-tui:prod")
    assert private_key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----") and public_key.startswith("ssh-ed25519 ")
    assert fingerprint(public_key).startswith("SHA256:") and len(fingerprint(public_key)) == 50
    line = authorized_keys_line(public_key, "c.abc.redshift.amazonaws.com", 5439)
    assert line == (
        'restrict,port-forwarding,permitopen="c.abc.redshift.amazonaws.com:5439",command="/bin/false",'
        f'permitlisten="127.0.0.1:1" {public_key}'
    )
    assert validate_ssh_public_key(public_key) == " ".join(public_key.split()[:2])
    with pytest.raises(FieldError):
        validate_ssh_public_key(private_key)


def test_tunnel_secrets_come_from_the_keyring_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = MemoryCredentials()
    secrets.set(ssh_key_account("prod-eu"), "from keyring")
    assert secrets.get(ssh_key_account("prod-eu")) == "from keyring"
    monkeypatch.setenv("CDI_TUI_SSH_KEY_PROD_EU", "from environment")
    monkeypatch.setenv("CDI_TUI_SSH_PASSPHRASE_PROD_EU", "phrase")
    assert secrets.get(ssh_key_account("prod-eu")) == "from environment"
    assert secrets.get(ssh_passphrase_account("prod-eu")) == "phrase"


def test_the_test_fingerprint_of_plain_credentials_is_unchanged_and_tunnels_count() -> None:
    credential = Credential(name="prod", host="h.example.com", database="dev", user="u")
    integration = Integration(name="i", credential="prod", table="s.t", data_type="attributes")
    plain = integration_fingerprint(credential, integration)
    # the formula before tunnels and IAM existed: tested integrations stay tested after the upgrade
    before = hashlib.sha256(
        "\x00".join(("h.example.com", "5439", "dev", "u", "verify-full", "", '"s"."t"', "attributes")).encode()
    )
    assert plain == before.hexdigest()
    tunnelled = Credential(name="prod", host="h.example.com", database="dev", user="u", ssh_host="b", ssh_user="t")
    assert integration_fingerprint(tunnelled, integration) != plain
    accepted = Credential(**{**vars(tunnelled), "ssh_host_key": "ssh-ed25519 AAAA"})
    assert integration_fingerprint(accepted, integration) == integration_fingerprint(tunnelled, integration)
