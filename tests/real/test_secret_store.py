"""Secrets through a real Secret Service (dbus-daemon + gnome-keyring), never in files."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keyring
import pytest
from forked_cli import run_cdi

from cdi_tui.paths import app_paths
from cdi_tui.secret_store import (
    KeyringCredentials,
    MemoryCredentials,
    SecretMissing,
    braze_key_account,
    credential_account,
    credential_env_var,
    ssh_key_account,
)
from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.demo_data import create_table_sql
from cdi_tui.standins.postgres import RedshiftStandIn, quote_ident
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


def files_written(roots: list[Path], since: float, skip: tuple[Path, ...] = ()) -> list[Path]:
    """Regular files under ``roots`` changed at or after ``since`` (links not followed, ``skip`` left out)."""
    found: list[Path] = []
    for root in roots:
        for folder, folders, names in os.walk(root):
            here = Path(folder)
            folders[:] = [name for name in folders if here / name not in skip]
            for name in names:
                path = here / name
                with contextlib.suppress(OSError):
                    info = path.lstat()
                    if stat.S_ISREG(info.st_mode) and max(info.st_mtime, info.st_ctime) >= since and info.st_size <= 64 << 20:
                        found.append(path)
    return found


def leaks(paths: list[Path], secrets: dict[str, str]) -> list[str]:
    """Where a secret shows: in a file's name or in its bytes."""
    found = []
    for path in paths:
        with contextlib.suppress(OSError):
            content = path.read_bytes()
            for what, secret in secrets.items():
                if secret in str(path) or secret.encode() in content:
                    found.append(f"{what} in {path}")
    return found


