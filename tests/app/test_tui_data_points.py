"""Data points in the app (issue 13): the "send only changed attributes" switch in the setup and
on the integration screen, unchanged rows and data points in the progress panel and the run
history, the last 30 days' data points, and the setup's estimates.

The settings and looks run on the fixed world of the snapshots; syncs and estimates run through
the real stack (redshift-connector -> proxy -> PostgreSQL, httpx -> the Braze stand-in, the
keyring through the Secret Service stand-in), driven as a user would (Pilot).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import SyncEnv
from test_changed_only import PAYLOAD, POINTS_A_ROW, restamp
from test_tui import type_into, wait_for
from test_tui_defects import to_details, visible
from textual.widgets import Button, Input, Label, RadioButton, Switch, TabbedContent
from tui_world import SIZES, make_app, open_integration, settle, to_wizard_details

from cdi_tui.config import BrazeSettings
from cdi_tui.paths import app_paths
from cdi_tui.runlog import RunLog, RunRecord
from cdi_tui.secret_store import KeyringCredentials
from cdi_tui.standins.braze import BrazeStandIn, FaultPlan
from cdi_tui.standins.demo_data import create_table_sql
from cdi_tui.standins.postgres import RedshiftStandIn, quote_ident
from cdi_tui.standins.secret_service import SecretService
from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.screens.integration import IntegrationScreen
from cdi_tui.tui.screens.wizard import NewIntegrationScreen
from cdi_tui.tui.widgets.fit_table import FitTable
from cdi_tui.tui.widgets.progress_panel import ProgressPanel, counts_text

SIZE = (150, 50)


def run_cells(table: FitTable, run_id: int) -> dict[str, str]:
    """The cells of a run's row in the run history, by column label (the columns on screen)."""
    return {label: cell.plain for label, cell in zip(table.shown_labels, table.get_row(str(run_id)), strict=True)}


# --- the switch, in the setup and on the integration screen (fixed world) -------------------------


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_the_setup_offers_send_changed_only_for_custom_attributes_on_by_default_and_saves_it(
    tmp_path: Path, size: str
) -> None:
    app = make_app(tmp_path / "home")
    async with app.run_test(size=SIZES[size]) as pilot:
        screen = await to_details(pilot, "INGESTION.PROFILE_SYNC")
        screen.query_one("#type-attributes", RadioButton).value = True  # chosen: no data type is preselected
        await settle(pilot)
        switch = screen.query_one("#send-changed-only", Switch)
        assert screen.details.data_type == "attributes" and switch.value  # on by default for custom attributes
        screen.query_one("#update-existing-only", Switch).focus()
        await pilot.press("tab")  # reached by keyboard, in view at this size
        await settle(pilot)
        assert app.focused is switch and visible(switch)
        await pilot.press("space")
        assert not switch.value
        screen.details.emails_field.set_value("crm@example.com")
        await settle(pilot)
        screen.query_one("#next-2", Button).press()
        await settle(pilot)
        assert screen.step == 2
    saved = app.workspace.integration("profile-sync")
    assert (saved.data_type, saved.send_changed_only, saved.sends_changed_only) == ("attributes", False, False)
    app.workspace.close()


