"""The smaller findings of the security review, each through the part a user meets: loopback
decided by the address, TLS modes that do not check the host name, CSV exports, the config
file's and the SSH key file's permissions, control characters in secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdi_tui.braze.client import BrazeEndpointError, check_base_url
from cdi_tui.fields import FieldError, is_loopback_host, validate_endpoint
from cdi_tui.warehouse.source import ConnectionSettings


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
    result = subprocess.run(
        [sys.executable, "-m", "cdi_tui", "braze", "set", "--endpoint", "http://127.attacker.example"],
        input="a-key\n", capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
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