def test_no_secret_is_written_to_any_file_the_process_can_write(
    secret_service: SecretService, redshift: RedshiftStandIn, tmp_path: Path, unique_name: str
) -> None:
    """Every secret cdi-tui handles (keyring and environment alike), through the commands that
    use them, then looked for in every file the process could write: its CDI_TUI_HOME (config,
    run log, logs), its HOME and XDG folders, its working folder, its TMPDIR, and whatever
    changed in the machine's temporary folder meanwhile."""
    started = time.time() - 1
    secrets = {
        "Braze key": f"braze-key-{unique_name}",
        "Braze key from the environment": f"braze-env-key-{unique_name}",
        "warehouse password": f"Pw-{unique_name}-warehouse",
        "wrong warehouse password": f"Pw-{unique_name}-wrong",
        "tunnel credential password": f"Pw-{unique_name}-tunnel",
        "SMTP password": f"Pw-{unique_name}-smtp",
    }
    schema, user = unique_name, f"{unique_name}_u"
    redshift.create_user(user, secrets["warehouse password"])
    redshift.admin_execute([
        f"CREATE SCHEMA {schema}",
        f"GRANT USAGE ON SCHEMA {schema} TO {quote_ident(user)}",
        create_table_sql(schema, "attrs", "attributes"),
        f"INSERT INTO {schema}.attrs (updated_at, external_id, payload) "
        "SELECT timestamptz '2026-03-01 12:00:00+00' + (g || ' seconds')::interval, 'user-' || g, '{\"n\": 1}' "
        "FROM generate_series(1, 100) g",
        f"GRANT SELECT ON {schema}.attrs TO {quote_ident(user)}",
    ])  # fmt: skip
    braze = BrazeStandIn(api_keys=(secrets["Braze key"], secrets["Braze key from the environment"])).start()
    folders = {name: tmp_path / name for name in ("cdi-home", "home", "tmp", "cwd", "xdg")}
    for folder in folders.values():
        folder.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "CDI_TUI_DEBUG"}  # the users' path: errors to the log
    env.update(
        {
            "CDI_TUI_HOME": str(folders["cdi-home"]),
            "HOME": str(folders["home"]),
            "TMPDIR": str(folders["tmp"]),
            "XDG_DATA_HOME": str(folders["xdg"] / "data"),
            "XDG_CONFIG_HOME": str(folders["xdg"] / "config"),
            "XDG_CACHE_HOME": str(folders["xdg"] / "cache"),
            "XDG_STATE_HOME": str(folders["xdg"] / "state"),
        }
    )

    def cli(*args: str, stdin: str = "", extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_cdi(args, input=stdin, env={**env, **(extra or {})}, cwd=folders["cwd"], timeout=120)

    try:
        steps = [
            cli("braze", "set", "--endpoint", braze.url, stdin=secrets["Braze key"] + "\n"),
            cli("braze", "check"),
            cli("credentials", "add", "wh", "--host", "127.0.0.1", "--port", str(redshift.port), "--database", "postgres",
                "--user", user, "--sslmode", "disable", stdin=secrets["warehouse password"] + "\n"),
            cli("credentials", "add", "tun", "--host", "127.0.0.1", "--database", "postgres", "--user", user,
                "--ssh-host", "127.0.0.1", "--ssh-user", "tunnel", "--ssh-generate-key",
                stdin=secrets["tunnel credential password"] + "\n"),
            cli("smtp", "set", "--host", "127.0.0.1", "--port", "2525", "--from", "cdi@example.com", "--user", "mailer",
                stdin=secrets["SMTP password"] + "\n"),
            cli("integrations", "add", "attrs", "--credential", "wh", "--table", f"{schema}.attrs", "--data-type",
                "attributes", "--contact-email", "ops@example.com"),
            cli("test", "attrs"),
            cli("activate", "attrs"),
            cli("sync", "attrs", "--json"),
            cli("credentials", "list", "--json"),
            cli("braze", "show", "--json"),
        ]  # fmt: skip
        for result in steps:
            assert result.returncode == 0, result.stderr
        redshift.admin_execute(f"UPDATE {schema}.attrs SET updated_at = updated_at + interval '1 day'")
        from_env = cli(
            "sync", "attrs", "--full-resync", extra={"CDI_TUI_BRAZE_API_KEY": secrets["Braze key from the environment"]}
        )
        assert from_env.returncode == 0, from_env.stderr
        assert cli("credentials", "password", "wh", stdin=secrets["wrong warehouse password"] + "\n").returncode == 0
        refused = cli("test", "attrs")
        assert refused.returncode == 1 and "password" in refused.stdout.lower()
        private_key = KeyringCredentials.for_home(app_paths(folders["cdi-home"])).get(ssh_key_account("tun"))
        assert private_key is not None
        body = [line for line in private_key.splitlines() if line and not line.startswith("-----")]
        # the first line of every unencrypted OpenSSH Ed25519 key is the same (its format's magic,
        # "none" cipher and key type): another test's key file holds it too; the rest is this key's
        for number, part in enumerate(body[1:], start=1):
            secrets[f"line {number} of the tunnel's private key"] = part
        assert {obj["external_id"] for obj in braze.objects("attributes")} == {f"user-{n}" for n in range(1, 101)}
        assert braze.stats.unauthorized == 0  # the key from the environment was the one sent
    finally:
        braze.stop()
        redshift.admin_execute(f"DROP SCHEMA {schema} CASCADE")

    for what, secret in secrets.items():  # none on the command lines' output either
        assert all(secret not in result.stdout + result.stderr for result in [*steps, from_env, refused]), what
    temporary = {Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")}
    written = files_written([tmp_path, *temporary], started, skip=(redshift.base_dir,))
    names = {path.name for path in written}
    assert {"config.toml", "runs.sqlite3", "delivered.sqlite3", "cdi-tui.log"} <= names  # the scan saw what was written
    assert f"{schema}.attrs".encode() in (folders["cdi-home"] / "config.toml").read_bytes()
    assert leaks(written, secrets) == []


def test_an_environment_variable_wins_and_is_never_written(
    secret_service: SecretService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, unique_name: str
) -> None:
    started = time.time() - 1
    home = tmp_path / "user-home"  # the process's HOME for this test: whatever it writes there is looked at
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(variable, str(home / variable.lower()))
    store = KeyringCredentials.for_home(app_paths(tmp_path / "home"))
    name = f"prod-{unique_name}"
    from_env = f"from-env-{unique_name}"
    monkeypatch.setenv(credential_env_var(name), from_env)
    assert credential_env_var("prod-eu.1") == "CDI_TUI_PASSWORD_PROD_EU_1"
    assert store.get(credential_account(name)) == from_env
    assert store.require(credential_account(name), "password") == from_env
    # never written: not to the keyring behind the variable, nor to any file (the keyring's own
    # files, HOME, the temporary folder)
    assert keyring.get_password(store.service, credential_account(name)) is None
    assert Path.home() == home
    written = files_written([tmp_path, secret_service.folder, Path(tempfile.gettempdir()), Path("/tmp")], started)
    assert leaks(written, {"the variable's password": from_env}) == []
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