async def test_the_setup_has_no_send_changed_only_switch_for_events(tmp_path: Path) -> None:
    app = make_app(tmp_path / "home")
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await to_wizard_details(pilot)
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        screen.query_one("#type-attributes", RadioButton).value = True  # chosen: no data type is preselected
        await settle(pilot)
        assert screen.query_one("#field-send-changed-only").display
        screen.query_one("#type-events", RadioButton).value = True
        await settle(pilot)
        assert not screen.query_one("#field-send-changed-only").display
        assert screen.query_one("#send-changed-only", Switch) not in screen.focus_chain
        screen.details.emails_field.set_value("crm@example.com")
        screen.query_one("#next-2", Button).press()
        await settle(pilot)
    saved = app.workspace.integration("app-opens")
    assert (saved.data_type, saved.send_changed_only) == ("events", None)
    app.workspace.close()


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_the_switch_on_the_integration_screen_changes_the_config(tmp_path: Path, size: str) -> None:
    app = make_app(tmp_path / "home")
    assert app.workspace.integration("user-attributes").sends_changed_only
    async with app.run_test(size=SIZES[size], notifications=True) as pilot:
        await open_integration(pilot)
        screen = app.screen
        assert isinstance(screen, IntegrationScreen)
        screen.query_one(TabbedContent).active = "settings-tab"
        await settle(pilot)
        switch = screen.query_one("#switch-send_changed_only", Switch)
        assert switch.value
        screen.query_one("#field-notify_row_error_percent Input", Input).focus()
        await pilot.press("tab")  # the next control, by keyboard, scrolled into view
        await settle(pilot)
        assert app.focused is switch and visible(switch)
        await pilot.press("space", "ctrl+s")
        await settle(pilot)
        assert app.workspace.integration("user-attributes").send_changed_only is False
        assert any("Every attribute" in toast.message for toast in app._notifications)
        await pilot.press("space", "ctrl+s")  # and on again
        await settle(pilot)
    assert app.workspace.integration("user-attributes").send_changed_only is True
    app.workspace.close()


async def test_an_events_integration_has_no_send_changed_only_switch(tmp_path: Path) -> None:
    app = make_app(tmp_path / "home")
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        app.action_open_integration("app-events")
        await settle(pilot)
        assert not app.screen.query("#switch-send_changed_only")
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert app.workspace.integration("app-events").send_changed_only is None
    app.workspace.close()


# --- the run history and the last 30 days (fixed world) ------------------------------------------


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_the_run_history_shows_unchanged_rows_and_data_points_and_fits_the_width(tmp_path: Path, size: str) -> None:
    app = make_app(tmp_path / "home")
    runlog = RunLog(app.workspace.paths.run_log)
    dry = runlog.start_run("user-attributes", "manual", True, False, None, 1)
    runlog.update_run(dry, status="success", rows_read=70, rows_skipped=40, rows_unchanged=30, data_points=120)
    runlog.close()
    records = app.workspace.runs("user-attributes")
    async with app.run_test(size=SIZES[size]) as pilot:
        await open_integration(pilot)
        await pilot.pause(0.2)
        table = app.screen.query_one("#runs", FitTable)
        assert {"Run", "Trigger", "Status", "Sent", "Failed", "Unchanged", "Data points"} <= set(table.shown_labels)
        if size == "140x45":
            assert table.shown_labels == [column.label for column in table.fit_columns]  # all there is room for
        assert table.virtual_size.width <= table.scrollable_content_region.width  # no scrolling sideways
        for record in records:
            cells = run_cells(table, record.id)
            assert cells["Unchanged"] == f"{record.rows_unchanged:,}"
            expected = f"{record.data_points:,}" + (" (dry)" if record.dry_run else "")  # a dry run spent nothing
            assert cells["Data points"] == expected
        assert run_cells(table, dry)["Data points"] == "120 (dry)"
        spent = sum(record.data_points for record in records if not record.dry_run)
        subtitle = str(app.screen.query_one("#runs-panel").border_subtitle)
        assert subtitle == f"{spent:,} data points in the last 30 days · changed attributes only"
    assert spent == app.workspace.data_points_since("user-attributes", 30, now=app.clock()) == 364_905
    app.workspace.close()


async def test_a_deletes_integration_says_it_spends_no_data_points(tmp_path: Path) -> None:
    app = make_app(tmp_path / "home")
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        app.action_open_integration("gdpr-deletes")
        await settle(pilot)
        assert app.screen.query_one("#runs-panel").border_subtitle == "deletes spend no data points"
    app.workspace.close()


