"""The app's tests: Textual's Pilot and snapshots (``app`` marker; ``pytest tests/app``)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
