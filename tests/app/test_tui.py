"""The app as a user drives it (Pilot), against the real stand-ins and the real keyring."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input, RadioButton, Select

from cdi_tui.config import BrazeSettings
from cdi_tui.paths import AppPaths, app_paths
from cdi_tui.runlog import RunLog
from cdi_tui.secret_store import KeyringCredentials, credential_account
from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.demo_data import create_table_sql
from cdi_tui.standins.postgres import RedshiftStandIn, quote_ident
from cdi_tui.standins.secret_service import SecretService
from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.screens.credentials import CredentialsScreen
from cdi_tui.tui.screens.modals import ErrorModal
from cdi_tui.tui.screens.wizard import NewIntegrationScreen
from cdi_tui.tui.widgets.frequency import FrequencyPicker
from cdi_tui.workspace import Workspace

pytestmark = pytest.mark.real
SIZE = (150, 50)


class World:
    def __init__(self, redshift: RedshiftStandIn, braze: BrazeStandIn, paths: AppPaths, schema: str) -> None:
        self.redshift, self.braze, self.paths, self.schema = redshift, braze, paths, schema
        self.user, self.password = f"{schema}_u", f"Secret-{schema}-pw"
        self.workspace = Workspace(paths, KeyringCredentials())


@pytest.fixture
def world(
    redshift: RedshiftStandIn, braze: BrazeStandIn, secret_service: SecretService, tmp_path: Path, unique_name: str
) -> Iterator[World]:
    w = World(redshift, braze, app_paths(tmp_path / "home").ensure(), unique_name)
    redshift.create_user(w.user, w.password)
    redshift.admin_execute(
        [
            f"CREATE SCHEMA {quote_ident(w.schema)}",
            f"GRANT USAGE ON SCHEMA {quote_ident(w.schema)} TO {quote_ident(w.user)}",
            create_table_sql(w.schema, "events", "events"),
            f"INSERT INTO {w.schema}.events (updated_at, external_id, payload) "
            f"SELECT now() - (g || ' minutes')::interval, 'user-' || g, "
            f'\'{{"name": "opened", "properties": {{"n": \' || g || \'}}}}\' FROM generate_series(1, 500) g',
            f'INSERT INTO {w.schema}.events (updated_at, payload) VALUES (now(), \'{{"name": "orphan"}}\')',
            f"GRANT SELECT ON {w.schema}.events TO {quote_ident(w.user)}",
        ]
    )
    w.workspace.set_braze(BrazeSettings(endpoint=braze.url), "test-key")
    yield w
    w.workspace.close()
    redshift.admin_execute(f"DROP SCHEMA {quote_ident(w.schema)} CASCADE")


def add_active_events_integration(world: World) -> None:
    """A credential 'wh' and an active, tested integration 'ev' on the events table."""
    from cdi_tui.config import Credential, Integration

    world.workspace.add_credential(
        Credential(
            name="wh", host="127.0.0.1", port=world.redshift.port, database="postgres", user=world.user, sslmode="disable"
        ),
        world.password,
    )
    world.workspace.add_integration(
        Integration(
            name="ev", credential="wh", table=f"{world.schema}.events", data_type="events", contact_emails=("a@example.com",)
        )
    )
    assert world.workspace.test_integration("ev").ok
    world.workspace.activate("ev")


async def type_into(pilot, selector: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Clear an input and type into it key by key, as a person would."""
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    widget.value = ""
    await pilot.press(*list(text))
    await pilot.pause()


async def click(pilot, selector: str) -> None:  # type: ignore[no-untyped-def]
    button = pilot.app.screen.query_one(selector, Button)
    button.scroll_visible(animate=False)
    await pilot.pause()
    button.press()
    await pilot.pause()


