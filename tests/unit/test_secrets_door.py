"""Secrets through the one door: the command line and the app reach the keyring only through
``Workspace``, whose secret store is private; the workspace's methods do what the front ends
used to do with the store themselves."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import asyncssh  # noqa: F401  (its first import runs ldconfig: done here, at collection, not inside a unit test)
import pytest

from cdi_tui.config import BrazeSettings, Credential
from cdi_tui.paths import app_paths
from cdi_tui.secret_store import (
    PASSWORD_ENV_PREFIX,
    KeyringCredentials,
    MemoryCredentials,
    braze_key_account,
    credential_account,
    ssh_key_account,
)
from cdi_tui.workspace import Workspace

PACKAGE = Path(__file__).resolve().parents[2] / "cdi_tui"
FRONT_ENDS = ("cli", "tui")
FORBIDDEN = ("cdi_tui.secret_store", "keyring")


def front_end_sources() -> list[Path]:
    return sorted(path for front_end in FRONT_ENDS for path in (PACKAGE / front_end).rglob("*.py"))


def imported_modules(tree: ast.AST) -> set[str]:
    """Every module a source imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_front_end_module_imports_the_secret_store_or_keyring() -> None:
    sources = front_end_sources()
    assert len(sources) > 30  # the walk reads the front ends, not an empty folder
    offenders = []
    for path in sources:
        for module in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            if any(module == forbidden or module.startswith(f"{forbidden}.") for forbidden in FORBIDDEN):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}: {module}")
    assert offenders == []


def test_no_front_end_module_touches_a_secret_store_attribute() -> None:
    """``workspace.secrets`` is gone, and ``_secrets`` is private (ruff's SLF001 refuses it too)."""
    offenders = []
    for path in front_end_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("secrets", "_secrets"):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: .{node.attr}")
    assert offenders == []


def test_an_import_contract_keeps_the_front_ends_off_the_secret_store() -> None:
    """``lint-imports`` (run by CI) checks it on every import, lazy ones included."""
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = pyproject["tool"]["importlinter"]["contracts"]
    [door] = [contract for contract in contracts if "cdi_tui.secret_store" in contract.get("forbidden_modules", ())]
    assert door["type"] == "forbidden"
    assert set(door["source_modules"]) == {"cdi_tui.cli", "cdi_tui.tui"}
    assert set(door["forbidden_modules"]) == set(FORBIDDEN)
    assert "ignore_imports" not in door  # no exception made


# --- what the front ends ask the workspace for ------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(app_paths(tmp_path / "home"), MemoryCredentials())


def test_the_braze_key_is_known_to_be_stored_once_saved(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDI_TUI_BRAZE_API_KEY", raising=False)
    assert not workspace.has_braze_key()
    workspace.set_braze(BrazeSettings(endpoint="US-03"), "braze-key")
    assert workspace.has_braze_key()
    assert workspace._secrets.get(braze_key_account()) == "braze-key"


def test_a_stored_password_is_read_with_its_environment_variable_first(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = Credential(name="wh", host="warehouse.example.com", database="dev", user="braze_user")
    monkeypatch.delenv(f"{PASSWORD_ENV_PREFIX}WH", raising=False)
    assert workspace.stored_password("wh") is None
    workspace.add_credential(credential, "from-the-keyring")
    assert workspace.stored_password("wh") == "from-the-keyring"
    monkeypatch.setenv(f"{PASSWORD_ENV_PREFIX}WH", "from-the-environment")
    assert workspace.stored_password("wh") == "from-the-environment"


def test_a_generated_tunnel_key_is_kept_and_its_public_half_handed_back(workspace: Workspace) -> None:
    credential = Credential(
        name="tunnelled", host="10.0.0.5", database="dev", user="braze_user", ssh_host="bastion.example.com", ssh_user="tunnel"
    )
    assert not workspace.has_generated_ssh_key("tunnelled")
    made = workspace.save_credential(credential, "password", generate_ssh_key=True)
    assert made is not None and made.generated and made.public_key.startswith("ssh-ed25519 ")
    assert workspace.has_generated_ssh_key("tunnelled")
    assert workspace._secrets.get(ssh_key_account("tunnelled")) != made.public_key  # the private half, kept
    assert workspace.stored_password("tunnelled") == "password"
    again = workspace.tunnel_key(workspace.config().credentials["tunnelled"])
    assert (again.public_key, again.authorized_keys_line) == (made.public_key, made.authorized_keys_line)


def test_an_iam_credential_saved_over_a_password_one_drops_the_password(workspace: Workspace) -> None:
    workspace.save_credential(Credential(name="wh", host="h.example.com", database="dev", user="u"), "old-password")
    iam = Credential(name="wh", host="h.example.com", database="dev", auth="iam", region="us-west-2", cluster_id="cluster")
    assert workspace.save_credential(iam, None, replace_existing=True) is None
    assert workspace._secrets.get(credential_account("wh")) is None


def test_where_secrets_are_kept_is_said_without_showing_the_store(tmp_path: Path) -> None:
    paths = app_paths(tmp_path / "home")
    assert Workspace(paths, MemoryCredentials()).keeps_secrets_in_memory
    in_keyring = Workspace.with_keyring(paths)  # the keyring is not opened until a secret is asked for
    assert not in_keyring.keeps_secrets_in_memory
    assert isinstance(in_keyring._secrets, KeyringCredentials)
    assert in_keyring._secrets.service == paths.keyring_service and paths.keyring_service.startswith("cdi-tui:")
