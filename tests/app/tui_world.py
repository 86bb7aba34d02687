"""A fixed world for snapshots and README screenshots: fixed config, runs, failed rows and clock.

No stand-in is needed: every screen here reads the config and the run log only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual._compositor import LayoutUpdate
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input

from cdi_tui.checks import ConnectionTestResult
from cdi_tui.config import BrazeSettings, Credential, Integration
from cdi_tui.engine.sync import Progress
from cdi_tui.paths import app_paths
from cdi_tui.runlog import RowErrorRecord, RunLog
from cdi_tui.secret_store import MemoryCredentials
from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.messages import ConnectionTested, SyncProgressed
from cdi_tui.warehouse.source import Preview, TableShape
from cdi_tui.workspace import Workspace

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SIZE = (140, 45)
SIZES = {"80x24": (80, 24), "140x45": (140, 45)}


def fixed_workspace(home: Path, *, empty: bool = False) -> Workspace:
    workspace = Workspace(app_paths(home), MemoryCredentials())
    workspace.set_braze(BrazeSettings(endpoint="US-03", time_zone="America/New_York"), "demo-key")
    if empty:
        return workspace
    workspace.add_credential(
        Credential(name="prod", host="examplecluster.abc123.us-west-2.redshift.amazonaws.com", database="dev", user="braze_user"),
        "hunter2-not-shown",
    )
    for name, table, data_type, frequency in (
        ("user-attributes", "BRAZE_CLOUD_PRODUCTION.INGESTION.USERS_ATTRIBUTES_SYNC", "attributes", "every 15 minutes"),
        ("app-events", "INGESTION.EVENTS_SYNC", "events", "hourly at :05"),
        ("purchases", "INGESTION.PURCHASES_SYNC", "purchases", "daily at 02:30"),
        ("gdpr-deletes", "INGESTION.USERS_DELETES_SYNC", "deletes", "weekly on mon,thu at 06:00"),
    ):
        workspace.add_integration(
            Integration(
                name=name,
                credential="prod",
                table=table,
                data_type=data_type,
                frequency=frequency,
                contact_emails=("crm@example.com",),
            )
        )
    runlog = RunLog(workspace.paths.run_log)
    runlog.record_test("user-attributes", _fingerprint(workspace, "user-attributes"))
    workspace.activate("user-attributes")
    runlog.record_test("app-events", _fingerprint(workspace, "app-events"))
    workspace.activate("app-events")
    workspace.pause("app-events")
    # read, failed, unchanged (only changed attributes are sent: 3 a row the first time, fewer later), status
    for index, (read, failed, unchanged, status) in enumerate(
        [
            (120_000, 0, 0, "success"),
            (3_400, 12, 2_900, "partial"),
            (5_100, 0, 4_700, "success"),
            (0, 0, 0, "success"),
            (8_750, 3, 8_000, "partial"),
        ]
    ):
        started = NOW - timedelta(hours=5 - index)
        run_id = runlog.start_run("user-attributes", "scheduled" if index % 2 else "manual", False, False, None, 1)
        runlog.update_run(
            run_id,
            status=status,
            ended_at=started + timedelta(seconds=12 + index),
            rows_total=read,
            rows_read=read,
            rows_sent=read - failed - unchanged,
            rows_failed=failed,
            rows_unchanged=unchanged,
            data_points=3 * (read - failed - unchanged),
            watermark_after=f"{(started - timedelta(minutes=1)).isoformat()} (1 at that time)",
        )
        runlog._conn.execute("UPDATE runs SET started_at = ? WHERE id = ?", (started.isoformat(), run_id))
        runlog.add_row_errors(
            [
                RowErrorRecord(
                    run_id,
                    "user-attributes",
                    (started - timedelta(minutes=n)).isoformat(),
                    f"external_id=user-{n}",
                    "payload_not_json",
                    "PAYLOAD is not valid JSON (unexpected character: line 1 column 2)",
                    "{plan: Pro",
                )
                for n in range(failed)
            ]
        )
    runlog.close()
    return workspace


def _fingerprint(workspace: Workspace, name: str) -> str:
    from cdi_tui.checks import integration_fingerprint

    config = workspace.config()
    integration = config.integrations[name]
    return integration_fingerprint(config.credentials[integration.credential], integration)


def make_app(home: Path, *, empty: bool = False) -> CdiApp:
    return CdiApp(fixed_workspace(home, empty=empty), clock=lambda: NOW, run_schedules=False)


async def settle(pilot: Pilot[Any]) -> None:
    """Let the screen's workers (run history, ...) finish, with the cursors still."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()
    draw_frame(pilot.app)


