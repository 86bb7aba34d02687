"""Snapshots of every screen on fixed data and a fixed clock (pytest-textual-snapshot).

Review the report before accepting changes with ``pytest --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tui_world import SCREENS, SIZE, make_app, settle


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_each_screen_looks_as_reviewed(snap_compare: Any, tmp_path: Path, screen: str) -> None:
    assert snap_compare(make_app(tmp_path / "home"), run_before=SCREENS[screen], terminal_size=SIZE)


def test_the_empty_dashboard_invites_a_first_integration(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path / "home", empty=True), run_before=settle, terminal_size=SIZE)
