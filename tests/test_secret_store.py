"""Secrets through a real Secret Service (dbus-daemon + gnome-keyring), never in files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdi_tui.paths import app_paths
from cdi_tui.secret_store import (
    KeyringCredentials,
    MemoryCredentials,
    SecretMissing,
    braze_key_account,
    credential_account,
    credential_env_var,
)
from cdi_tui.standins.secret_service import SecretService

pytestmark = pytest.mark.real


def test_secrets_round_trip_through_the_real_secret_service(
    secret_service: SecretService, unique_name: str, tmp_path: Path
) -> None:
    store = KeyringCredentials.for_home(app_paths(tmp_path / "home"))
    store.probe()
    assert "SecretService" in store.describe()
    account = credential_account(unique_name)
    store.set(account, "pa55-w0rd!")
    # a second client (another process) sees the same secret: it really is in the keyring
    code = f"import keyring; print(keyring.get_password({store.service!r}, {account!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=60)
    assert other.stdout.strip() == "pa55-w0rd!"
    store.delete(account)
    assert store.get(account) is None
    store.delete(account)  # deleting twice is harmless


def test_no_secret_lands_in_the_caller_home_or_config(secret_service: SecretService, tmp_path: Path, unique_name: str) -> None:
    store = KeyringCredentials.for_home(app_paths(tmp_path / "home"))
    store.set(braze_key_account(), f"key-{unique_name}")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert f"key-{unique_name}".encode() not in path.read_bytes()


def test_an_environment_variable_wins_and_is_never_written(
    secret_service: SecretService, monkeypatch: pytest.MonkeyPatch, unique_name: str, tmp_path: Path
) -> None:
    store = KeyringCredentials.for_home(app_paths(tmp_path / "home"))
    name = f"prod-{unique_name}"
    monkeypatch.setenv(credential_env_var(name), "from-env")
    assert credential_env_var("prod-eu.1") == "CDI_TUI_PASSWORD_PROD_EU_1"
    assert store.get(credential_account(name)) == "from-env"
    monkeypatch.delenv(credential_env_var(name))
    assert store.get(credential_account(name)) is None


def test_a_missing_secret_says_what_to_do() -> None:
    with pytest.raises(SecretMissing, match="CDI_TUI_BRAZE_API_KEY"):
        MemoryCredentials().require(braze_key_account(), "Braze API key")


def test_keyrings_fail_backend_is_refused_with_the_fix() -> None:
    code = (
        "from cdi_tui.secret_store import KeyringCredentials, SecretsUnavailable\n"
        "try:\n    KeyringCredentials().set('credential:x', 'zq-unique-secret-9')\n"
        "except SecretsUnavailable as e:\n    print('REFUSED', e)\n"
    )
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout.startswith("REFUSED")
    assert "Secret Service" in result.stdout and "PYTHON_KEYRING_BACKEND" in result.stdout
    assert "zq-unique-secret-9" not in result.stdout + result.stderr


def test_with_no_secret_service_keyring_falls_back_to_fail_and_is_refused(tmp_path: Path) -> None:
    code = (
        "from cdi_tui.secret_store import KeyringCredentials, SecretsUnavailable\n"
        "try:\n    KeyringCredentials().probe()\n    print('USABLE')\n"
        "except SecretsUnavailable as e:\n    print('REFUSED')\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND")}
    env.update(
        {
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path),
            "XDG_RUNTIME_DIR": str(tmp_path),
        }
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout.strip() == "REFUSED"
    assert not any(path.is_file() for path in tmp_path.rglob("*"))
