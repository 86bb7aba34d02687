"""Secrets stay in their home: each CDI_TUI_HOME has keyring items of its own on a real Secret
Service, items an older version kept under the shared ``cdi-tui`` service move into the
default home, and a secret with a control character is refused where it comes in."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.errors
import pytest
from forked_cli import run_cdi

from cdi_tui.paths import AppPaths, app_paths, default_paths
from cdi_tui.secret_store import (
    SERVICE_NAME,
    KeyringCredentials,
    braze_key_account,
    credential_account,
    home_keyring_service,
)
from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.secret_service import SecretService

pytestmark = pytest.mark.real


def cdi(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_cdi(args, input=stdin, env=env, timeout=120)


def home_env(home: Path | None, tmp_path: Path) -> dict[str, str]:
    """A command's environment: ``home`` as CDI_TUI_HOME, or (None) the platform's folders under tmp_path."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"), "XDG_DATA_HOME": str(tmp_path / "xdg-data")}
    env.pop("CDI_TUI_HOME", None)
    if home is not None:
        env["CDI_TUI_HOME"] = str(home)
    return env


@pytest.fixture
def other_braze() -> Iterator[BrazeStandIn]:
    """A second Braze endpoint that would accept the first home's key if it were ever sent."""
    standin = BrazeStandIn(api_keys=("test-key",)).start()
    try:
        yield standin
    finally:
        standin.stop()