def draw_frame(app: App[Any]) -> str:
    """Draw the current screen in full, as the driver would write it to a terminal: every widget's
    ``render`` runs, so one that raises fails the test here (see ``frames_drawn_when_looked_at``)."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    assert isinstance(update, LayoutUpdate)
    return update.render_segments(app.console)


def preview_result() -> ConnectionTestResult:
    shape = TableShape({"updated_at": "updated_at", "external_id": "external_id", "payload": "payload"})
    rows = [
        (NOW - timedelta(minutes=1), None, '{"name": "opened_app"}'),
        (NOW - timedelta(minutes=2), "user-2", '{"name": "viewed_product", "properties": {"sku": "SKU-2"}}'),
        (NOW - timedelta(minutes=3), "user-3", '{"properties": {"sku": "SKU-3"}}'),
        (NOW - timedelta(minutes=4), "user-4", '{"name": "added_to_cart", "properties": {"sku": "SKU-4", "count": 2}}'),
    ]
    return ConnectionTestResult(
        ok=True, shape=shape, preview=Preview(("updated_at", "external_id", "payload"), rows), pending_rows=4
    )


async def to_wizard_details(pilot: Pilot[Any]) -> None:
    await pilot.press("n")
    await pilot.pause()
    screen = pilot.app.screen
    screen.query_one("#field-table Input", Input).value = "INGESTION.APP_OPENS"
    screen.query_one("#next-1").press()
    await settle(pilot)


async def to_wizard_preview(pilot: Pilot[Any]) -> None:
    await to_wizard_details(pilot)
    screen = pilot.app.screen
    screen.query_one("#field-emails Input", Input).value = "crm@example.com"
    from textual.widgets import RadioButton

    screen.query_one("#type-events", RadioButton).value = True
    await pilot.pause()
    screen.query_one("#next-2").press()
    await pilot.pause()
    screen.post_message(ConnectionTested("app-opens", preview_result()))
    await settle(pilot)


async def with_progress_panel(pilot: Pilot[Any]) -> None:
    """Two syncs under way (no worker: the app is told they started and how far they are)."""
    app = pilot.app
    assert isinstance(app, CdiApp)
    for progress in (
        Progress(7, "user-attributes", "sending", 250_000, 91_500, 30_000, 1_500, 0, 37.5, unchanged=60_000, data_points=41_250),
        Progress(8, "app-events", "reading", 12_000, 2_000, 1_800, 0, 0, 4.0, data_points=1_800),
    ):
        app.sync_started(progress.integration)
        app.post_message(SyncProgressed(progress))
    await settle(pilot)


async def open_integration(pilot: Pilot[Any]) -> None:
    await pilot.press("down", "down", "down", "o")
    await settle(pilot)


async def open_failed_rows(pilot: Pilot[Any]) -> None:
    await open_integration(pilot)
    await pilot.press("f")
    await settle(pilot)


async def open_credentials(pilot: Pilot[Any]) -> None:
    await pilot.press("f2")
    await settle(pilot)


async def open_help(pilot: Pilot[Any]) -> None:
    await pilot.press("question_mark")
    await settle(pilot)


async def open_integration_settings(pilot: Pilot[Any]) -> None:
    await open_integration(pilot)
    from textual.widgets import TabbedContent

    pilot.app.screen.query_one(TabbedContent).active = "settings-tab"
    await settle(pilot)


async def open_credential_form(pilot: Pilot[Any]) -> None:
    await pilot.press("f2", "a")
    await settle(pilot)


async def open_credential_form_tunnel(pilot: Pilot[Any]) -> None:
    """The dialog with IAM sign-in and an SSH tunnel chosen, scrolled to the tunnel's fields."""
    from textual.widgets import Checkbox, Input, Select

    await open_credential_form(pilot)
    screen = pilot.app.screen
    screen.query_one("#field-auth Select", Select).value = "iam"
    screen.query_one("#use-ssh", Checkbox).value = True
    await settle(pilot)
    screen.query_one("#field-ssh_host Input", Input).focus()
    await settle(pilot)


