"""New integration, in the seed's order: connection and source, sync details, test, activate.

Each step is a widget with typed accessors that posts step messages; this screen moves between
them and talks to the workspace. It saves a draft as soon as the details are complete (leaving
the test step keeps it a draft); its data type can change until it is activated. Long work (listing
tables, the connection test, the whole-range estimate) runs in thread workers that only post
messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Input, Select
from textual.worker import Worker, WorkerState

from cdi_tui.config import DEFAULT_WORKSPACE, Config, Credential, Integration
from cdi_tui.enums import DataType
from cdi_tui.errors import CdiError
from cdi_tui.fields import DATA_TYPE_LABELS, FieldError
from cdi_tui.tables import TableNameError, parse_table_name
from cdi_tui.tui.base import CdiMixin, StyledOnMount
from cdi_tui.tui.messages import ConnectionTested
from cdi_tui.tui.safe import expected
from cdi_tui.tui.schedule_text import workspace_zone
from cdi_tui.tui.widgets.fields import collect
from cdi_tui.tui.widgets.footer import KeysFooter
from cdi_tui.tui.widgets.header import WorkspaceHeader, show_braze_workspace
from cdi_tui.tui.widgets.setup.connection import ConnectionStep, table_used_by
from cdi_tui.tui.widgets.setup.details import DetailsStep
from cdi_tui.tui.widgets.setup.stepper import Stepper
from cdi_tui.tui.widgets.setup.test_step import TestStep

STEPS = ("step-connection", "step-details", "step-test")
DEFAULT_TABLE = "BRAZE_CLOUD_PRODUCTION.INGESTION.USERS_ATTRIBUTES_SYNC"


@dataclass
class TablesLoaded(Message):
    tables: list[tuple[str, str]]
    credential: Credential


def preferred_credential(app: CdiMixin, config: Config) -> str | None:
    """The credential used last (kept in the app's preferences), else the one most integrations use."""
    remembered = app.cdi.preferences.load().last_credential
    if remembered in config.credentials:
        return str(remembered)
    if not config.credentials:
        return None
    return max(sorted(config.credentials), key=lambda name: len(config.integrations_using(name)))


def auto_name(table_text: str) -> str:
    return parse_table_name(table_text).table.replace("_", "-")[:64]


class NewIntegrationScreen(CdiMixin, StyledOnMount, Screen[None]):
    HELP = (
        "The guided setup: 1 a credential and the source table (Setup SQL shows what to run in Redshift first); "
        "2 name, contacts, data type (it can change until activation), whether only changed attributes are sent, and schedule; "
        "3 a connection test with a preview marked valid or not, the Braze object each row becomes, and what "
        "sending would spend (Estimate whole range: a dry run that sends nothing). Leaving keeps a draft when there "
        "is enough to save."
    )
    DEFAULT_CSS = """
    NewIntegrationScreen {
        #wizard { height: 1fr; }
        #wizard > * { height: 1fr; }
    }
    """
    BINDINGS = [
        Binding("escape", "leave", "Leave (keeps a draft)", id="leave"),
        Binding("ctrl+s", "setup_sql", "Setup SQL", id="setup-sql", tooltip="The SQL to run in Redshift first"),
    ]

    def __init__(self, draft: str | None = None) -> None:
        """``draft``: continue the setup of this saved draft (its settings filled in, at Sync details)."""
        super().__init__()
        self.step = 0
        self.saved_name: str | None = draft  # the draft, once saved
        self.draft = draft
        self.auto_name: str | None = None  # the name the setup suggested from the table
        self.leaving = False
        self.braze_workspace: str | None = None  # the Braze workspace chosen in Sync details (the header names it)

    # typed accessors ----------------------------------------------------------------------
    @property
    def connection(self) -> ConnectionStep:
        return self.query_one(ConnectionStep)

    @property
    def details(self) -> DetailsStep:
        return self.query_one(DetailsStep)

    @property
    def test_step(self) -> TestStep:
        return self.query_one(TestStep)

    # layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        config = self.workspace.config()
        draft = config.integrations.get(self.draft) if self.draft else None
        yield WorkspaceHeader()
        with Vertical(id="wizard-body"):
            yield Stepper(id="steps")
            with ContentSwitcher(initial=STEPS[0], id="wizard"):
                yield ConnectionStep(config, draft.credential if draft else preferred_credential(self, config))
                zones = {name: settings.time_zone for name, settings in config.workspaces.items()}
                self.braze_workspace = draft.workspace if draft else config.main_workspace
                yield DetailsStep(
                    workspace_zone(self.workspace),
                    self.cdi.clock,
                    draft.frequency if draft else None,
                    zones,
                    self.braze_workspace,
                )
                yield TestStep()
        yield KeysFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "New integration" if self.draft is None else f"Setup of {self.draft}"
        if self.draft is not None:
            self._fill_from_draft(self.workspace.integration(self.draft))

    def _fill_from_draft(self, draft: Integration) -> None:
        """Continue a saved draft's setup: its settings in the forms, at Sync details."""
        self.connection.table_field.set_value(draft.table)
        details = self.details
        details.name_field.set_value(draft.name)
        details.emails_field.set_value(", ".join(draft.contact_emails))
        details.set_data_type(draft.data_type)
        details.set_workspace(draft.workspace)
        details.set_options(draft.update_existing_only, draft.sends_changed_only, draft.prioritization, draft.catalog)
        self.test_step.integration_name = draft.name
        self._go(1)

    # step 1 -------------------------------------------------------------------------------
    @on(ConnectionStep.LoadTables)
    def _load_tables(self) -> None:
        chosen = self.connection.credential_from_form()
        if chosen is None:
            return
        self.connection.say("Connecting...")
        self.connection.table_picker.loading = True
        self._list_tables(chosen.credential, chosen.password)

    @work(thread=True, exclusive=True, group="tables", exit_on_error=False)
    def _list_tables(self, credential: Credential, password: str | None) -> None:
        tables = self.workspace.tables_visible_to(credential, password)
        self.post_message(TablesLoaded(tables, credential))

    def on_tables_loaded(self, message: TablesLoaded) -> None:
        self.connection.config = self.workspace.config()
        self.connection.show_tables(message.tables, message.credential, sorted(self.connection.config.workspaces))

    @on(ConnectionStep.SetupSql)
    def action_setup_sql(self) -> None:
        from cdi_tui.setup_sql import setup_sql
        from cdi_tui.tui.screens.modals import TextModal

        step = self.connection
        try:
            table = parse_table_name(step.table_field.raw or DEFAULT_TABLE)
        except TableNameError:
            table = parse_table_name(DEFAULT_TABLE)
        saved = step.chosen_credential()
        if saved is not None:
            user = saved.user or saved.db_user or "braze_user"  # IAM: the database user AWS signs in as
        else:
            user = step.field("user").raw or step.field("db_user").raw or "braze_user"
        data_type = self.details.data_type
        title = "Setup SQL: run this in Redshift first" + (
            "" if data_type else " (for Custom Attributes until a data type is chosen)"
        )
        self.app.push_screen(TextModal(title, setup_sql(table, data_type or DataType.ATTRIBUTES, user), "sql"))

    @on(ConnectionStep.Done)
    def _next_from_connection(self) -> None:
        step = self.connection
        chosen = step.credential_from_form()
        try:
            table_text = str(step.table_field.value())
        except FieldError:
            return
        if chosen is None:
            return
        credential = chosen.credential
        config = self.workspace.config()
        chosen_workspace = self.details.workspace
        free = self._free_workspace(config, credential, table_text)
        if free is None:
            user = table_used_by(config, credential, table_text, except_name=self.saved_name)
            where = " in every Braze workspace" if len(config.workspaces) > 1 else ""
            step.say(
                f"{table_text} is already synced by {user}{where} (one integration per table in a workspace): pick another",
                refused=True,
            )
            return
        if free != chosen_workspace:  # the table is synced to the workspace chosen, not to this one
            user = table_used_by(config, credential, table_text, except_name=self.saved_name, braze_workspace=chosen_workspace)
            self.details.set_workspace(free)
            show_braze_workspace(self, free)
            self.notify(
                f"{table_text} is synced to Braze workspace {chosen_workspace} by {user}: this integration goes to {free}",
                title="Braze workspace",
                markup=False,
                timeout=6,
            )
        if step.is_new_credential:
            from cdi_tui.tui.screens.credentials import save_new_credential

            if not save_new_credential(self, chosen):
                return
            step.set_credentials(self.workspace.config(), credential.name)
            self.cdi.config_changed()
        self.cdi.preferences.update(last_credential=credential.name)
        name_field = self.details.name_field
        if not name_field.raw or name_field.raw == self.auto_name:
            self.auto_name = auto_name(table_text)
            name_field.set_value(self.auto_name)
        self._go(1)

    def _free_workspace(self, config: Config, credential: Credential, table_text: str) -> str | None:
        """The Braze workspace this table can go to (one integration per table in a workspace): the
        one chosen in Sync details when free, else the first free one; None when every one has it."""
        chosen = self.details.workspace
        names: list[str | None] = [*([chosen] if chosen is not None else []), *sorted(set(config.workspaces) - {chosen})]
        for name in names or [None]:
            if table_used_by(config, credential, table_text, except_name=self.saved_name, braze_workspace=name) is None:
                return name if name is not None else chosen
        return None

    # step 2 -------------------------------------------------------------------------------
    def _integration_from_form(self) -> Integration | None:
        step = self.connection
        if step.is_new_credential:
            return None
        details = self.details
        data_type = details.require_data_type()
        deletes, catalogs = data_type == DataType.DELETES, data_type == DataType.CATALOGS
        optional = [*([details.prioritization_field] if deletes else []), *([details.catalog_field] if catalogs else [])]
        name_values = collect([details.name_field, details.emails_field, *optional])
        try:
            table = step.table_field.value()
        except FieldError:
            return None
        if name_values is None or data_type is None:
            return None
        return Integration(
            name=name_values["name"],
            credential=step.credential_choice,
            table=table,
            data_type=data_type,
            frequency=details.frequency,
            contact_emails=tuple(name_values["contact_emails"] or ()),
            update_existing_only=details.update_existing_only and not catalogs,
            send_changed_only=details.send_changed_only,
            delete_prioritization=name_values.get("delete_prioritization") if deletes else None,
            catalog=name_values.get("catalog") if catalogs else None,
            workspace=details.workspace or DEFAULT_WORKSPACE,
        )

    def save_draft(self, quiet: bool = False) -> str | None:
        """Save (or update) the draft from the form. Returns why it was not saved (None once saved).

        Unless ``quiet``, the reason is also shown in a modal.
        """
        integration = self._integration_from_form()
        if integration is None:
            return "some fields are not valid (each says why)"
        workspace = self.workspace
        try:
            if self.saved_name is None:
                workspace.add_integration(integration)
            elif self.saved_name != integration.name:
                workspace.remove_integration(self.saved_name)
                workspace.add_integration(integration)
            else:
                workspace.update_integration(
                    integration.name,
                    credential=integration.credential,
                    table=integration.table,
                    data_type=integration.data_type,  # a draft that never synced: it may change
                    frequency=integration.frequency,
                    contact_emails=integration.contact_emails,
                    update_existing_only=integration.update_existing_only,
                    send_changed_only=integration.send_changed_only,
                    delete_prioritization=integration.delete_prioritization,
                    catalog=integration.catalog,
                    workspace=integration.workspace,
                )
        except CdiError as error:
            if not quiet:
                self.cdi.show_error("The integration was not saved", str(error))
            return str(error)
        self.saved_name = integration.name
        self.cdi.config_changed()
        return None

    @on(DetailsStep.Done)
    def _next_from_details(self) -> None:
        if self.save_draft() is not None or self.saved_name is None:
            return
        integration = self.workspace.integration(self.saved_name)
        summary = (
            f"{integration.name}: {DATA_TYPE_LABELS[integration.data_type]} from {integration.table} "
            f"via {integration.credential}, {integration.frequency}; contacts: {', '.join(integration.contact_emails) or 'none'}"
        )
        step = self.test_step
        if step.integration_name != integration.name or not self.workspace.is_tested(integration.name):
            step.reset(summary)  # a new draft, or one changed since its test: an earlier result no longer holds
        else:
            step.set_summary(summary)
        step.integration_name = integration.name
        self._go(2)

    @on(DetailsStep.Back)
    def _back_to_connection(self) -> None:
        self._go(0)

    @on(Select.Changed, "#field-workspace Select")
    def _workspace_chosen(self) -> None:
        show_braze_workspace(self, self.details.workspace)

    # step 3 -------------------------------------------------------------------------------
    def on_connection_tested(self, message: ConnectionTested) -> None:
        """A test's result posted to the screen (the step's own worker posts to the step itself)."""
        self.test_step.show_test(message.integration or self.saved_name or "", message.result)

    @on(TestStep.SetupSql)
    def _setup_sql_from_test(self) -> None:
        self.action_setup_sql()

    @on(TestStep.Back)
    def _back_to_details(self) -> None:
        self._go(1)

    @on(TestStep.Finish)
    def _finish(self, message: TestStep.Finish) -> None:
        if self.saved_name is None:
            return
        if not message.activate:
            self.notify(f"{self.saved_name} saved as a draft", timeout=4)
            self._close()
            return
        try:
            self.workspace.activate(self.saved_name)
        except CdiError as error:
            self.cdi.show_error(f"{self.saved_name} cannot be activated", str(error))
            return
        self.cdi.config_changed()
        self.notify(f"{self.saved_name} is active; its first sync is due now", timeout=5)
        self._close()

    # navigation ----------------------------------------------------------------------------
    def _go(self, step: int) -> None:
        self.step = step
        self.query_one("#wizard", ContentSwitcher).current = STEPS[step]
        self.query_one(Stepper).current = step
        if step == 1:
            self.details.name_field.query_one(Input).focus()
        elif step == 2:
            self.test_step.integration_name = self.saved_name  # step 3 tests the draft saved
            self.test_step.test_button.focus()

    def _close(self) -> None:
        """Leave the setup once, whatever was pressed how often (a screen is dismissed only while on top)."""
        if self.leaving or not self.is_current:
            return
        self.leaving = True
        self.dismiss(None)

    def action_leave(self) -> None:
        if not self.is_current or self.leaving:
            return
        if self.step == 0 and self.saved_name is None:
            if self._draftable_from_connection():
                self._offer_draft_from_connection()
            else:
                self._close()
            return
        problem = self.save_draft(quiet=True) if self.step >= 1 else None
        if problem is None:
            if self.saved_name is not None:
                self.notify(f"{self.saved_name} kept as a draft", timeout=4)
            self._close()
            return
        self._offer_leaving_unsaved(problem)

    def _offer_leaving_unsaved(self, problem: str) -> None:
        from cdi_tui.tui.screens.modals import ConfirmModal

        kept = f"\n\nThe draft saved before, {self.saved_name}, stays as it was." if self.saved_name else ""
        self.app.push_screen(
            ConfirmModal(
                f"This setup cannot be kept as a draft: {problem}.{kept}\n\nLeave without saving it?",
                "Leave without saving",
                cancel_label="Stay",
                title="Leave the setup?",
            ),
            lambda leave: self._close() if leave else None,
        )

    def _draftable_from_connection(self) -> bool:
        """Step 1 names a saved credential and a free, valid table: enough for a draft."""
        step = self.connection
        credential = step.chosen_credential()
        if credential is None:
            return False
        try:
            parse_table_name(step.table_field.raw)
        except TableNameError:
            return False
        return self._free_workspace(self.workspace.config(), credential, step.table_field.raw) is not None

    def _offer_draft_from_connection(self) -> None:
        """Leaving at step 1: keep a draft, its data type said out loud (chosen here when not chosen yet)."""
        from cdi_tui.tui.screens.keep_draft import KeepDraftAnswer, KeepDraftModal
        from cdi_tui.tui.screens.modals import ConfirmModal

        table = parse_table_name(self.connection.table_field.raw)
        name_field = self.details.name_field
        if not name_field.raw or name_field.raw == self.auto_name:
            self.auto_name = auto_name(self.connection.table_field.raw)
            name_field.set_value(self.auto_name)

        def keep() -> None:
            credential, table_text = self.connection.chosen_credential(), self.connection.table_field.raw
            free = self._free_workspace(self.workspace.config(), credential, table_text) if credential else None
            if free is not None and free != self.details.workspace:
                self.details.set_workspace(free)  # the workspace chosen has the table already: a free one
            problem = self.save_draft()
            if problem is not None:
                return  # the modal says why; the setup stays open
            label = DATA_TYPE_LABELS[self.workspace.integration(self.saved_name or "").data_type]
            self.notify(f"{self.saved_name} kept as a draft ({label})", timeout=4)
            self._close()

        chosen = self.details.data_type
        if chosen is None:

            def picked(answer: KeepDraftAnswer) -> None:
                if answer == "discard":
                    self._close()
                elif answer is not None:
                    self.details.set_data_type(answer)
                    keep()

            self.app.push_screen(KeepDraftModal(name_field.raw, str(table)), picked)
            return

        def answered(keep_it: bool | None) -> None:
            if keep_it:
                keep()
            else:
                self._close()

        self.app.push_screen(
            ConfirmModal(
                f"Keep {name_field.raw} as a draft?\n\nIt will sync {DATA_TYPE_LABELS[chosen]} from {table}; the data type "
                "can change until the integration is activated.",
                "Keep as draft",
                danger=False,
                cancel_label="Discard",
            ),
            answered,
        )

    def save_on_crash(self) -> str | None:
        """The app is stopping on an error: keep what can be kept. Returns the draft's name."""
        if self.step >= 1 and self.save_draft(quiet=True) is None:
            return self.saved_name
        return None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.group != "tables":
            return  # the test step answers for its own workers
        error = expected(event.worker.error)  # a bug goes on to the crash report
        self.connection.table_picker.loading = False
        message = str(error)
        self.connection.say("")
        self.cdi.show_error("That did not work", message)