def test_a_second_home_never_sees_the_first_homes_secrets(
    secret_service: SecretService, braze: BrazeStandIn, other_braze: BrazeStandIn, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first_env, second_env = home_env(first, tmp_path), home_env(second, tmp_path)
    assert cdi(first_env, "braze", "set", "--endpoint", braze.url, stdin="test-key\n").returncode == 0
    added = cdi(first_env, "credentials", "add", "wh", "--host", "h.example.com", "--database", "d", "--user", "u",
                stdin="first-home-password\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    # the second home has only an endpoint (its own Braze) and a credential of the same name
    second.mkdir()
    (second / "config.toml").write_text(
        f'[braze]\nendpoint = "{other_braze.url}"\n\n[credentials.wh]\nhost = "h.example.com"\ndatabase = "d"\nuser = "u"\n'
    )
    checked = cdi(second_env, "braze", "check")
    assert checked.returncode == 1 and "no Braze REST API key is stored" in checked.stderr, checked.stderr
    assert other_braze.stats.requests == 0  # the first home's key never went to the second home's endpoint
    second_store = KeyringCredentials.for_home(app_paths(second))
    assert second_store.get(credential_account("wh")) is None
    assert second_store.get(braze_key_account()) is None
    # the first home still has both, under its own service
    first_store = KeyringCredentials.for_home(app_paths(first))
    assert first_store.service != second_store.service
    assert first_store.get(braze_key_account()) == "test-key"
    assert first_store.get(credential_account("wh")) == "first-home-password"
    assert keyring.get_password(first_store.service, credential_account("wh")) == "first-home-password"
    assert cdi(first_env, "braze", "check").returncode == 0
    first_store.delete(credential_account("wh"))
    first_store.delete(braze_key_account())


def test_items_of_an_older_version_move_into_the_default_home_and_no_other(
    secret_service: SecretService, braze: BrazeStandIn, tmp_path: Path, unique_name: str
) -> None:
    legacy_password = f"legacy-{unique_name}"
    keyring.set_password(SERVICE_NAME, braze_key_account(), "test-key")
    keyring.set_password(SERVICE_NAME, credential_account("wh"), legacy_password)
    try:
        # another home does not take them, and says where they are
        other = tmp_path / "other"
        other.mkdir()
        (other / "config.toml").write_text(f'[braze]\nendpoint = "{braze.url}"\n')
        refused = cdi(home_env(other, tmp_path), "braze", "check")
        assert refused.returncode == 1 and "older cdi-tui" in refused.stderr and "default home" in refused.stderr
        assert keyring.get_password(SERVICE_NAME, braze_key_account()) == "test-key"  # left where it was
        # the default home (the platform's folders) adopts them when it first asks
        default_env = home_env(None, tmp_path)
        config = tmp_path / "xdg-config" / "cdi-tui" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(f'[braze]\nendpoint = "{braze.url}"\n\n[credentials.wh]\nhost = "h"\ndatabase = "d"\nuser = "u"\n')
        checked = cdi(default_env, "braze", "check")
        assert checked.returncode == 0, checked.stderr
        default_service = home_keyring_service(default_paths_under(tmp_path))
        assert keyring.get_password(default_service, braze_key_account()) == "test-key"
        assert keyring.get_password(SERVICE_NAME, braze_key_account()) is None  # moved, not copied
        changed = cdi(default_env, "credentials", "password", "wh", stdin="new-password\n")
        assert changed.returncode == 0, changed.stderr
        assert keyring.get_password(default_service, credential_account("wh")) == "new-password"
        assert keyring.get_password(SERVICE_NAME, credential_account("wh")) is None  # no stale old copy left behind
    finally:
        for service in (SERVICE_NAME, home_keyring_service(default_paths_under(tmp_path))):
            for account in (braze_key_account(), credential_account("wh")):
                with contextlib.suppress(keyring.errors.PasswordDeleteError):
                    keyring.delete_password(service, account)


def default_paths_under(tmp_path: Path) -> AppPaths:
    saved = {key: os.environ.get(key) for key in ("XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    os.environ["XDG_CONFIG_HOME"], os.environ["XDG_DATA_HOME"] = str(tmp_path / "xdg-config"), str(tmp_path / "xdg-data")
    try:
        return default_paths()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.parametrize("secret", ["key\rX-Injected: 1", "key\x1b]52;c;aGk=\x07", "key\x00X-Injected"])
def test_a_typed_secret_with_a_control_character_is_refused_and_nothing_is_saved(
    secret_service: SecretService, braze: BrazeStandIn, tmp_path: Path, secret: str
) -> None:
    result = cdi(home_env(tmp_path / "home", tmp_path), "braze", "set", "--endpoint", braze.url, stdin=secret + "\n")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "control character" in result.stderr and "X-Injected" not in result.stderr
    assert not (tmp_path / "home" / "config.toml").exists()
    assert KeyringCredentials.for_home(app_paths(tmp_path / "home")).get(braze_key_account()) is None


@pytest.mark.parametrize("secret", ["key\r\nX-Injected: 1", "key\nX-Injected: 1", "key\x1b[31mX-Injected"])
def test_a_secret_in_the_environment_with_a_control_character_is_refused_before_anything_is_sent(
    secret_service: SecretService, braze: BrazeStandIn, tmp_path: Path, secret: str
) -> None:
    env = home_env(tmp_path / "home", tmp_path)
    assert cdi(env, "braze", "set", "--endpoint", braze.url, stdin="test-key\n").returncode == 0
    requests_before = braze.stats.requests
    checked = cdi({**env, "CDI_TUI_BRAZE_API_KEY": secret}, "braze", "check")
    assert checked.returncode == 1 and checked.stderr.count("\n") == 1, checked.stderr
    assert "CDI_TUI_BRAZE_API_KEY" in checked.stderr and "X-Injected" not in checked.stderr
    assert braze.stats.requests == requests_before
    KeyringCredentials.for_home(app_paths(tmp_path / "home")).delete(braze_key_account())


def test_a_passphrase_with_a_control_character_is_refused_before_the_credential_is_saved(
    secret_service: SecretService, tmp_path: Path
) -> None:
    import asyncssh

    key_file = tmp_path / "tunnel_key"
    key_file.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh", passphrase="a\rb"))
    key_file.chmod(0o600)
    home = tmp_path / "home"
    added = cdi(
        home_env(home, tmp_path), "credentials", "add", "wh", "--host", "h.example.com", "--database", "d", "--user", "u",
        "--ssh-host", "bastion.example.com", "--ssh-user", "tunnel", "--ssh-key", str(key_file),
        stdin="good-password\na\rb\n",
    )  # fmt: skip
    assert added.returncode == 1 and added.stderr.count("\n") == 1, added.stderr
    assert "passphrase" in added.stderr and "control character" in added.stderr
    assert not (home / "config.toml").exists() or "[credentials.wh]" not in (home / "config.toml").read_text()
    assert KeyringCredentials.for_home(app_paths(home)).get(credential_account("wh")) is None
