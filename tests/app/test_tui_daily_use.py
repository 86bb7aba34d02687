"""Issue 22, the app a daily user keeps open: each defect found, driven as a user would (Pilot)
on the fixed world of the snapshots, and the power-user keys (/, e, the keymap, read-only).

No stand-in is needed here: these screens read and write the config and the run log only.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import Button, Input, Label, RadioButton, Select, TabbedContent
from textual.widgets._toast import Toast
from tui_world import NOW, SIZES, make_app, open_failed_rows, open_integration, settle

from cdi_tui.config import ConfigError
from cdi_tui.engine.sync import Progress
from cdi_tui.enums import DataType, Trigger
from cdi_tui.runlog import RunLog
from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.messages import SyncProgressed
from cdi_tui.tui.screens.dashboard import DashboardScreen
from cdi_tui.tui.screens.export import ExportModal
from cdi_tui.tui.screens.failed_rows import FailedRowsScreen, RowDetailModal
from cdi_tui.tui.screens.help import HelpScreen
from cdi_tui.tui.screens.integration import IntegrationScreen
from cdi_tui.tui.screens.modals import ErrorModal
from cdi_tui.tui.screens.wizard import NewIntegrationScreen
from cdi_tui.tui.widgets.fit_table import FitTable
from cdi_tui.tui.widgets.progress_panel import ProgressPanels
from cdi_tui.tui.widgets.run_chart import RunChart


@pytest.fixture
def app(tmp_path: Path) -> CdiApp:
    return make_app(tmp_path / "home")


def cells(table: FitTable, row: int) -> list[str]:
    return [cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(row)]


def add_dry_run(app: CdiApp, name: str) -> None:
    runlog = RunLog(app.workspace.paths.run_log)
    run_id = runlog.start_run(name, Trigger.MANUAL, True, False, None, 1)
    runlog.update_run(run_id, status="partial", ended_at=NOW, rows_read=40, rows_failed=2)
    runlog.close()


# --- wrong state -------------------------------------------------------------------------------


async def test_a_dry_run_is_not_the_dashboards_last_run_and_leaves_the_first_sync_due_now(app: CdiApp) -> None:
    add_dry_run(app, "app-events")  # active (then paused) and never synced; an estimate ran
    app.workspace.activate("app-events")
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#integrations", FitTable)
        row = cells(table, table.get_row_index("app-events"))
        assert row[table.shown_labels.index("Last run")] == "never"
        assert row[table.shown_labels.index("Next run")] == "now (first sync)"


async def test_the_setup_preselects_no_data_type_and_says_to_choose_one(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        screen.connection.table_field.set_value("INGESTION.APP_OPENS")
        screen.query_one("#next-1", Button).press()
        await settle(pilot)
        assert screen.details.data_type is None
        assert not any(button.value for button in screen.query(RadioButton))
        screen.details.emails_field.set_value("crm@example.com")
        screen.query_one("#next-2", Button).press()
        await settle(pilot)
        assert screen.step == 1  # not saved, not moved on
        assert "choose what the table's rows are" in str(screen.query_one("#data-type-error", Label).render())
        assert "app-opens" not in app.workspace.config().integrations


async def test_the_data_type_of_a_saved_draft_changes_in_the_setup_until_activation(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        screen.connection.table_field.set_value("INGESTION.APP_OPENS")
        screen.query_one("#next-1", Button).press()
        await settle(pilot)
        screen.details.emails_field.set_value("crm@example.com")
        screen.details.set_data_type(DataType.EVENTS)
        screen.query_one("#next-2", Button).press()
        await settle(pilot)
        assert app.workspace.integration("app-opens").data_type == "events"
        screen.query_one("#back-3", Button).press()
        await settle(pilot)
        assert not screen.query_one("#type-purchases", RadioButton).disabled
        screen.details.set_data_type(DataType.PURCHASES)
        screen.query_one("#next-2", Button).press()
        await settle(pilot)
        assert screen.step == 2
    assert app.workspace.integration("app-opens").data_type == "purchases"


async def test_a_drafts_data_type_changes_on_its_settings_tab_and_an_active_ones_is_fixed(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("down", "o")  # gdpr-deletes, a draft
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntegrationScreen) and screen.integration_name == "gdpr-deletes"
        screen.query_one(TabbedContent).active = "settings-tab"
        await settle(pilot)
        screen.query_one("#field-data_type Select", Select).value = DataType.ATTRIBUTES
        await settle(pilot)
        screen.query_one("#save", Button).press()
        await settle(pilot)
        assert app.workspace.integration("gdpr-deletes").data_type == "attributes"
        await pilot.press("escape")
        await settle(pilot)
        await open_integration(pilot)  # user-attributes, active
        assert not app.screen.query("#field-data_type")
        assert "fixed" in str(app.screen.query_one("#data-type-fixed", Label).render())


async def test_an_invalid_one_line_input_still_shows_its_text(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("n")
        await settle(pilot)
        field = app.screen.query_one("#field-table Input", Input)
        field.focus()
        await pilot.press(*"not a table!")
        await settle(pilot)
        assert app.screen.query_one("#field-table").has_class("invalid")
        assert field.content_region.height >= 1  # a row for the text, whatever the borders
        assert "not a table!" in app.export_screenshot().replace("&#160;", " ")


async def test_pressing_s_again_on_a_syncing_integration_never_piles_up_toasts(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"], notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down")  # user-attributes
        app.sync_started("user-attributes")
        app.runner._cancel["user-attributes"] = __import__("threading").Event()  # a sync under way
        for _ in range(4):
            await pilot.press("s")
            await pilot.pause(0.1)
        await pilot.pause(0.3)
        toasts = [toast for toast in app.screen.query(Toast) if "already syncing" in str(toast.render())]
        assert len(toasts) == 1


async def test_the_80x24_dashboard_fits_without_sideways_scrolling_and_cuts_names_in_the_middle(app: CdiApp) -> None:
    from cdi_tui.config import Integration

    for name, table in (("demo-attributes", "INGESTION.DEMO_A"), ("demo-attributes-large", "INGESTION.DEMO_A_LARGE")):
        app.workspace.add_integration(Integration(name=name, credential="prod", table=table, data_type="attributes"))
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#integrations", FitTable)
        assert table.virtual_size.width <= table.size.width  # nothing to scroll sideways to
        assert table.max_scroll_x == 0
        names = [cells(table, row)[0] for row in range(table.row_count)]
        long_ones = [name for name in names if name.startswith("demo-")]
        assert len(set(long_ones)) == 2, long_ones  # told apart
        assert any(name.endswith("-large") for name in long_ones)
        assert "Next run" in table.shown_labels and "Last run" in table.shown_labels


@pytest.mark.parametrize("screen_name", ["dashboard", "integration", "failed-rows", "credentials"])
async def test_every_footer_and_title_fits_80_columns(app: CdiApp, screen_name: str) -> None:
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey
    from tui_world import SCREENS

    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await SCREENS[screen_name](pilot)
        footer = app.screen.query_one(Footer)
        keys = list(footer.query(FooterKey))
        assert keys
        assert sum(key.outer_size.width for key in keys) <= 80, [str(key.render()) for key in keys]
        for key in keys:
            assert key.region.right <= 80
        from cdi_tui.tui.widgets.header import WorkspaceHeader

        header = str(app.screen.query_one(WorkspaceHeader).render())
        assert (app.screen.sub_title or "") in header


async def test_the_credential_keys_do_nothing_on_the_braze_and_smtp_tabs(app: CdiApp) -> None:
    from cdi_tui.tui.screens.credentials import CredentialForm

    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        for tab in ("braze-tab", "smtp-tab"):
            app.screen.query_one(TabbedContent).active = tab
            await settle(pilot)
            app.screen.query_one("#tabs").focus()
            await pilot.press("a", "d")
            await settle(pilot)
            assert not isinstance(app.screen, CredentialForm)
            assert "prod" in app.workspace.config().credentials


async def test_help_lists_each_action_once_without_the_tables_own_keys_and_nothing_cut_at_80x24(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("question_mark")
        await settle(pilot)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        actions = [row[1] for row in help_screen.rows]
        assert len(actions) == len(set(actions))
        assert actions.count("Command palette") == 1
        assert not {"Cursor up", "Cursor down", "Page up", "Select cell"} & set(actions)
        keys = [row[0] for row in help_screen.rows]
        assert sum("^p" in key for key in keys) == 1
        table = help_screen.query_one("#keys")
        assert table.virtual_size.width <= table.size.width  # the descriptions wrap instead
        shown = "".join(str(cell) for row in range(table.row_count) for cell in table.get_row_at(row)).replace("\n", " ")
        for _key, _action, tooltip in help_screen.rows:
            assert " ".join(tooltip.split()) in " ".join(shown.split())


async def test_the_palette_offers_the_apps_commands_only(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]):
        titles = [command.title for command in app.get_system_commands(app.screen)]
    assert "Quit" in titles
    for stock in ("Keys", "Maximize", "Change theme", "Theme", "Screenshot"):
        assert stock not in titles


async def test_placeholders_are_never_cut_mid_sentence(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("f2", "a")
        await settle(pilot)
        for field in app.screen.query(Input):
            if field.placeholder and field.region.width:
                assert len(field.placeholder) <= field.region.width - 2, field.placeholder


async def test_the_runs_panel_shows_runs_during_a_sync_at_80x24_and_the_chart_follows_the_progress(app: CdiApp) -> None:
    runlog = RunLog(app.workspace.paths.run_log)
    run_id = runlog.start_run("user-attributes", Trigger.MANUAL, False, False, None, os.getpid())
    runlog.update_run(run_id, rows_read=20_175, rows_sent=20_175)  # what the run log had when the screen read it
    runlog.close()
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await open_integration(pilot)
        app.sync_started("user-attributes")
        app.post_message(SyncProgressed(Progress(run_id, "user-attributes", "sending", 300_000, 58_950, 58_950, 0, 0, 9.0)))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntegrationScreen)
        table = screen.runs_table
        assert table.region.height >= 3  # the header and rows, beside the progress panel
        row = cells(table, table.get_row_index(str(run_id)))
        assert row[table.shown_labels.index("Sent")] == "58,950"
        assert (58_950, "running") in screen.query_one(RunChart).runs


async def test_settings_credential_is_a_picker_of_the_saved_credentials(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await open_integration(pilot)
        app.screen.query_one(TabbedContent).active = "settings-tab"
        await settle(pilot)
        picker = app.screen.query_one("#field-credential Select", Select)
        assert picker.value == "prod"
        assert [value for _label, value in picker._options if value is not Select.BLANK] == ["prod"]


async def test_demo_secrets_are_never_said_to_be_in_the_keyring(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        app.screen.query_one(TabbedContent).active = "braze-tab"
        await settle(pilot)
        text = app.export_screenshot().replace("&#160;", " ")
    assert "in the keyring" not in text and "in memory for this session" in text


async def test_a_connection_test_failure_has_no_internal_code_in_its_title_and_offers_setup_sql(app: CdiApp) -> None:
    from cdi_tui.checks import ConnectionTestResult
    from cdi_tui.tui.messages import ConnectionTested
    from cdi_tui.tui.screens.modals import TextModal
    from cdi_tui.warehouse.errors import TABLE_MISSING, WarehouseError

    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await open_integration(pilot)
        screen = app.screen
        assert isinstance(screen, IntegrationScreen)
        screen.tabs.active = "test-tab"
        error = WarehouseError(TABLE_MISSING, "Table INGESTION.USERS does not exist")
        screen.test_step.post_message(ConnectionTested("user-attributes", ConnectionTestResult(ok=False, error=error)))
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ErrorModal)
        assert modal.title_text == "Connection test failed" and "table_missing" not in modal.title_text
        assert "cdi-tui setup-sql" not in modal.message and "Setup SQL" in modal.message
        modal.query_one("#action", Button).press()
        await settle(pilot)
        assert isinstance(app.screen, TextModal) and "CREATE TABLE" in app.screen.text


# --- test from anywhere -------------------------------------------------------------------------


async def test_a_draft_offers_continue_setup_and_test_and_continues_at_its_details(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("down", "down", "o")  # purchases, a draft
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntegrationScreen) and screen.integration_name == "purchases"
        assert screen.query_one("#continue-setup", Button).display and screen.query_one("#test", Button).display
        assert not screen.query_one("#sync", Button).display  # a draft cannot sync yet
        await pilot.press("n")
        await settle(pilot)
        setup = app.screen
        assert isinstance(setup, NewIntegrationScreen)
        assert setup.step == 1 and setup.saved_name == "purchases"
        assert setup.details.name_field.raw == "purchases" and setup.details.data_type == "purchases"
        assert setup.connection.table_field.raw == "INGESTION.PURCHASES_SYNC"


async def test_t_on_an_integration_runs_the_same_connection_test_as_the_setup(app: CdiApp) -> None:
    from tui_world import preview_result

    from cdi_tui.tui.widgets.setup.test_step import TestStep

    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await open_integration(pilot)
        screen = app.screen
        assert isinstance(screen, IntegrationScreen)
        started: list[str] = []
        screen.test_step._test = lambda name: started.append(name)  # type: ignore[method-assign]  # no Redshift here
        await pilot.press("t")
        await settle(pilot)
        assert screen.tabs.active == "test-tab" and started == ["user-attributes"]
        assert isinstance(screen.test_step, TestStep)
        from cdi_tui.tui.messages import ConnectionTested

        screen.test_step.post_message(ConnectionTested("user-attributes", preview_result()))
        await settle(pilot)
        assert str(screen.test_step.preview.ordered_columns[0].label) == "VALID?"
        assert screen.test_step.preview.row_count == 4


# --- power-user keys ---------------------------------------------------------------------------


async def test_slash_filters_the_dashboard_and_escape_brings_every_row_back(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"purch")
        await settle(pilot)
        table = app.screen.query_one("#integrations", FitTable)
        assert [cells(table, row)[0] for row in range(table.row_count)] == ["purchases"]
        await pilot.press("escape")
        await settle(pilot)
        assert table.row_count == 4


@pytest.mark.parametrize(
    ("opener", "query", "expected"),
    [(open_integration, "scheduled", 2), (open_failed_rows, "user-1", 1)],
)
async def test_slash_filters_the_runs_and_the_failed_rows(app: CdiApp, opener: Any, query: str, expected: int) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await opener(pilot)
        await pilot.press("slash", *query, "enter")
        await settle(pilot)
        table = app.screen.table_in_view()[0]  # type: ignore[attr-defined]
        assert table.row_count == expected


async def test_slash_filters_the_credentials(app: CdiApp) -> None:
    from cdi_tui.config import Credential

    app.workspace.add_credential(Credential(name="analytics", host="a.example.com", database="dev", user="a"), "pw")
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("slash", *"analy", "enter")
        await settle(pilot)
        table = app.screen.query_one("#credentials", FitTable)
        assert [cells(table, row)[0] for row in range(table.row_count)] == ["analytics"]


async def test_e_exports_the_rows_in_view_as_csv_readable_by_the_owner_only(app: CdiApp, tmp_path: Path) -> None:
    target = tmp_path / "rows.csv"
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await open_failed_rows(pilot)  # run 5: 3 failed rows
        await pilot.press("slash", *"user-2", "enter", "e")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ExportModal)
        modal.query_one("#export-path", Input).value = str(target)
        modal.query_one("#export", Button).press()
        await settle(pilot)
    assert target.stat().st_mode & 0o777 == 0o600
    rows = list(csv.reader(target.open()))
    assert rows[0] == ["UPDATED_AT", "Identifier", "Reason", "Payload"]
    assert [row[1] for row in rows[1:]] == ["external_id=user-2"]
    assert rows[1][2] == "PAYLOAD is not valid JSON (unexpected character: line 1 column 2)"  # whole, not cut


async def test_e_exports_as_json_lines_and_never_writes_through_a_symlink(app: CdiApp, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text("keep me\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(elsewhere)
    target = tmp_path / "integrations.jsonl"
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await settle(pilot)
        for path in (link, target):
            await pilot.press("e")
            await settle(pilot)
            modal = app.screen
            assert isinstance(modal, ExportModal)
            modal.query_one("#export-path", Input).value = str(path)
            await settle(pilot)
            assert modal.query_one("#export-format", Select).value == "jsonl"
            modal.query_one("#export", Button).press()
            await settle(pilot)
            if path == link:
                assert isinstance(app.screen, ErrorModal) and "symbolic link" in app.screen.message
                await pilot.press("escape")
                await settle(pilot)
    assert elsewhere.read_text() == "keep me\n"
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["Name"] for line in lines] == ["app-events", "gdpr-deletes", "purchases", "user-attributes"]


async def test_enter_on_a_failed_row_shows_it_in_full_with_the_payload_indented(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await open_failed_rows(pilot)
        assert isinstance(app.screen, FailedRowsScreen)
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, RowDetailModal)
        assert "PAYLOAD is not valid JSON (unexpected character: line 1 column 2)" in detail.text
        assert "external_id=user-0" in detail.text
        assert visible_button(detail, "#copy")


def visible_button(screen: Any, selector: str) -> bool:
    button = screen.query_one(selector, Button)
    return bool(button.region.area) and screen.region.contains_region(button.region)


async def test_the_keymap_rebinds_an_action_by_its_id_and_help_marks_it(tmp_path: Path) -> None:
    from tui_world import fixed_workspace

    app = CdiApp(fixed_workspace(tmp_path / "home"), clock=lambda: NOW, run_schedules=False, keymap={"new": "a"})
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, NewIntegrationScreen)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert ("a*", "New") in [(row[0], row[1]) for row in app.screen.rows]
        assert app.screen.query_one("#keymap-note").display


@pytest.mark.parametrize(
    ("keymap", "words"),
    [({"no-such-action": "x"}, "keys.no-such-action: no binding has this id"), ({"sync": "ctrl+nokey"}, "'nokey' is not a key")],
)
def test_a_keymap_with_an_unknown_id_or_key_is_refused_naming_it(keymap: dict[str, str], words: str) -> None:
    from cdi_tui.tui.keymap import checked_keymap

    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        checked_keymap(keymap, "config.toml")


async def test_read_only_shows_everything_and_refuses_a_sync_in_one_line(tmp_path: Path) -> None:
    from dataclasses import replace

    from tui_world import fixed_workspace

    from cdi_tui.secret_store import MemoryCredentials
    from cdi_tui.workspace import Workspace

    writable = fixed_workspace(tmp_path / "home")
    workspace = Workspace(replace(writable.paths, read_only="--read-only"), MemoryCredentials())
    before = workspace.paths.config_file.read_bytes()
    app = CdiApp(workspace, clock=lambda: NOW, run_schedules=False)
    async with app.run_test(size=SIZES["80x24"], notifications=True) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#integrations", FitTable).row_count == 4
        await pilot.press("down", "down", "down", "s", "n", "p")
        await pilot.pause(0.3)
        assert isinstance(app.screen, DashboardScreen)
        assert not app.running
        toasts = [str(toast.render()) for toast in app.screen.query(Toast)]
        assert len(toasts) == 1 and "read-only" in toasts[0]
    assert workspace.paths.config_file.read_bytes() == before


async def test_open_starts_on_the_integration_with_the_dashboard_below(tmp_path: Path) -> None:
    from tui_world import fixed_workspace

    app = CdiApp(fixed_workspace(tmp_path / "home"), clock=lambda: NOW, run_schedules=False, open_integration="purchases")
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, IntegrationScreen) and app.screen.integration_name == "purchases"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_the_eta_waits_for_a_steady_rate_and_then_does_not_jump(app: CdiApp) -> None:
    """A slow start (connecting, counting, the first requests) then 10,000 rows a second."""
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await settle(pilot)
        app.sync_started("user-attributes")
        shown: list[str] = []
        for tenth in range(1, 121):
            elapsed = tenth / 10
            done = int(81 * elapsed) if elapsed <= 3 else 243 + int(10_000 * (elapsed - 3))
            app.post_message(SyncProgressed(Progress(9, "user-attributes", "sending", 300_000, done, done, 0, 0, elapsed)))
            await pilot.pause()
            eta = app.screen.query_one(ProgressPanels).query(".eta").first(Label)
            shown.append(str(eta.render()))
        assert all(text == "ETA --:--" for text in shown[:40])  # nothing from the slow start
        first = next(index for index, text in enumerate(shown) if text != "ETA --:--")
        assert all(text != "ETA --:--" for text in shown[first:])  # once shown, it stays
        await pilot.pause(0.3)  # the panels redraw a few times a second
        last = str(app.screen.query_one(ProgressPanels).query(".eta").first(Label).render())
        minutes, seconds = last.split()[1].split(":")
        left = (300_000 - (243 + 10_000 * 9)) / 10_000
        assert abs(int(minutes) * 60 + int(seconds) - left) <= 2


def test_no_eta_while_the_rate_still_climbs_as_requests_in_flight_ramp_up() -> None:
    from cdi_tui.tui.rate import RateWindow

    window = RateWindow()
    done = 0.0
    first_eta_at = None
    for tenth in range(1, 301):
        elapsed = tenth / 10
        done += (min(elapsed, 8.0) / 8.0) * 10_000 / 10  # climbing to 10,000 rows/s over 8 s, then steady
        window.add(elapsed, int(done))
        if first_eta_at is None and window.eta(500_000, int(done)) is not None:
            first_eta_at = elapsed
    assert first_eta_at is not None and first_eta_at >= 9.0  # never from the ramp
    eta = window.eta(500_000, int(done))
    assert eta is not None and abs(eta - (500_000 - done) / 10_000) < 1


@pytest.mark.real
async def test_the_header_says_a_working_key_is_checked_once_the_app_opens(tmp_path: Path, braze: Any) -> None:
    """As the demo opens the app: the stored key is checked at start (no data points), never left "not checked"."""
    from cdi_tui.config import BrazeSettings
    from cdi_tui.paths import app_paths
    from cdi_tui.secret_store import MemoryCredentials
    from cdi_tui.tui.widgets.header import WorkspaceHeader
    from cdi_tui.workspace import Workspace

    workspace = Workspace(app_paths(tmp_path / "home"), MemoryCredentials())
    workspace.set_braze(BrazeSettings(endpoint=braze.url), "test-key")
    app = CdiApp(workspace, run_schedules=False, demo=True, check_key=True)
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        for _ in range(100):
            await pilot.pause(0.1)
            if app.key_state == "checked":
                break
        header = str(app.screen.query_one(WorkspaceHeader).render())
    assert "key ✓ checked" in header and "not checked" not in header
    assert not braze.objects("attributes")  # nothing sent, no data point spent
    workspace.close()
