"""Each defect of issue 11, driven as a user would (Pilot) on the fixed world of the snapshots.

No stand-in is needed here: these screens read and write the config and the run log only.
Defects that need Redshift or a real sync are in ``test_tui.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, TabbedContent
from textual.widgets._toast import Toast
from tui_world import SIZES, make_app, open_integration, settle, with_progress_panel

from cdi_tui.enums import DataType
from cdi_tui.secret_store import credential_account
from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.screens.credentials import CredentialForm, CredentialsScreen
from cdi_tui.tui.screens.dashboard import DashboardScreen
from cdi_tui.tui.screens.help import HelpScreen
from cdi_tui.tui.screens.integration import IntegrationScreen
from cdi_tui.tui.screens.modals import ConfirmModal, ErrorModal, TextModal
from cdi_tui.tui.screens.wizard import NewIntegrationScreen
from cdi_tui.tui.widgets.progress_panel import ProgressPanels


def visible(widget: Widget) -> bool:
    """On screen and not hidden behind anything: the widget is what a click at its middle reaches."""
    region = widget.region
    if region.area == 0:
        return False
    screen = widget.screen
    if not screen.region.contains_region(region):
        return False
    x, y = region.x + region.width // 2, region.y + region.height // 2
    hit, _ = screen.get_widget_at(x, y)
    return hit is widget or widget in hit.ancestors_with_self


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*list(text))


async def to_details(pilot: Any, table: str) -> NewIntegrationScreen:
    await pilot.press("n")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, NewIntegrationScreen)
    await type_text(pilot, table)  # the table field has the focus
    await pilot.press("enter")
    await settle(pilot)
    return screen


@pytest.fixture
def app(tmp_path: Path) -> CdiApp:
    return make_app(tmp_path / "home")


# --- the Esc crash ---------------------------------------------------------------------------


async def test_escape_after_a_refused_draft_never_crashes_and_leaves_only_when_asked(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        screen = await to_details(pilot, "INGESTION.APP_OPENS")
        assert screen.step == 1
        screen.details.name_field.set_value("app-events")  # taken by another integration
        screen.details.emails_field.set_value("crm@example.com")
        screen.details.set_data_type(DataType.EVENTS)  # chosen: no data type is preselected
        await pilot.click("#next-2")
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal) and "already exists" in app.screen.message
        await pilot.press("escape")  # closes the error
        await settle(pilot)
        await pilot.press("escape")  # leave: the draft cannot be kept, so the setup asks
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal) and "cannot be kept" in app.screen.question
        await pilot.press("escape")  # stay
        await settle(pilot)
        assert app.screen is screen
        for _ in range(3):
            await pilot.press("escape")
            await settle(pilot)
        assert app.return_code is None  # still running: no crash
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#yes")  # leave without saving
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
    assert not app.return_code  # ended normally
    assert "app-opens" not in app.workspace.config().integrations


async def test_a_table_another_integration_syncs_is_refused_at_the_first_step(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        screen = await to_details(pilot, "ingestion.events_sync")  # app-events syncs it
        assert screen.step == 0
        assert "already synced by app-events" in str(screen.connection.status.render())
        await pilot.press("escape")  # nothing to keep: a used table is no draft
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
    assert not app.return_code  # ended normally


async def test_after_back_the_setup_names_the_integration_after_the_new_table(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        screen = await to_details(pilot, "INGESTION.APP_OPENS")
        assert screen.details.name_field.raw == "APP-OPENS".lower()
        await pilot.click("#back-2")
        field = screen.connection.table_field.query_one(Input)
        field.value = "INGESTION.APP_CLOSES"
        await pilot.click("#next-1")
        await settle(pilot)
        assert screen.details.name_field.raw == "app-closes"
        screen.details.name_field.set_value("my-own-name")
        await pilot.click("#back-2")
        field.value = "INGESTION.APP_SESSIONS"
        await pilot.click("#next-1")
        await settle(pilot)
        assert screen.details.name_field.raw == "my-own-name"  # a name the user typed is kept


# --- the credential dialog --------------------------------------------------------------------


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_every_field_and_button_of_the_credential_dialog_is_reachable_by_keyboard(app: CdiApp, size: str) -> None:
    async with app.run_test(size=SIZES[size]) as pilot:
        await pilot.press("f2", "a")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, CredentialForm)
        # name, host, port, database, sign-in, user, SSL mode, password, the SSH checkbox, Save, Cancel
        await tab_through(pilot, dialog, size, expected=12)  # with the most rows a query


async def tab_through(pilot, dialog: Screen, size: str, expected: int) -> None:  # type: ignore[no-untyped-def, type-arg]
    """Tab once round the dialog: each control is focused in turn, in view, and none is left out."""
    app = pilot.app
    focusable = [widget for widget in dialog.focus_chain if isinstance(widget, (Input, Select, Button, Checkbox))]
    assert len(focusable) == expected, " ".join(f"{w.parent.id if w.parent else None}/{w.id}" for w in focusable)
    reached: set[Widget] = set()
    for _ in range(len(focusable)):
        focused = app.focused
        assert focused is not None
        assert visible(focused), f"{focused} is focused but not visible at {size}"
        reached.add(focused)
        await pilot.press("tab")
        await pilot.pause()
    assert reached == set(focusable)
    for button in dialog.query(Button):
        if button in focusable or isinstance(dialog, CredentialForm):  # a setup's other steps are hidden
            assert visible(button)


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_the_iam_and_ssh_fields_of_the_credential_dialog_are_reachable_by_keyboard(app: CdiApp, size: str) -> None:
    async with app.run_test(size=SIZES[size]) as pilot:
        await pilot.press("f2", "a")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, CredentialForm)
        assert not dialog.query_one("#iam-fields").display and not dialog.query_one("#ssh-fields").display
        dialog.query_one("#field-auth Select", Select).focus()
        await pilot.press("enter", "down", "enter")  # the sign-in kind, chosen by keyboard
        await settle(pilot)
        assert dialog.query_one("#field-auth Select", Select).value == "iam"
        dialog.query_one("#use-ssh", Checkbox).focus()
        await pilot.press("space")
        await settle(pilot)
        assert dialog.query_one("#iam-fields").display and dialog.query_one("#ssh-fields").display
        assert not dialog.query_one("#field-password").display  # IAM keeps no password
        dialog.query_one("#field-credential-name Input", Input).focus()
        await settle(pilot)
        # name, host, port, database, sign-in, 5 IAM fields, SSL mode, the SSH checkbox,
        # SSH host, port, user, key file, passphrase, Save, Cancel
        await tab_through(pilot, dialog, size, expected=20)  # with the most rows a query


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_the_setups_new_credential_fields_with_iam_and_ssh_are_reachable_by_keyboard(app: CdiApp, size: str) -> None:
    async with app.run_test(size=SIZES[size]) as pilot:
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        screen.connection.credential_select.value = "__new__"
        await settle(pilot)
        auth = screen.query_one("#field-auth Select", Select)
        auth.focus()
        await pilot.press("enter", "down", "enter")
        await settle(pilot)
        assert auth.value == "iam"
        screen.query_one("#use-ssh", Checkbox).focus()
        await pilot.press("space")
        await settle(pilot)
        screen.query_one("#credential", Select).focus()
        await settle(pilot)
        # the credential choice, name, host, port, database, sign-in, 5 IAM fields, SSL mode, the SSH
        # checkbox, SSH host, port, user, key file, passphrase; the table, Load tables, the table
        # picker; Next and Setup SQL
        await tab_through(pilot, screen, size, expected=24)  # with the most rows a query


async def test_an_iam_credential_with_a_tunnel_key_file_is_saved_from_the_dialog(app: CdiApp, tmp_path: Path) -> None:
    from cdi_tui.warehouse.tunnel import generate_key_pair

    private_key, public_key = generate_key_pair("qa")
    key_file = tmp_path / "id_ed25519"
    key_file.write_text(private_key)
    key_file.chmod(0o600)
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("f2", "a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CredentialForm)
        form.query_one("#field-auth Select", Select).value = "iam"
        form.query_one("#use-ssh", Checkbox).value = True
        await settle(pilot)
        values = {
            "credential-name": "iamqa",
            "host": "qa.example.com",
            "database": "dev",
            "region": "us-west-2",
            "cluster_id": "qa-cluster",
            "ssh_host": "bastion.example.com",
            "ssh_user": "tunnel",
            "ssh_key_path": str(key_file),
        }
        for field_id, text in values.items():
            form.query_one(f"#field-{field_id} Input", Input).value = text
        await pilot.click("#save")
        await settle(pilot)
        assert isinstance(app.screen, TextModal)  # the key file's authorized_keys line, to copy
        assert public_key.split()[1] in app.screen.text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
    credential = app.workspace.config().credentials["iamqa"]
    assert (credential.auth, credential.region, credential.ssh_host) == ("iam", "us-west-2", "bastion.example.com")
    assert app.workspace._secrets.get(credential_account("iamqa")) is None


async def test_enter_in_the_password_saves_the_new_credential(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("f2", "a")
        await settle(pilot)
        values = {
            "field-credential-name": "qa",
            "field-host": "qa.example.com",
            "field-database": "dev",
            "field-user": "braze_qa",
        }
        for field_id, text in values.items():
            app.screen.query_one(f"#{field_id} Input", Input).focus()
            await type_text(pilot, text)
        app.screen.query_one("#field-password Input", Input).focus()
        await type_text(pilot, "s3cret-qa")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
    credential = app.workspace.config().credentials["qa"]
    assert (credential.host, credential.user) == ("qa.example.com", "braze_qa")


async def test_the_setup_preselects_the_credential_used_last_not_the_first_by_name(app: CdiApp) -> None:
    from cdi_tui.config import Credential

    app.workspace.add_credential(Credential(name="analytics", host="a.example.com", database="dev", user="a"), "pw")
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NewIntegrationScreen)
        assert app.screen.connection.credential_choice == "prod"  # the one the integrations use, not "analytics"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f2", "a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CredentialForm)
        for field_id, text in {"credential-name": "zeta", "host": "z.example.com", "database": "dev", "user": "z"}.items():
            form.query_one(f"#field-{field_id} Input", Input).value = text
        form.query_one("#field-password Input", Input).value = "pw"
        await pilot.click("#save")
        await settle(pilot)
        await pilot.press("escape", "n")
        await settle(pilot)
        assert isinstance(app.screen, NewIntegrationScreen)
        assert app.screen.connection.credential_choice == "zeta"  # the one just added


# --- reachable at every size --------------------------------------------------------------------


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_every_action_of_the_integration_screen_is_on_screen(app: CdiApp, size: str) -> None:
    async with app.run_test(size=SIZES[size]) as pilot:
        await open_integration(pilot)
        await pilot.pause(0.2)
        assert isinstance(app.screen, IntegrationScreen)
        for button_id in ("sync", "cancel", "pause", "failed", "resync", "delete"):
            assert visible(app.screen.query_one(f"#{button_id}", Button)), button_id
        app.screen.query_one(TabbedContent).active = "settings-tab"
        await settle(pilot)
        assert visible(app.screen.query_one("#save", Button))


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_every_button_of_the_credentials_screen_is_on_screen(app: CdiApp, size: str) -> None:
    async with app.run_test(size=SIZES[size]) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        for button_id in ("add", "password", "check", "delete"):
            assert visible(app.screen.query_one(f"#{button_id}", Button)), button_id
        app.screen.query_one(TabbedContent).active = "braze-tab"
        await settle(pilot)
        for button_id in ("save-braze", "check-key"):
            assert visible(app.screen.query_one(f"#{button_id}", Button)), button_id


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_the_buttons_of_the_setups_test_step_are_on_screen(app: CdiApp, size: str) -> None:
    from tui_world import to_wizard_preview

    async with app.run_test(size=SIZES[size]) as pilot:
        await to_wizard_preview(pilot)
        await pilot.pause(0.2)
        for button_id in ("back-3", "run-test", "save-draft", "activate", "estimate-range"):
            assert visible(app.screen.query_one(f"#{button_id}", Button)), button_id
        assert visible(app.screen.query_one("#braze-object"))
        preview = app.screen.query_one("#preview")
        assert str(preview.ordered_columns[0].label) == "VALID?"  # first, never scrolled out of sight


# --- help, toasts, progress ---------------------------------------------------------------------


async def test_the_help_scrolls_with_the_keyboard_and_is_centred(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = app.screen.query_one("#keys")
        dialog = app.screen.query_one(".dialog")
        assert abs(dialog.region.center[0] - 40) <= 1 and abs(dialog.region.center[1] - 12) <= 1
        assert keys.row_count > keys.scrollable_content_region.height  # more keys than rows shown
        assert app.focused is keys
        assert keys.region.bottom <= 24 and app.screen.query_one("#close").region.bottom <= 24
        await pilot.press("pagedown")
        await pilot.pause(0.3)
        assert keys.scroll_y > 0
        assert "New" in [row[1] for row in app.screen.rows]  # built from the dashboard's bindings
        await pilot.press("escape")
        await settle(pilot)
        await open_integration(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert "Full resync" in [row[1] for row in app.screen.rows]  # ... and from the screen it opens on


async def test_toasts_stay_clear_of_the_progress_panels(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"], notifications=True) as pilot:
        await with_progress_panel(pilot)
        for index in range(3):
            app.notify(f"message {index}", timeout=30)
        await pilot.pause(0.5)
        panels = app.screen.query_one(ProgressPanels)
        toasts = list(app.screen.query(Toast))
        assert toasts and panels.region.area
        for toast in toasts:
            assert not toast.region.overlaps(panels.region)
        for button in panels.query(Button):
            assert visible(button)  # every Cancel can be pressed


async def test_the_progress_panels_show_every_running_sync_at_80x24(app: CdiApp) -> None:
    from cdi_tui.engine.sync import Progress
    from cdi_tui.tui.messages import SyncProgressed

    async with app.run_test(size=SIZES["80x24"]) as pilot:
        for index, name in enumerate(("user-attributes", "app-events", "purchases", "gdpr-deletes")):
            app.sync_started(name)
            app.post_message(SyncProgressed(Progress(index + 1, name, "sending", 1000, 100, 90, 10, 0, 2.0)))
        await settle(pilot)
        panels = app.screen.query_one(ProgressPanels)
        assert len(panels.query(".progress-panel")) == 4
        assert "(4)" in str(panels.border_title)
        for button in panels.query(Button):
            panels.scroll_to_widget(button, animate=False)
            await pilot.pause()
            assert visible(button)


async def test_a_sync_ending_replaces_its_earlier_toast(app: CdiApp) -> None:
    from dataclasses import replace

    from cdi_tui.tui.messages import SyncFinished

    async with app.run_test(size=SIZES["140x45"], notifications=True) as pilot:
        [record] = app.workspace.runs("user-attributes", 1)
        for _ in range(3):
            app.sync_started("user-attributes")
            app.post_message(SyncFinished("user-attributes", replace(record, status="success")))
            await pilot.pause(0.2)
        assert len([n for n in app._notifications if "user-attributes" in n.title]) == 1
        app.sync_started("app-events")
        app.post_message(SyncFinished("app-events", replace(record, integration="app-events", trigger="scheduled")))
        await pilot.pause(0.2)
        assert not [n for n in app._notifications if "app-events" in n.title]  # a scheduled run that went through: no toast
        assert "app-events" not in app.running


# --- states, palette, theme, settings ----------------------------------------------------------


async def test_a_paused_integration_lists_no_next_runs(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("o")  # app-events, paused
        await settle(pilot)
        assert isinstance(app.screen, IntegrationScreen) and app.screen.integration_name == "app-events"
        overview = str(app.screen.query_one("#overview").render())
        assert "no scheduled runs while paused" in overview and "Next runs" not in overview
        assert "Next runs" not in str(app.screen.query_one(".next-runs").render())


async def test_the_palette_opens_an_integration_by_name(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "open user-attr")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationScreen) and app.screen.integration_name == "user-attributes"
        titles = [command.title for command in app.get_system_commands(app.screen)]
    for expected in (
        "New integration",
        "Sync now: user-attributes",
        "Credentials and Braze settings",
        "Theme: switch light / dark",
    ):
        assert expected in titles


async def test_the_theme_is_the_apps_own_and_remembered(tmp_path: Path) -> None:
    first = make_app(tmp_path / "home")
    async with first.run_test(size=SIZES["80x24"]) as pilot:
        assert first.theme == "cdi-dark"
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert first.theme == "cdi-light"
    first.workspace.close()
    second = CdiApp(first.workspace, run_schedules=False)
    async with second.run_test(size=SIZES["80x24"]):
        assert second.theme == "cdi-light"


async def test_the_braze_form_refuses_a_requests_per_window_beyond_the_declared_bound(app: CdiApp) -> None:
    from cdi_tui.fields import MAX_REQUESTS_PER_WINDOW

    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        app.screen.query_one(TabbedContent).active = "braze-tab"
        await settle(pilot)
        app.screen.query_one("#field-requests_per_window Input", Input).value = "99999999999999999999"
        await pilot.click("#save-braze")
        await settle(pilot)
        error = str(app.screen.query_one("#field-requests_per_window .field-error").render())
        assert f"{MAX_REQUESTS_PER_WINDOW:,}" in error
    braze = app.workspace.config().braze
    assert braze is not None and braze.requests_per_window == 3000


async def test_the_header_names_the_workspace_in_one_line(app: CdiApp) -> None:
    from cdi_tui.tui.widgets.header import WorkspaceHeader

    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await settle(pilot)
        header = app.screen.query_one(WorkspaceHeader)
        assert header.region.height == 1
        text = str(header.render())
        assert "US-03" in text and "America/New_York" in text and "cdi-tui" in text and "—" not in text
        await with_progress_panel(pilot)
        assert "2 syncs running" in str(header.render())


async def test_a_crash_exits_non_zero_and_keeps_the_setups_draft(app: CdiApp) -> None:
    from cdi_tui.cli.app import finished

    with pytest.raises(RuntimeError, match="a bug"):  # run_test hands the app's error on, as run does
        async with app.run_test(size=SIZES["140x45"]) as pilot:
            screen = await to_details(pilot, "INGESTION.APP_OPENS")
            screen.details.emails_field.set_value("crm@example.com")
            screen.details.set_data_type(DataType.EVENTS)  # chosen: no data type is preselected

            def broken() -> None:
                raise RuntimeError("a bug")

            app.call_later(broken)
            await pilot.pause(0.2)
    assert app.return_code == 1
    assert finished(app) == 1
    assert any("draft was kept as 'app-opens'" in note for note in app.crash_notes)
    assert app.workspace.config().integrations["app-opens"].state == "draft"


async def test_the_new_credentials_fields_appear_when_chosen_and_keep_what_was_typed(app: CdiApp) -> None:
    """They are built the first time "New credential..." is chosen: hidden again for a saved one,
    shown again with what was typed when the new one is chosen back."""
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        assert not screen.query("#new-credential")  # a saved credential is chosen: nothing built yet
        screen.connection.credential_select.value = "__new__"
        await settle(pilot)
        name = screen.connection.field("credential-name").query_one(Input)
        assert screen.connection.new_credential_fields.display and visible(name)
        name.value = "analytics"
        screen.connection.credential_select.value = "prod"
        await settle(pilot)
        assert not screen.connection.new_credential_fields.display
        assert screen.connection.chosen_credential() is not None
        screen.connection.credential_select.value = "__new__"
        await settle(pilot)
        assert screen.connection.new_credential_fields.display and len(screen.query("#new-credential")) == 1
        assert screen.connection.field("credential-name").query_one(Input).value == "analytics"
