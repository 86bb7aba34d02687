"""Issue 23 in the app (Pilot, on the fixed world of the snapshots with a second Braze workspace and
a catalogs integration): the header names the workspace of the screen in view, the dashboard
groups and filters by workspace, the setup and the Settings tab name an integration's workspace,
the Braze tab adds and removes workspaces, and a catalog's screens speak of items, not data points.

No stand-in is needed: these screens read and write the config and the run log only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, TabbedContent
from tui_world import NOW, SIZES, make_app, settle

from cdi_tui.config import BrazeSettings, Integration
from cdi_tui.enums import DataType, IntegrationState
from cdi_tui.runlog import RunLog
from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.screens.credentials import CredentialsScreen
from cdi_tui.tui.screens.dashboard import DashboardScreen
from cdi_tui.tui.screens.integration import IntegrationScreen
from cdi_tui.tui.screens.modals import ConfirmModal, ErrorModal
from cdi_tui.tui.screens.wizard import NewIntegrationScreen
from cdi_tui.tui.widgets.fields import FieldInput
from cdi_tui.tui.widgets.fit_table import FitTable
from cdi_tui.tui.widgets.header import WorkspaceHeader


@pytest.fixture
def app(tmp_path: Path) -> CdiApp:
    """The fixed world, plus a production workspace in Europe with one catalogs integration."""
    made = make_app(tmp_path / "home")
    workspace = made.workspace
    workspace.set_braze(BrazeSettings(endpoint="EU-01", time_zone="Europe/Berlin"), "prod-key", "prod")
    workspace.add_integration(
        Integration(
            name="products",
            credential="prod",
            table="INGESTION.PRODUCTS_CATALOG_SYNC",
            data_type=DataType.CATALOGS,
            contact_emails=("crm@example.com",),
            workspace="prod",
        )
    )
    return made


async def open_integration(pilot: Pilot[None], app: CdiApp, name: str) -> None:
    table = app.screen.query_one("#integrations", FitTable)
    await settle(pilot)
    table.move_cursor(row=table.get_row_index(name))
    await pilot.press("o")
    await settle(pilot)


def header_text(app: CdiApp) -> str:
    return app.screen.query_one(WorkspaceHeader).render().plain


def column(table: FitTable, label: str) -> list[str]:
    index = table.shown_labels.index(label)
    return [
        cell.plain if isinstance(cell, Text) else str(cell)
        for cell in (table.get_row_at(row)[index] for row in range(table.row_count))
    ]


async def test_the_dashboard_groups_by_workspace_w_shows_one_at_a_time_and_the_header_names_it(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#integrations", FitTable)
        assert column(table, "Workspace") == ["default"] * 4 + ["prod"]  # grouped by workspace
        assert "2 Braze workspaces" in header_text(app)
        await pilot.press("w")
        await settle(pilot)
        assert column(table, "Name") == ["app-events", "gdpr-deletes", "purchases", "user-attributes"]
        assert "default: US-03" in header_text(app) and "America/New_York" in header_text(app)
        await pilot.press("w")
        await settle(pilot)
        assert column(table, "Name") == ["products"]
        assert "prod: EU-01" in header_text(app) and "Europe/Berlin" in header_text(app)
        await pilot.press("w")
        await settle(pilot)
        assert table.row_count == 5 and "2 Braze workspaces" in header_text(app)


async def test_an_integrations_screen_names_its_workspace_and_shows_times_in_its_zone(app: CdiApp) -> None:
    runlog = RunLog(app.workspace.paths.run_log)
    run_id = runlog.start_run("products", "manual", False, False, None, 1)
    runlog.update_run(run_id, status="success", ended_at=NOW - timedelta(hours=1))
    runlog._conn.execute("UPDATE runs SET started_at = ? WHERE id = ?", ((NOW - timedelta(hours=1)).isoformat(), run_id))
    runlog.close()
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await open_integration(pilot, app, "products")
        started = column(app.screen.query_one("#runs", FitTable), "Started")
        assert started == ["2026-03-02 09:30"]  # 08:30 UTC in Berlin (03:30 in the main workspace's New York)
        assert "prod: EU-01" in header_text(app) and "Europe/Berlin" in header_text(app)
        screen = app.screen
        assert isinstance(screen, IntegrationScreen)
        screen.tabs.active = "settings-tab"
        await settle(pilot)
        assert screen.query_one("#field-workspace", FieldInput).raw == "prod"
        assert screen.query_one("#field-catalog", FieldInput).display  # a catalog's own setting
        assert "Written" in screen.runs_table.shown_labels and "Data points" not in screen.runs_table.shown_labels
        assert "catalog syncs spend no data points" in str(screen.query_one("#runs-panel").border_subtitle)


async def test_moving_an_integration_to_another_workspace_on_its_settings_tab_needs_a_new_test(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await open_integration(pilot, app, "user-attributes")
        screen = app.screen
        assert isinstance(screen, IntegrationScreen)
        assert app.workspace.integration("user-attributes").state == IntegrationState.ACTIVE
        screen.tabs.active = "settings-tab"
        await settle(pilot)
        screen.query_one("#field-workspace Select", Select).value = "prod"
        await settle(pilot)
        screen.action_save()
        await settle(pilot)
        moved = app.workspace.integration("user-attributes")
        assert (moved.workspace, moved.state) == ("prod", IntegrationState.DRAFT)
        assert "prod: EU-01" in header_text(app)


async def test_the_setup_names_the_workspace_chosen_in_sync_details(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        screen.connection.table_field.set_value("INGESTION.MENU_CATALOG_SYNC")
        screen.query_one("#next-1", Button).press()
        await settle(pilot)
        details = screen.details
        assert details.workspace == "default"
        details.query_one("#field-workspace Select", Select).value = "prod"
        await settle(pilot)
        assert "prod: EU-01" in header_text(app)
        details.name_field.set_value("menu")
        details.emails_field.set_value("crm@example.com")
        details.set_data_type(DataType.CATALOGS)
        await settle(pilot)
        assert details.catalog_field.display and not details.query_one("#update-existing-row").display
        details.catalog_field.set_value("dishes")
        assert screen.save_draft(quiet=True) is None
        saved = app.workspace.integration("menu")
        assert (saved.workspace, saved.catalog_name, saved.sends_changed_only) == ("prod", "dishes", True)


async def test_the_braze_tab_adds_a_workspace_and_refuses_to_remove_one_in_use(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CredentialsScreen)
        screen.query_one("#tabs", TabbedContent).active = "braze-tab"
        await settle(pilot)
        chooser = screen.query_one("#braze-workspace", Select)
        chooser.value = "__new__"
        await settle(pilot)
        screen.query_one("#new-workspace", Input).value = "staging"
        screen.query_one("#instance", Select).value = "AU-01"
        screen.query_one("#api-key", Input).value = "staging-key"
        screen.query_one("#save-braze", Button).press()
        await settle(pilot)
        config = app.workspace.config()
        assert config.workspaces["staging"].endpoint == "AU-01"
        assert app.workspace._secrets.get("braze:api-key:staging") == "staging-key"
        assert chooser.value == "staging" and "staging: AU-01" in header_text(app)

        chooser.value = "__new__"  # a new workspace of an existing name never changes that one
        await settle(pilot)
        screen.query_one("#new-workspace", Input).value = "prod"
        screen.query_one("#instance", Select).value = "US-01"
        screen.query_one("#save-braze", Button).press()
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal) and "There is a Braze workspace named prod" in app.screen.title_text
        app.screen.dismiss(None)
        await settle(pilot)
        assert app.workspace.config().workspaces["prod"].endpoint == "EU-01"

        chooser.value = "prod"
        await settle(pilot)
        screen.query_one("#remove-braze", Button).press()
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        app.screen.dismiss(True)
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)  # products syncs to it
        assert "products (draft)" in app.screen.message
        assert "prod" in app.workspace.config().workspaces


async def test_the_braze_tab_removes_a_workspace_no_integration_uses(app: CdiApp) -> None:
    app.workspace.set_braze(BrazeSettings(endpoint="US-05"), "spare-key", "spare")
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CredentialsScreen)
        screen.query_one("#tabs", TabbedContent).active = "braze-tab"
        await settle(pilot)
        chooser = screen.query_one("#braze-workspace", Select)
        chooser.value = "spare"
        await settle(pilot)
        assert "spare: US-05" in header_text(app)
        screen.query_one("#remove-braze", Button).press()
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        app.screen.dismiss(True)
        await settle(pilot)
        assert "spare" not in app.workspace.config().workspaces
        assert not app.workspace.has_braze_key("spare")  # its key went with it
        assert chooser.value == "default" and "default: US-03" in header_text(app)
        assert "spare" not in app.key_states


async def test_a_table_synced_to_the_workspace_chosen_goes_to_a_free_one(app: CdiApp) -> None:
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        assert screen.details.workspace == "default"
        screen.connection.table_field.set_value(
            "BRAZE_CLOUD_PRODUCTION.INGESTION.USERS_ATTRIBUTES_SYNC"
        )  # user-attributes, default
        screen.query_one("#next-1", Button).press()
        await settle(pilot)
        assert screen.step == 1  # not refused: production has no integration of it
        assert screen.details.workspace == "prod" and "prod: EU-01" in header_text(app)


async def test_a_table_synced_in_every_workspace_is_refused_and_the_picker_says_where(app: CdiApp) -> None:
    app.workspace.add_integration(
        Integration(
            name="events-prod", credential="prod", table="INGESTION.EVENTS_SYNC", data_type=DataType.EVENTS, workspace="prod"
        )
    )
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        step = screen.connection
        credential = app.workspace.config().credentials["prod"]
        step.show_tables(
            [("INGESTION", "EVENTS_SYNC"), ("INGESTION", "PURCHASES_SYNC"), ("INGESTION", "FREE")],
            credential,
            ["default", "prod"],
        )
        await settle(pilot)
        labels = {str(value): str(label) for label, value in step.table_picker._options if value is not Select.BLANK}
        assert (
            labels["used:app-events, events-prod:INGESTION.EVENTS_SYNC"]
            == "INGESTION.EVENTS_SYNC  (used by app-events, events-prod)"
        )
        assert labels["INGESTION.PURCHASES_SYNC"] == "INGESTION.PURCHASES_SYNC  (synced by purchases in default)"
        assert labels["INGESTION.FREE"] == "INGESTION.FREE"
        assert "1 free, 1 synced to another workspace, 1 used" in str(step.status.render())

        step.table_field.set_value("INGESTION.EVENTS_SYNC")
        screen.query_one("#next-1", Button).press()
        await settle(pilot)
        assert screen.step == 0
        assert "already synced by app-events in every Braze workspace" in str(step.status.render())


async def test_one_workspace_only_keeps_the_header_dashboard_setup_and_settings_as_they_were(tmp_path: Path) -> None:
    app = make_app(tmp_path / "home")
    async with app.run_test(size=SIZES["140x45"]) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert "Workspace" not in app.screen.query_one("#integrations", FitTable).shown_labels
        text = header_text(app)
        assert "US-03" in text and "default" not in text and "workspaces" not in text
        await pilot.press("w")  # nothing to show one at a time
        await settle(pilot)
        assert app.screen.query_one("#integrations", FitTable).row_count == 4
        await open_integration(pilot, app, "user-attributes")
        assert not app.screen.query("#field-workspace")  # nothing to choose
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        assert not screen.query("#field-workspace") and screen.details.workspace == "default"
        assert NOW  # the fixed clock of the snapshots