async def wait_for(pilot, condition, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError("the app did not get there in time")


async def test_the_wizard_creates_tests_and_activates_an_integration_from_nothing(world: World) -> None:
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#checklist").display  # the empty state is a setup checklist
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewIntegrationScreen))
        screen = app.screen
        assert screen.query_one("#credential", Select).value == "__new__"  # no credential yet: a new one
        await type_into(pilot, "#field-credential-name Input", "warehouse")
        await type_into(pilot, "#field-host Input", "127.0.0.1")
        await type_into(pilot, "#field-port Input", str(world.redshift.port))
        await type_into(pilot, "#field-database Input", "postgres")
        await type_into(pilot, "#field-user Input", world.user)
        await type_into(pilot, "#field-password Input", world.password)
        screen.query_one("#field-sslmode Select", Select).value = "disable"
        # a bad port is shown beside the field as typed
        await type_into(pilot, "#field-port Input", "99999")
        assert "65535" in str(screen.query_one("#field-port .field-error").render())
        await type_into(pilot, "#field-port Input", str(world.redshift.port))
        await click(pilot, "#load-tables")
        await wait_for(pilot, lambda: "table(s) visible" in str(screen.query_one("#connection-status").render()))
        screen.query_one("#table-picker", Select).value = f"{world.schema}.events"
        await pilot.pause()
        assert screen.query_one("#field-table Input", Input).value == f"{world.schema}.events"
        await click(pilot, "#next-1")
        await type_into(pilot, "#field-name Input", "app-events")
        await type_into(pilot, "#field-emails Input", "crm@example.com")
        screen.query_one("#type-events", RadioButton).value = True
        picker = screen.query_one("#frequency", FrequencyPicker)
        picker.set_kind("hourly")
        picker.set_number("minute", 15)
        await pilot.pause()
        assert picker.value == "hourly at :15"
        assert "Next runs:" in str(picker.query_one(".next-runs").render())
        await click(pilot, "#next-2")
        saved = world.workspace.config().integrations["app-events"]
        assert (saved.state, saved.data_type, saved.frequency) == ("draft", "events", "hourly at :15")
        assert screen.query_one("#activate", Button).disabled
        await click(pilot, "#run-test")
        await wait_for(pilot, lambda: not screen.query_one("#activate", Button).disabled)
        preview = screen.query_one("#preview", DataTable)
        assert preview.row_count == 100
        assert "no: no identifier" in str(preview.get_row_at(0)[0])  # VALID? comes first; the newest row has no identifier
        assert "Braze events object" in str(screen.query_one("#braze-object").render()) or "not sent" in str(
            screen.query_one("#braze-object").render()
        )
        await click(pilot, "#activate")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewIntegrationScreen))
    config = world.workspace.config()
    integration = config.integrations["app-events"]
    assert integration.state == "active"
    assert integration.contact_emails == ("crm@example.com",)
    assert integration.table == f"{world.schema}.events"
    assert config.credentials["warehouse"].user == world.user
    assert KeyringCredentials.for_home(world.paths).get(credential_account("warehouse")) == world.password
    for path in world.paths.config_dir.parent.rglob("*"):
        if path.is_file():
            assert world.password.encode() not in path.read_bytes(), path


async def test_sync_now_shows_a_progress_panel_that_completes(world: World) -> None:
    add_active_events_integration(world)
    from cdi_tui.standins.braze import FaultPlan

    world.braze.set_faults(FaultPlan(latency_seconds=0.2))
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await wait_for(pilot, lambda: bool(app.screen.query(".progress-panel")))
        assert app.screen.query_one("#panels").display
        assert app.runner.is_running("ev")
        await pilot.press("down", "up")  # the app keeps answering keys while it syncs
        await wait_for(pilot, lambda: not app.runner.is_running("ev"))
        await pilot.pause(0.2)
        assert not app.screen.query(".progress-panel")
        assert any(n.title.startswith("ev: sync") and n.message.startswith("partial") for n in app._notifications)
    [record] = world.workspace.runs("ev")
    assert (record.status, record.rows_sent, record.rows_failed) == ("partial", 500, 1)
    assert len(world.braze.objects("events")) == 500


async def test_deleting_a_credential_an_active_integration_uses_is_refused(world: World) -> None:
    add_active_events_integration(world)
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialsScreen))
        await pilot.press("d")
        await pilot.pause()
        await click(pilot, "#yes")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal))
        assert "ev" in app.screen.message and "active" in app.screen.message
    assert "wh" in world.workspace.config().credentials


@pytest.mark.parametrize(("problem", "expected"), [("password", "Login refused"), ("table", "Table missing")])
async def test_a_failed_connection_test_shows_the_error_and_the_fix(world: World, problem: str, expected: str) -> None:
    from cdi_tui.config import Credential

    password = "wrong-password" if problem == "password" else world.password
    world.workspace.add_credential(
        Credential(
            name="wh", host="127.0.0.1", port=world.redshift.port, database="postgres", user=world.user, sslmode="disable"
        ),
        password,
    )
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewIntegrationScreen))
        screen = app.screen
        table = f"{world.schema}.events" if problem == "password" else f"{world.schema}.nothing_here"
        await type_into(pilot, "#field-table Input", table)
        await click(pilot, "#next-1")
        await type_into(pilot, "#field-emails Input", "ops@example.com")
        screen.query_one("#type-events", RadioButton).value = True  # chosen: no data type is preselected
        await click(pilot, "#next-2")
        await click(pilot, "#run-test")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal))
        assert expected in app.screen.message and "What to try" in app.screen.message
        assert "wrong-password" not in app.screen.message
        await pilot.press("escape")
        await pilot.pause()
        assert screen.query_one("#activate", Button).disabled
        assert screen.query_one("#test-error").display


async def test_the_open_app_runs_a_due_integration_on_schedule(world: World) -> None:
    add_active_events_integration(world)
    app = CdiApp(world.workspace)  # schedules on: an active integration that never ran is due at once
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(world.workspace.runs("ev")) and not app.runner.is_running("ev"))
    [record] = world.workspace.runs("ev")
    assert record.trigger == "scheduled"
    runlog = RunLog(world.workspace.paths.run_log)
    assert runlog.last_scheduled("ev") is not None
    runlog.close()


