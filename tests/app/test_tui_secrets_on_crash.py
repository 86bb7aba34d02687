"""A secret typed into the app never reaches the terminal when something breaks: the save
handlers that hold one show the failure in one line and carry on, and a crash report shows
where it broke without the local variables (which may hold a key or a password)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui import click, type_into, wait_for
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Button, Label, TabbedContent
from tui_world import make_app, settle

from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.screens.credentials import CredentialForm, CredentialsScreen
from cdi_tui.tui.screens.modals import ErrorModal

BRAZE_KEY = "BRAZEKEY-s3cr3t-4f1d2c"
SMTP_PASSWORD = "smtp-Pa55-9c8b7a"
NEW_PASSWORD = "warehouse-Pa55-1a2b3c"


def break_the_config(app: CdiApp) -> None:
    """The config file is broken under the open app (a bad hand edit): every save now fails."""
    app.workspace.paths.config_file.write_text("[braze\nendpoint = \n", encoding="utf-8")


def error_text(app: CdiApp) -> str:
    assert isinstance(app.screen, ErrorModal), app.screen
    return app.screen.message


@pytest.fixture
def app(tmp_path: Path) -> CdiApp:
    return make_app(tmp_path / "home")


async def test_saving_the_braze_key_on_a_broken_config_says_so_in_one_line_and_carries_on(app: CdiApp) -> None:
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialsScreen))
        app.screen.query_one(TabbedContent).active = "braze-tab"
        await settle(pilot)
        await type_into(pilot, "#api-key", BRAZE_KEY)
        break_the_config(app)
        await click(pilot, "#save-braze")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal))
        message = error_text(app)
        assert "config.toml" in message and "\n" not in message and BRAZE_KEY not in message
        assert app.is_running


async def test_saving_smtp_settings_on_a_broken_config_says_so_in_one_line_and_carries_on(app: CdiApp) -> None:
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialsScreen))
        app.screen.query_one(TabbedContent).active = "smtp-tab"
        await settle(pilot)
        await type_into(pilot, "#smtp-host Input", "smtp.example.com")
        await type_into(pilot, "#smtp-sender Input", "cdi@example.com")
        await type_into(pilot, "#smtp-user Input", "mailer")
        await type_into(pilot, "#smtp-password", SMTP_PASSWORD)
        break_the_config(app)
        await click(pilot, "#save-smtp")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal))
        message = error_text(app)
        assert "config.toml" in message and "\n" not in message and SMTP_PASSWORD not in message
        assert app.is_running


async def test_changing_a_password_on_a_broken_config_says_so_in_one_line_and_carries_on(app: CdiApp) -> None:
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialsScreen))
        await settle(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialForm))
        await type_into(pilot, "#field-password Input", NEW_PASSWORD)
        break_the_config(app)
        await click(pilot, "#save")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal))
        message = error_text(app)
        assert "config.toml" in message and "\n" not in message and NEW_PASSWORD not in message
        assert app.is_running


class Breaks(Screen[None]):
    """A screen whose handler fails while a secret is in one of its local variables."""

    def compose(self) -> ComposeResult:
        yield Label("about to break")
        yield Button("Break", id="break")

    def on_button_pressed(self) -> None:
        api_key = BRAZE_KEY  # what a save handler holds while it works
        raise RuntimeError(f"an unexpected failure ({len(api_key)} characters)")


async def test_a_crash_report_shows_where_it_broke_but_no_local_variable(app: CdiApp, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(100, 30)) as pilot:
            await app.push_screen(Breaks())
            await pilot.pause()
            await click(pilot, "#break")
            await pilot.pause()
    crash = capfd.readouterr()
    output = crash.out + crash.err
    assert "RuntimeError" in output and "an unexpected failure" in output and "on_button_pressed" in output
    assert BRAZE_KEY not in output
    assert any("the app stopped on an error" in note for note in app.crash_notes)
