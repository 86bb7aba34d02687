"""The app's part of "Braze ends up holding what the table holds" and of chunked reads: superseded
rows in the progress panel and the run history, the delete prioritization in the setup and on
the Settings tab (deletes only), and the most rows a query in the credential dialog.

Settings run on the fixed world of the snapshots; the sync runs through the real stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import BASE, SyncEnv
from test_tui import wait_for
from test_tui_data_points import SIZE, counts_of, env, run_cells  # noqa: F401  (env is a fixture)
from test_tui_defects import to_details, type_text, visible
from textual.widgets import Input, RadioButton, TabbedContent
from tui_world import SIZES, make_app, settle

from cdi_tui.standins.braze import FaultPlan
from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.screens.credentials import CredentialsScreen
from cdi_tui.tui.screens.integration import IntegrationScreen
from cdi_tui.tui.widgets.fields import FieldInput
from cdi_tui.tui.widgets.fit_table import FitTable


@pytest.mark.real
async def test_superseded_rows_show_in_the_progress_panel_and_the_run_history(env: SyncEnv) -> None:  # noqa: F811
    env.create_integration("hot")
    table = env.ws.integration("hot").table_name
    env.redshift.admin_execute(
        f"INSERT INTO {table.sql} (updated_at, external_id, payload) "
        f"SELECT timestamptz '{BASE.isoformat()}' + (g || ' seconds')::interval, "
        f"CASE WHEN g % 2 = 0 THEN 'hot' ELSE 'user-' || g END, '{{\"n\": ' || g || '}}' FROM generate_series(1, 6000) g"
    )
    env.braze.set_faults(FaultPlan(latency_seconds=0.2))  # the hot user's rows fold while one of theirs is under way
    app = CdiApp(env.ws, run_schedules=False)
    async with app.run_test(size=SIZE) as pilot:
        app.action_open_integration("hot")
        await settle(pilot)
        await pilot.press("s")

        def superseded_shown() -> bool:
            latest = app.progress.get("hot")
            shown = counts_of(app, "hot") or ""
            return latest is not None and latest.superseded > 0 and "superseded " in shown

        await wait_for(pilot, superseded_shown, seconds=60)
        await wait_for(pilot, lambda: not app.runner.is_running("hot"), seconds=60)
        await settle(pilot)
        record = env.ws.runs("hot")[0]
        assert record.status == "success" and record.rows_superseded > 2_000
        assert record.rows_sent + record.rows_superseded == 6_000
        table_widget = app.screen.query_one("#runs", FitTable)
        await wait_for(pilot, lambda: table_widget.row_count == 1)
        assert run_cells(table_widget, record.id)["Superseded"] == f"{record.rows_superseded:,}"
    assert env.braze.profile("hot")["attributes"] == {"n": 6_000}  # type: ignore[index]


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_the_setup_asks_for_a_delete_prioritization_for_deletes_only_and_saves_it(tmp_path: Path, size: str) -> None:
    app = make_app(tmp_path / "home")
    async with app.run_test(size=SIZES[size]) as pilot:
        screen = await to_details(pilot, "INGESTION.PROFILE_SYNC")
        field = screen.details.prioritization_field
        assert not field.display  # nothing chosen yet
        screen.query_one("#type-attributes", RadioButton).value = True
        await settle(pilot)
        assert not field.display
        screen.query_one("#type-deletes", RadioButton).value = True
        await settle(pilot)
        assert field.display and field.raw == "identified,most_recently_updated"
        field.query_one(Input).focus()
        await settle(pilot)
        assert visible(field.query_one(Input))
        field.set_value("identified,unidentified")  # refused: Braze takes only one of the two
        screen.details.emails_field.set_value("crm@example.com")
        screen.query_one("#next-2").press()
        await settle(pilot)
        assert screen.step == 1 and "identified and unidentified" in str(field.query_one(".field-error").render())
        field.set_value("unidentified, most_recently_updated")
        await settle(pilot)
        screen.query_one("#next-2").press()
        await settle(pilot)
        assert screen.step == 2
    saved = app.workspace.integration("profile-sync")
    assert (saved.data_type, saved.delete_prioritization) == ("deletes", ("unidentified", "most_recently_updated"))
    app.workspace.close()


async def test_the_settings_tab_changes_the_delete_prioritization_of_a_deletes_integration_only(tmp_path: Path) -> None:
    app = make_app(tmp_path / "home")
    async with app.run_test(size=SIZES["80x24"], notifications=True) as pilot:
        app.action_open_integration("user-attributes")
        await settle(pilot)
        assert not app.screen.query("#field-delete_prioritization")  # attributes: no such setting
        app.pop_screen()
        await settle(pilot)
        app.action_open_integration("gdpr-deletes")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntegrationScreen)
        screen.query_one(TabbedContent).active = "settings-tab"
        await settle(pilot)
        field = screen.query_one("#field-delete_prioritization", FieldInput)
        assert field.display and field.raw == "identified,most_recently_updated"
        field.set_value("most_recently_updated")
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert app.workspace.integration("gdpr-deletes").delete_prioritization == ("most_recently_updated",)
    app.workspace.close()


async def test_the_credential_dialog_sets_the_most_rows_a_query(tmp_path: Path) -> None:
    app: CdiApp = make_app(tmp_path / "home")
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await pilot.press("f2", "a")
        await settle(pilot)
        values = {
            "field-credential-name": "small",
            "field-host": "small.example.com",
            "field-database": "dev",
            "field-user": "braze_small",
            "field-max_rows_per_query": "250000",
        }
        for field_id, text in values.items():
            box = app.screen.query_one(f"#{field_id} Input", Input)
            box.value = ""
            box.focus()
            await type_text(pilot, text)
        app.screen.query_one("#field-password Input", Input).focus()
        await type_text(pilot, "s3cret-small")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
    assert app.workspace.config().credentials["small"].max_rows_per_query == 250_000
    assert app.workspace.config().credentials["prod"].max_rows_per_query == 1_000_000  # the default
    app.workspace.close()