async def test_smtp_settings_are_saved_from_the_app_with_the_password_in_the_keyring(world: World) -> None:
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=(150, 80)) as pilot:
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialsScreen))
        await type_into(pilot, "#smtp-host Input", "127.0.0.1")
        await type_into(pilot, "#smtp-port Input", "2525")
        await type_into(pilot, "#smtp-sender Input", "cdi@example.com")
        await type_into(pilot, "#smtp-user Input", "mailer")
        app.screen.query_one("#smtp-security Select", Select).value = "none"
        await type_into(pilot, "#smtp-password", "mail-secret-7")
        await click(pilot, "#save-smtp")
    smtp = world.workspace.config().smtp
    assert smtp is not None and (smtp.host, smtp.port, smtp.sender, smtp.security, smtp.user) == (
        "127.0.0.1",
        2525,
        "cdi@example.com",
        "none",
        "mailer",
    )
    assert KeyringCredentials.for_home(world.paths).get("smtp:password") == "mail-secret-7"
    assert b"mail-secret-7" not in world.paths.config_file.read_bytes()


async def test_leaving_the_setup_at_the_first_step_can_keep_a_draft(world: World) -> None:
    from cdi_tui.config import Credential
    from cdi_tui.tui.screens.keep_draft import KeepDraftModal

    world.workspace.add_credential(
        Credential(
            name="wh", host="127.0.0.1", port=world.redshift.port, database="postgres", user=world.user, sslmode="disable"
        ),
        world.password,
    )
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewIntegrationScreen))
        await type_into(pilot, "#field-table Input", f"{world.schema}.events")
        await pilot.press("escape")
        # no data type is preselected: the question asks for one, and says it can change until activation
        await wait_for(pilot, lambda: isinstance(app.screen, KeepDraftModal))
        assert "Custom Attributes" in str(app.screen.query_one("#keep-attributes", Button).label)
        assert "can change until the integration is activated" in str(app.screen.query_one(".dialog-body").render())
        await click(pilot, "#keep-attributes")
        await wait_for(pilot, lambda: not isinstance(app.screen, (KeepDraftModal, NewIntegrationScreen)))
        assert not isinstance(app.screen, ErrorModal), app.screen.message  # type: ignore[attr-defined]
    [draft] = world.workspace.config().integrations.values()
    assert (draft.name, draft.state, draft.data_type, draft.table) == ("events", "draft", "attributes", f"{world.schema}.events")


async def test_the_table_picker_marks_used_tables_and_refuses_them(world: World) -> None:
    from cdi_tui.tui.widgets.setup.connection import ConnectionStep

    add_active_events_integration(world)
    world.redshift.admin_execute(
        [
            create_table_sql(world.schema, "free_events", "events"),
            f"GRANT SELECT ON {world.schema}.free_events TO {quote_ident(world.user)}",
        ]
    )
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewIntegrationScreen))
        step = app.screen.query_one(ConnectionStep)
        assert step.credential_choice == "wh"
        await click(pilot, "#load-tables")
        await wait_for(pilot, lambda: "table(s) visible" in str(step.status.render()))
        assert not step.table_picker.loading
        labels = {str(value): str(label) for label, value in step.table_picker._options if value is not Select.BLANK}
        assert labels[f"used:ev:{world.schema}.events"] == f"{world.schema}.events  (used by ev)"
        assert labels[f"{world.schema}.free_events"] == f"{world.schema}.free_events"
        step.table_picker.value = f"used:ev:{world.schema}.events"
        await pilot.pause()
        assert step.table_field.raw == ""  # a used table is never taken into the form
        assert "already synced by ev" in str(step.status.render())
        step.table_picker.value = f"{world.schema}.free_events"
        await pilot.pause()
        assert step.table_field.raw == f"{world.schema}.free_events"


async def test_a_full_resync_from_the_app_is_recorded_as_one(world: World) -> None:
    from cdi_tui.tui.screens.integration import IntegrationScreen

    add_active_events_integration(world)
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen))
        await pilot.press("ctrl+r")
        await pilot.pause()
        await click(pilot, "#yes")
        await wait_for(pilot, lambda: bool(world.workspace.runs("ev")) and not app.runner.is_running("ev"))
        await pilot.pause(0.2)
        assert "full resync" in str(app.screen.query_one("#runs").get_row_at(0)[1])
    [record] = world.workspace.runs("ev")
    assert (record.trigger, record.full_resync) == ("full_resync", True)


async def test_quitting_during_a_sync_cancels_it_and_records_the_run(world: World) -> None:
    from cdi_tui.standins.braze import FaultPlan

    add_active_events_integration(world)
    world.braze.set_faults(FaultPlan(latency_seconds=0.5))
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: bool(app.screen.query(".progress-panel")))
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert app.return_code == 0  # ctrl+q asked the app to exit (None until then)
    for _ in range(300):
        runs = world.workspace.runs("ev")
        if runs and runs[0].status != "running":
            break
        await asyncio.sleep(0.1)
    [record] = world.workspace.runs("ev")
    assert record.status == "cancelled"
    assert len(world.braze.objects("events")) < 500