async def test_the_setup_says_deletes_spend_no_data_points(tmp_path: Path) -> None:
    from tui_world import preview_result

    from cdi_tui.tui.messages import ConnectionTested

    app = make_app(tmp_path / "home")
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await to_wizard_details(pilot)
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        screen.query_one("#type-deletes", RadioButton).value = True
        screen.details.emails_field.set_value("crm@example.com")
        await settle(pilot)
        screen.query_one("#next-2", Button).press()
        await settle(pilot)
        screen.post_message(ConnectionTested("app-opens", preview_result()))
        await settle(pilot)
        assert str(screen.test_step.preview_estimate_label.render()).startswith("Deletes spend no data points")
        assert not screen.test_step.estimate_button.display
    app.workspace.close()


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_the_progress_panel_shows_unchanged_rows_and_data_points(tmp_path: Path, size: str) -> None:
    from tui_world import with_progress_panel

    app = make_app(tmp_path / "home")
    async with app.run_test(size=SIZES[size]) as pilot:
        await with_progress_panel(pilot)
        panel = next(panel for panel in app.screen.query(ProgressPanel) if panel.integration == "user-attributes")
        counts = str(panel.query_one(".counts", Label).render())
        assert "unchanged 60,000" in counts and "41,250 data points" in counts
        assert counts.count("\n") == 1  # two lines, at every size
        assert visible(panel.query_one(".counts", Label))
    app.workspace.close()


# --- through the real stack ---------------------------------------------------------------------


@pytest.fixture
def env(
    redshift: RedshiftStandIn, braze: BrazeStandIn, secret_service: SecretService, tmp_path: Path, unique_name: str
) -> Iterator[SyncEnv]:
    sync_env = SyncEnv(
        redshift,
        braze,
        app_paths(tmp_path / "home"),
        unique_name,
        f"{unique_name}_u",
        f"pw-{unique_name}",
        secrets=KeyringCredentials(),
    )
    sync_env.setup()
    yield sync_env
    sync_env.teardown()


def counts_of(app: CdiApp, name: str) -> str | None:
    panel = next((panel for panel in app.screen.query(ProgressPanel) if panel.integration == name), None)
    return None if panel is None else str(panel.query_one(".counts", Label).render())


@pytest.mark.real
async def test_a_sync_from_the_app_shows_unchanged_rows_and_data_points_while_it_runs_and_after(env: SyncEnv) -> None:
    env.create_integration("attrs")
    env.fill("attrs", 1_500, payload_sql=PAYLOAD)
    first = env.ws.sync("attrs")
    assert (first.rows_sent, first.data_points) == (1_500, 1_500 * POINTS_A_ROW)
    restamp(env, "attrs", "payload = replace(payload, '\"Pro\"', '\"Team\"')", "substr(external_id, 6)::int % 3 = 0")
    restamp(env, "attrs", "", "substr(external_id, 6)::int % 3 <> 0")
    # one request at a time, each slow: the run lasts long enough to be watched
    env.ws.set_braze(BrazeSettings(endpoint=env.braze.url, max_in_flight=1), None)
    env.braze.set_faults(FaultPlan(latency_seconds=0.3))
    app = CdiApp(env.ws, run_schedules=False)
    async with app.run_test(size=SIZE) as pilot:
        app.action_open_integration("attrs")
        await settle(pilot)
        await pilot.press("s")

        def showing_both() -> bool:
            latest = app.progress.get("attrs")
            shown = counts_of(app, "attrs")
            return latest is not None and latest.unchanged > 0 and latest.data_points > 0 and shown == counts_text(latest)

        await wait_for(pilot, showing_both)
        latest = app.progress["attrs"]
        shown = counts_of(app, "attrs")
        assert shown is not None
        assert f"unchanged {latest.unchanged:,}" in shown and f"{latest.data_points:,} data points" in shown
        await wait_for(pilot, lambda: not app.runner.is_running("attrs"), seconds=60)
        await settle(pilot)
        record: RunRecord = env.ws.runs("attrs")[0]
        assert (record.status, record.rows_sent, record.rows_unchanged, record.data_points) == ("success", 500, 1_000, 500)
        table = app.screen.query_one("#runs", FitTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        for run in (first, record):
            cells = run_cells(table, run.id)
            assert (cells["Unchanged"], cells["Data points"]) == (f"{run.rows_unchanged:,}", f"{run.data_points:,}")
        subtitle = str(app.screen.query_one("#runs-panel").border_subtitle)
        assert subtitle.startswith(f"{first.data_points + record.data_points:,} data points in the last 30 days")
    assert env.ws.data_points_since("attrs", 30) == 1_500 * POINTS_A_ROW + 500


def make_source_table(env: SyncEnv, table: str, rows: int) -> None:
    env.redshift.admin_execute(
        [
            create_table_sql(env.schema, table, "attributes"),
            f"INSERT INTO {env.schema}.{table} (updated_at, external_id, payload) SELECT timestamptz "
            f"'2026-03-01 12:00:00+00' + (g || ' seconds')::interval, 'user-' || g, {PAYLOAD} FROM generate_series(1, {rows}) g",
            f"INSERT INTO {env.schema}.{table} (updated_at, payload) VALUES (now() - interval '1 hour', '{{\"n\": 1}}')",
            f"GRANT SELECT ON {env.schema}.{table} TO {quote_ident(env.user)}",
        ]
    )


async def set_up_to_the_test_step(pilot: Any, env: SyncEnv, table: str) -> NewIntegrationScreen:
    app = pilot.app
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewIntegrationScreen))
    screen = app.screen
    assert isinstance(screen, NewIntegrationScreen)
    await type_into(pilot, "#field-table Input", f"{env.schema}.{table}")
    screen.query_one("#next-1", Button).press()
    await settle(pilot)
    await type_into(pilot, "#field-emails Input", "crm@example.com")
    screen.query_one("#type-attributes", RadioButton).value = True  # chosen: no data type is preselected
    await settle(pilot)
    assert screen.query_one("#send-changed-only", Switch).value
    screen.query_one("#next-2", Button).press()
    await settle(pilot)
    screen.query_one("#run-test", Button).press()
    await wait_for(pilot, lambda: not screen.test_step.activate_button.disabled)
    return screen


