"""Acting on an integration from any screen: Sync Now, pause/resume, full resync, delete.

Each checks the rules first and says, in a modal, why an action cannot be done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cdi_tui.enums import IntegrationState, Trigger
from cdi_tui.errors import CdiError
from cdi_tui.workspace import SyncOptions

if TYPE_CHECKING:
    from cdi_tui.tui.app import CdiApp


def sync_now(app: CdiApp, name: str, options: SyncOptions | None = None) -> bool:
    """Start a manual sync (it does not move scheduled runs)."""
    if app.refused_in_read_only(f"Sync of {name}"):
        return False
    try:
        app.workspace.check_can_sync(name)
    except CdiError as error:
        app.show_error(f"{name} cannot sync yet", str(error))
        return False
    if not app.runner.start(name, options):
        app.toast(name, f"{name} is already syncing: its progress is in the Syncs running panel", severity="warning")
        return False

    return True


def pause_or_resume(app: CdiApp, name: str) -> None:
    if app.refused_in_read_only(f"Pausing or resuming {name}"):
        return
    workspace = app.workspace
    try:
        integration = workspace.integration(name)
        if integration.state == IntegrationState.ACTIVE:
            workspace.pause(name)
            app.notify(f"{name} paused: it will not run on schedule")
        else:
            workspace.activate(name)
            app.notify(f"{name} is active")
    except CdiError as error:
        app.show_error(f"{name} cannot change state", str(error))
    app.config_changed()


def full_resync(app: CdiApp, name: str) -> None:
    from cdi_tui.tui.screens.modals import ConfirmModal

    if app.refused_in_read_only(f"A full resync of {name}"):
        return

    def confirmed(answer: bool | None) -> None:
        if answer:
            sync_now(app, name, SyncOptions(trigger=Trigger.FULL_RESYNC, full_resync=True))

    app.push_screen(
        ConfirmModal(
            f"Send every row of {name} again?\n\nEvery attribute sent costs a data point, and events and "
            "purchases sent twice are recorded twice by Braze.",
            "Full resync",
        ),
        confirmed,
    )


def delete_integration(app: CdiApp, name: str, after: Callable[[], None]) -> None:
    from cdi_tui.tui.screens.modals import ConfirmModal

    if app.refused_in_read_only(f"Deleting {name}"):
        return

    def confirmed(answer: bool | None) -> None:
        if not answer:
            return
        if app.runner.is_running(name):
            app.show_error(f"{name} is syncing", "Cancel the sync first, then delete the integration.")
            return
        try:
            app.workspace.remove_integration(name)
        except CdiError as error:
            app.show_error(f"{name} cannot be deleted", str(error))
            return
        app.notify(f"{name} deleted; its past runs stay readable by run id")
        app.config_changed()
        after()

    app.push_screen(ConfirmModal(f"Delete the integration {name}?\n\nIts sync state is forgotten.", "Delete"), confirmed)


def show_setup_sql(app: CdiApp, name: str) -> None:
    """The SQL to run in Redshift first for a saved integration: its table, data type and user."""
    from cdi_tui.setup_sql import setup_sql
    from cdi_tui.tui.screens.modals import TextModal

    config = app.workspace.config()
    integration = app.workspace.integration(name, config)
    credential = config.credentials[integration.credential]
    user = credential.user or credential.db_user or "braze_user"  # IAM: the database user AWS signs in as
    app.push_screen(
        TextModal(
            f"Setup SQL for {name}: run this in Redshift first",
            setup_sql(integration.table_name, integration.data_type, user),
            "sql",
        )
    )
