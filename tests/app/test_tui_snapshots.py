"""Snapshots of every screen and modal at 80x24 and 140x45, on fixed data and a fixed clock
(pytest-textual-snapshot).

Review the report before accepting changes with ``pytest --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tui_world import SCREENS, SIZES, make_app, open_integration, settle


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_each_screen_looks_as_reviewed(snap_compare: Any, tmp_path: Path, screen: str, size: str) -> None:
    assert snap_compare(make_app(tmp_path / "home"), run_before=SCREENS[screen], terminal_size=SIZES[size])


@pytest.mark.parametrize("size", sorted(SIZES))
def test_the_empty_dashboard_is_a_setup_checklist(snap_compare: Any, tmp_path: Path, size: str) -> None:
    assert snap_compare(make_app(tmp_path / "home", empty=True), run_before=settle, terminal_size=SIZES[size])


async def _integration_screenshot(home: Path, setup_first: bool) -> str:
    app = make_app(home)
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        if setup_first:
            await pilot.press("n")  # the setup's styles are loaded ...
            await settle(pilot)
            await pilot.press("escape")  # ... and it is left with nothing to keep
            await settle(pilot)
        await open_integration(pilot)
        await pilot.pause(0.2)
        screenshot = app.export_screenshot()
    app.workspace.close()
    return screenshot


async def test_the_integration_screen_looks_the_same_after_the_setup_was_opened(tmp_path: Path) -> None:
    fresh = await _integration_screenshot(tmp_path / "fresh", setup_first=False)
    after_setup = await _integration_screenshot(tmp_path / "after", setup_first=True)
    assert "Runs&#160;(5)" in fresh  # the integration screen, with its runs
    assert after_setup == fresh


def test_the_integration_screen_after_the_setup_matches_its_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    async def setup_then_integration(pilot: Any) -> None:
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        await open_integration(pilot)

    assert snap_compare(make_app(tmp_path / "home"), run_before=setup_then_integration, terminal_size=SIZES["140x45"])