async def show_ssh_public_key(pilot: Pilot[Any]) -> None:
    """A tunnel key's authorized_keys line shown to copy (a fixed key: generated ones differ each run)."""
    from cdi_tui.config import Credential
    from cdi_tui.tui.screens.credentials import show_public_key
    from cdi_tui.warehouse.tunnel import authorized_keys_line

    await open_credentials(pilot)
    credential = Credential(
        name="private", host="10.0.4.12", database="dev", user="braze_user", ssh_host="bastion.example.com", ssh_user="tunnel"
    )
    public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE9n0cA0sK3sA7n1mJx0b2V4YW1wbGVrZXlmb3JzbmFwc2hvdHM cdi-tui:private"
    show_public_key(pilot.app.screen, credential, authorized_keys_line(public, credential.host, credential.port))
    await settle(pilot)


async def open_braze_settings(pilot: Pilot[Any]) -> None:
    await pilot.press("f2")
    from textual.widgets import TabbedContent

    pilot.app.screen.query_one(TabbedContent).active = "braze-tab"
    await settle(pilot)


async def confirm_delete(pilot: Pilot[Any]) -> None:
    await pilot.press("d")
    await settle(pilot)


async def show_error(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, CdiApp)
    app.show_error(
        "Connection test failed (login)",
        "Redshift refused the login of braze_user.\n\nWhat to try: check the user and password of the credential.",
    )
    await settle(pilot)


async def setup_sql(pilot: Pilot[Any]) -> None:
    await pilot.press("n", "ctrl+s")
    await settle(pilot)


async def open_row_detail(pilot: Pilot[Any]) -> None:
    """A failed row in full: the whole reason and the payload, to read or copy."""
    await open_failed_rows(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def open_integration_test(pilot: Pilot[Any]) -> None:
    """An integration's Test tab after a test passed (the result as the test's worker posts it)."""
    await open_integration(pilot)
    screen = pilot.app.screen
    screen.tabs.active = "test-tab"  # type: ignore[attr-defined]
    screen.test_step.post_message(ConnectionTested("user-attributes", preview_result()))  # type: ignore[attr-defined]
    await settle(pilot)


async def filter_dashboard(pilot: Pilot[Any]) -> None:
    """``/`` on the dashboard: the rows containing the text typed."""
    await settle(pilot)
    await pilot.press("slash", *"ev")
    await settle(pilot)


async def _wizard_connection(pilot: Pilot[Any]) -> None:
    await pilot.press("n")
    await settle(pilot)


SCREENS: dict[str, Callable[[Pilot[Any]], Awaitable[None]]] = {
    "dashboard": settle,
    "sync-progress": with_progress_panel,
    "wizard-connection": _wizard_connection,
    "wizard-details": to_wizard_details,
    "wizard-test": to_wizard_preview,
    "integration": open_integration,
    "integration-settings": open_integration_settings,
    "failed-rows": open_failed_rows,
    "credentials": open_credentials,
    "credential-form": open_credential_form,
    "credential-form-tunnel": open_credential_form_tunnel,
    "ssh-public-key": show_ssh_public_key,
    "braze-settings": open_braze_settings,
    "confirm": confirm_delete,
    "error": show_error,
    "setup-sql": setup_sql,
    "help": open_help,
    "row-detail": open_row_detail,
    "integration-test": open_integration_test,
    "dashboard-filter": filter_dashboard,
}
