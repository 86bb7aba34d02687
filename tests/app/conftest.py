"""The app's tests: Textual's Pilot and snapshots (``app`` marker; ``pytest tests/app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.screen import Screen
from tui_world import draw_frame

APP_FOLDER = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if APP_FOLDER in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.app)


@pytest.fixture(autouse=True)
def no_animations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrolls jump instead of gliding (TEXTUAL_ANIMATIONS=none): the tests look at where things
    end, and each glide drew the screen about 60 times a second until it ended."""
    import textual.constants

    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(autouse=True)
def frames_drawn_when_looked_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A headless app draws each frame and throws it away (Textual's headless driver writes
    nothing): skipping that took the app tests' CPU to x0.88 (farm-bench, paired). Here the current screen's frames are drawn
    when a test looks, not after every key: in full at each ``settle`` (tui_world), whenever a
    test takes a screenshot or reads the terminal output, and once more as the test ends, so a
    widget whose drawing raises still fails the test. Layout runs as before (regions, focus,
    clicks and visibility are what users get); screens under the current one draw as before."""
    refresh = Screen._compositor_refresh

    def refresh_unless_headless(screen: Screen[Any]) -> None:
        app = screen.app
        if app.is_headless and screen is app.screen and not app.is_inline:
            screen._compositor._dirty_regions.clear()  # the next frame drawn is a full one
            return
        refresh(screen)

    monkeypatch.setattr(Screen, "_compositor_refresh", refresh_unless_headless)
    run_test = App.run_test

    @asynccontextmanager
    async def run_test_then_draw(app: App[Any], *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with run_test(app, *args, **kwargs) as pilot:
            yield pilot
            if app.is_running and app._driver is not None and app.screen_stack:
                draw_frame(app)

    monkeypatch.setattr(App, "run_test", run_test_then_draw)
    yield
