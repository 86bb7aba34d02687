"""The app catches the one error family: an error the product expects (a ``CdiError``) is shown
in the error dialog and the app carries on; anything else is a bug and reaches the crash
report (the app stops with exit 1), never a dialog that hides it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.worker import WorkerFailed
from tui_world import SIZES, make_app, open_integration, settle

from cdi_tui.cli.app import finished
from cdi_tui.runlog import RunLogUnavailable
from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.screens.modals import ErrorModal
from cdi_tui.workspace import RunInProgress

ACTIVE = "user-attributes"  # active and tested in the fixed world


def failing(error: BaseException) -> Callable[..., Any]:
    def fail(*_args: object, **_kwargs: object) -> Any:
        raise error

    return fail


async def sync_now(pilot: Pilot[Any]) -> None:
    """Sync Now, as the command palette's "Sync now: user-attributes" does."""
    app = pilot.app
    assert isinstance(app, CdiApp)
    app.workspace.sync = failing(app.failure)  # type: ignore[attr-defined,method-assign]
    app.action_sync_integration(ACTIVE)
    await settle(pilot)


async def read_the_run_history(pilot: Pilot[Any]) -> None:
    """Open an integration: its run history is read in a worker."""
    app = pilot.app
    assert isinstance(app, CdiApp)
    app.workspace.runs = failing(app.failure)  # type: ignore[attr-defined,method-assign]
    await open_integration(pilot)


ENTRY_POINTS: dict[str, tuple[Callable[[Pilot[Any]], Awaitable[None]], str]] = {
    # a worker that catches the family itself (the sync runner)
    "sync": (sync_now, f"Sync of {ACTIVE} did not run"),
    # a worker whose failure the screen handles (Worker.StateChanged)
    "run history": (read_the_run_history, "The run history could not be read"),
}
EXPECTED = {
    "sync": RunInProgress(f"a run of '{ACTIVE}' is under way in another process"),
    "run history": RunLogUnavailable(Path("/home/data/runs.sqlite3"), "disk I/O error"),
}


@pytest.fixture
def app(tmp_path: Path) -> CdiApp:
    return make_app(tmp_path / "home")


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
async def test_an_expected_error_is_shown_in_the_error_dialog_and_the_app_carries_on(app: CdiApp, entry: str) -> None:
    action, title = ENTRY_POINTS[entry]
    app.failure = EXPECTED[entry]  # type: ignore[attr-defined]
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await settle(pilot)
        await action(pilot)
        modal = app.screen
        assert isinstance(modal, ErrorModal)
        assert modal.title_text == title and str(EXPECTED[entry]) in modal.message
        await pilot.pause(0.2)
        assert app.is_running
    assert app.crash_notes == [] and finished(app) == 0


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
async def test_an_unexpected_error_reaches_the_crash_report_not_a_dialog(app: CdiApp, entry: str) -> None:
    action, _title = ENTRY_POINTS[entry]
    app.failure = ZeroDivisionError("a bug in the product")  # type: ignore[attr-defined]
    shown: list[str] = []
    with pytest.raises((ZeroDivisionError, WorkerFailed), match="a bug in the product"):
        async with app.run_test(size=SIZES["140x45"]) as pilot:
            await settle(pilot)
            app.show_error = lambda title, *_rest: shown.append(title)  # type: ignore[method-assign]
            await action(pilot)
    assert shown == []
    assert [note for note in app.crash_notes if "the app stopped on an error" in note and "a bug in the product" in note]
    assert app.return_code == 1 and finished(app) == 1
