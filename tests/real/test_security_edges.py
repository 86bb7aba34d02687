"""The smaller findings of the security review, each through the part a user meets: loopback
decided by the address, TLS modes that do not check the host name, CSV exports, the config
file's and the SSH key file's permissions, control characters in secrets."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest
from forked_cli import run_cdi
from helpers import FAST, SyncEnv, at

from cdi_tui.braze.client import BrazeEndpointError, check_base_url
from cdi_tui.fields import FieldError, is_loopback_host, validate_endpoint
from cdi_tui.warehouse.errors import SSH_KEY, WarehouseError
from cdi_tui.warehouse.source import ConnectionSettings
from cdi_tui.warehouse.tunnel import SshSettings, SshTunnel, generate_key_pair


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.attacker.example", False),
        ("127.0.0.1.attacker.example", False),
        ("1270.0.0.1", False),
        ("10.0.0.1", False),
        ("::2", False),
        ("localhost.attacker.example", False),
        ("", False),
    ],
)
def test_loopback_is_decided_by_the_address_not_by_how_the_name_starts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_plain_http_to_a_name_that_only_looks_like_loopback_is_refused() -> None:
    with pytest.raises(FieldError, match="loopback"):
        validate_endpoint("http://127.attacker.example")
    with pytest.raises(BrazeEndpointError):
        check_base_url("http://127.attacker.example:8080")
    assert validate_endpoint("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


def test_braze_set_refuses_plain_http_to_a_look_alike_host_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CDI_TUI_HOME": str(tmp_path / "home")}
    result = run_cdi(["braze", "set", "--endpoint", "http://127.attacker.example"], input="a-key\n", env=env, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "loopback" in result.stderr and not (tmp_path / "home" / "config.toml").exists()


def test_disabled_tls_to_a_look_alike_host_is_warned_about() -> None:
    warnings = ConnectionSettings("127.attacker.example", 5439, "d", "u", "p", sslmode="disable").warnings()
    assert warnings and "unencrypted" in warnings[0]


@pytest.mark.parametrize("sslmode", ["require", "verify-ca"])
def test_tls_modes_that_skip_the_host_name_are_warned_about(sslmode: str) -> None:
    warnings = ConnectionSettings("cluster.example.com", 5439, "d", "u", "p", sslmode=sslmode).warnings()
    assert len(warnings) == 1 and "host name" in warnings[0] and "verify-full" in warnings[0]
    assert ConnectionSettings("cluster.example.com", 5439, "d", "u", "p", sslmode="verify-full").warnings() == []


# CSV exports ------------------------------------------------------------------------------------


def cli(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDI_TUI_HOME": str(home)}
    return run_cdi(args, input=stdin, env=env, timeout=120)


@pytest.mark.real
def test_a_csv_export_runs_no_formula_carries_no_escape_is_0600_and_follows_no_link(env: SyncEnv, tmp_path: Path) -> None:
    env.create_integration("rows", "events")
    env.insert(
        "rows",
        [
            {"updated_at": at(1), "external_id": "u1", "payload": '=HYPERLINK("http://evil.example","open")'},
            {"updated_at": at(2), "external_id": "u2", "payload": "@SUM(1+1)\x1b]0;owned\x07"},
            {"updated_at": at(3), "external_id": "u3", "payload": "+cmd|' /C calc'!A0"},
        ],
    )
    record = env.ws.sync("rows", FAST)
    assert record.rows_failed == 3
    home = env.paths.config_file.parent
    export = tmp_path / "failed.csv"
    export.write_text("an older export\n")
    export.chmod(0o644)
    result = cli(home, "errors", str(record.id), "--csv", str(export))
    assert result.returncode == 0, result.stderr
    assert export.stat().st_mode & 0o777 == 0o600
    content = export.read_bytes()
    assert b"\x1b" not in content and b"\x07" not in content and b"\\x1b]0;owned\\x07" in content
    with open(export, newline="", encoding="utf-8") as stream:
        cells = [cell for row in csv.reader(stream) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert '\'=HYPERLINK("http://evil.example","open")' in cells and "'+cmd|' /C calc'!A0" in cells
    # a symbolic link planted where the export goes is refused, and what it points to is untouched
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "link.csv"
    link.symlink_to(victim)
    refused = cli(home, "errors", str(record.id), "--csv", str(link))
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "symbolic link" in refused.stderr
    assert victim.read_text() == "keep me\n" and link.is_symlink()


# the config file and the SSH key file ------------------------------------------------------------


def test_a_config_file_other_users_can_change_is_refused_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    config = home / "config.toml"
    config.write_text('[braze]\nendpoint = "US-03"\n')
    config.chmod(0o600)
    assert cli(home, "braze", "show").returncode == 0
    for mode in (0o664, 0o646):
        config.chmod(mode)
        refused = cli(home, "braze", "show")
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
        assert "other users" in refused.stderr and "chmod 600" in refused.stderr
    config.chmod(0o600)
    if os.geteuid() == 0:  # only root can give a file away
        os.chown(config, 12345, 12345)
        refused = cli(home, "braze", "show")
        assert refused.returncode == 1 and "another user" in refused.stderr
        os.chown(config, 0, 0)


def test_an_ssh_key_file_other_users_can_read_is_refused_before_connecting(tmp_path: Path) -> None:
    private_key, _ = generate_key_pair("cdi-tui:test")
    key_file = tmp_path / "tunnel_key"
    key_file.write_text(private_key)
    key_file.chmod(0o644)
    settings = SshSettings(host="127.0.0.1", port=1, user="tunnel", key_path=str(key_file), known_hosts=None)
    with pytest.raises(WarehouseError) as refused:
        SshTunnel(settings, "127.0.0.1", 5439).open()
    assert refused.value.kind == SSH_KEY and "other users" in refused.value.message and "chmod 600" in refused.value.fix
    home = tmp_path / "home"
    added = cli(
        home, "credentials", "add", "wh", "--host", "h.example.com", "--database", "d", "--auth", "iam",
        "--region", "us-east-1", "--cluster-id", "c1", "--ssh-host", "bastion.example.com", "--ssh-user", "tunnel",
        "--ssh-key", str(key_file),
    )  # fmt: skip
    assert added.returncode == 1 and added.stderr.count("\n") == 1 and "other users" in added.stderr, added.stderr
    assert not (home / "config.toml").exists() or "wh" not in (home / "config.toml").read_text()
    key_file.chmod(0o600)
    with pytest.raises(WarehouseError) as unreachable:  # with the mode fixed, it gets as far as the (closed) port
        SshTunnel(settings, "127.0.0.1", 5439).open()
    assert unreachable.value.kind != SSH_KEY
