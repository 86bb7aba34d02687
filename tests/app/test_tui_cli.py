"""The app's entry points outside a terminal, and the demo's promises (one table free, a large
integration added in the background, no hint that cannot work once the demo's home is gone)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdi_tui.standins.demo import BULK_INTEGRATION, DemoEnvironment
from cdi_tui.standins.demo_data import BULK_TABLE, DEMO_TABLES


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDI_TUI_HOME": str(home), "TERM": "xterm-256color"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("cdi-tui")), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_no_command_without_a_terminal_prints_the_help_and_exits_2(tmp_path: Path) -> None:
    result = run_cli(home=tmp_path)
    assert result.returncode == 2
    assert "usage: cdi-tui" in result.stderr and "the app needs a terminal" in result.stderr
    assert "\x1b" not in result.stdout + result.stderr  # no escape codes into the pipe


def test_paths_does_not_suggest_the_home_variable_when_it_is_set(tmp_path: Path) -> None:
    result = run_cli("paths", home=tmp_path)
    assert result.returncode == 0
    assert "set CDI_TUI_HOME" not in result.stdout and f"CDI_TUI_HOME={tmp_path}" in result.stdout


@pytest.mark.real
def test_the_demo_report_ends_without_a_hint_that_needs_its_removed_home(tmp_path: Path) -> None:
    result = run_cli("demo", "--no-app", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "cdi-tui errors" not in result.stdout
    assert "failed:" in result.stdout  # the failed rows are printed while the demo's run log exists
    assert "\x1b" not in result.stdout + result.stderr


@pytest.mark.real
def test_the_demo_keeps_a_table_free_and_fills_a_large_one_on_request() -> None:
    from cdi_tui.workspace import Workspace

    free = [table for table in DEMO_TABLES if table.free]
    assert len(free) == 1
    with DemoEnvironment() as demo:
        workspace = Workspace(demo.paths, demo.secrets)
        try:
            config = workspace.config()
            used = {integration.table.split(".", 1)[1] for integration in config.integrations.values()}
            assert free[0].qualified not in used
            integration = demo.create_bulk_table()
            workspace.add_integration(integration)
            result = workspace.test_integration(BULK_INTEGRATION)
            assert result.ok and result.pending_rows is not None
            assert result.pending_rows >= BULK_TABLE.valid_rows
        finally:
            workspace.close()