@pytest.mark.real
async def test_the_test_step_estimates_the_preview_rows_and_on_request_the_whole_range(env: SyncEnv) -> None:
    make_source_table(env, "profiles", 700)
    app = CdiApp(env.ws, run_schedules=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await set_up_to_the_test_step(pilot, env, "profiles")
        name = screen.saved_name
        assert name is not None
        integration = env.ws.integration(name)
        assert (integration.state, integration.send_changed_only) == ("draft", True)
        result = env.ws.test_integration(name)  # the same newest 100 rows the step shows
        assert result.shape is not None and result.preview is not None
        data_points, unchanged = env.ws.preview_estimate(integration, result.shape, result.preview.rows)
        assert (data_points, unchanged) == (99 * POINTS_A_ROW, 0)  # the row without an identifier spends nothing
        preview_text = str(screen.test_step.preview_estimate_label.render())
        assert preview_text == (
            f"Sending these {len(result.preview.rows)} preview rows now would spend {data_points} data points "
            f"({unchanged} unchanged)."
        )
        button = screen.test_step.estimate_button
        await wait_for(pilot, lambda: visible(button), seconds=30)  # laid out once the step has drawn (slow on a busy machine)
        button.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert button.loading or "whole pending range" in str(screen.test_step.range_estimate_label.render())
        await wait_for(pilot, lambda: not button.loading, seconds=60)
        estimate = env.ws.runs(name)[0]
        assert estimate.dry_run and estimate.data_points == 700 * POINTS_A_ROW
        again = env.ws.estimate(name)  # a dry run of the saved draft says the same
        assert (again.data_points, again.rows_unchanged) == (estimate.data_points, estimate.rows_unchanged)
        range_text = str(screen.test_step.range_estimate_label.render())
        assert range_text == (
            f"The whole pending range, {estimate.rows_read:,} rows, would spend {estimate.data_points:,} data points "
            f"({estimate.rows_unchanged:,} unchanged); 1 row(s) not valid."
        )
        assert env.braze.stats.requests == 0  # nothing was sent
        assert env.ws.integration(name).state == "draft"

        # the draft can no longer read its table: the estimate fails in one clear line
        env.redshift.admin_execute(f"REVOKE SELECT ON {env.schema}.profiles FROM {quote_ident(env.user)}")
        button.press()
        await wait_for(pilot, lambda: screen.test_step.range_estimate_label.has_class("-failed"), seconds=60)
        failed = str(screen.test_step.range_estimate_label.render())
        assert failed.startswith("Whole-range estimate failed: ") and "\n" not in failed
        assert not button.loading and not button.disabled
