"""The command line as a user runs it: a real process, real stand-ins."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from forked_cli import run_cdi


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return run_cdi(args, env=env or os.environ.copy(), timeout=timeout)


def test_paths_follow_cdi_tui_home(tmp_path: Path) -> None:
    env = {**os.environ, "CDI_TUI_HOME": str(tmp_path / "h")}
    result = run_cli("paths", "--json", env=env)
    assert result.returncode == 0, result.stderr
    paths = json.loads(result.stdout)
    assert paths["config"] == str(tmp_path / "h" / "config.toml")
    assert paths["run_log"].startswith(str(tmp_path / "h" / "data"))
    assert paths["logs"] == str(tmp_path / "h" / "data" / "logs")
    assert paths["keyring_service"].startswith("cdi-tui:") and len(paths["keyring_service"]) == len("cdi-tui:") + 16
    human = run_cli("paths", env=env)
    assert str(tmp_path / "h" / "config.toml") in human.stdout


def test_an_unknown_command_is_a_usage_error_without_a_traceback() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_a_broken_config_is_one_line_naming_the_file_and_is_left_alone(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    broken = '[integrations.x]\ncredential = "nope"\ntable = "a.b"\ndata_type = "events"\n'
    (home / "config.toml").write_text(broken)
    env = {**os.environ, "CDI_TUI_HOME": str(home)}
    for args in (["integrations", "list"], ["integrations", "remove", "x"]):
        result = run_cli(*args, env=env)
        assert result.returncode == 1
        assert result.stderr.strip().count("\n") == 0
        assert str(home / "config.toml") in result.stderr and "no credential named 'nope'" in result.stderr
    assert (home / "config.toml").read_text() == broken


@pytest.mark.real
def test_demo_prints_a_passing_connection_test_and_a_preview_for_every_data_type(tmp_path: Path) -> None:
    env = {**os.environ, "CDI_TUI_HOME": str(tmp_path / "users-own-home"), "COLUMNS": "160"}
    result = run_cli("demo", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("demo-attributes", "demo-events", "demo-purchases", "demo-deletes", "demo-catalogs"):
        assert name in result.stdout
    assert result.stdout.count("Connection test passed") == 5
    assert result.stdout.count("Preview: newest") == 5
    assert "lead-42" in result.stdout  # a preview row
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["connection_tests_failed"] == 0
    # the demo also runs a real sync of each integration (a handful of rows are invalid on purpose)
    sent = {run["integration"]: (run["status"], run["sent"], run["failed"]) for run in summary["runs"]}
    assert sent == {
        "demo-attributes": ("partial", 3002, 6),
        "demo-events": ("partial", 2000, 5),
        "demo-purchases": ("partial", 1000, 5),
        "demo-deletes": ("partial", 200, 3),
        "demo-catalogs": ("partial", 503, 4),  # 500 items and 3 deletes; the 4th mistake is refused by Braze
    }
    assert "catalog products: 497 items held" in result.stdout
    # the user's own home is never touched
    assert not (tmp_path / "users-own-home").exists()
