"""New integration, in the seed's order: connection and source, sync details, test, activate.

The screen saves a draft as soon as the details are complete (leaving the test step keeps it
a draft); the data type is fixed from then on. Long work (listing tables, the connection
test) runs in thread workers that only post messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    ContentSwitcher,
    DataTable,
    Footer,
    Header,
    Label,
    RadioButton,
    RadioSet,
    Select,
    Static,
    Switch,
)
from textual.worker import Worker, WorkerState

from cdi_tui.checks import ConnectionTestResult
from cdi_tui.config import Credential, Integration
from cdi_tui.display import safe_text
from cdi_tui.engine.transform import RowError, RowTransformer
from cdi_tui.fields import (
    CREDENTIAL_FIELDS,
    DATA_TYPE_LABELS,
    DATA_TYPES,
    INTEGRATION_FIELDS,
    FieldError,
    FieldSpec,
    field_by_key,
    validate_name,
)
from cdi_tui.tables import TableNameError, parse_table_name
from cdi_tui.tui.base import CdiMixin
from cdi_tui.tui.messages import ConnectionTested
from cdi_tui.tui.schedule_text import workspace_zone
from cdi_tui.tui.widgets.fields import FieldInput, collect
from cdi_tui.tui.widgets.frequency import FrequencyPicker
from cdi_tui.warehouse.errors import WarehouseError
from cdi_tui.warehouse.timestamps import OutOfRangeTime
from cdi_tui.workspace import WorkspaceError

NEW_CREDENTIAL = "__new__"
STEPS = ("connection", "details", "test")
STEP_TITLES = ("1 Connection and source", "2 Sync details", "3 Test and activate")
NAME_SPEC = FieldSpec("name", "Name", validate_name, "a short name for this sync")
CREDENTIAL_NAME_SPEC = FieldSpec("credential_name", "Credential name", validate_name, "a name to reuse this connection")
PASSWORD_SPEC = FieldSpec("password", "Password", str, "kept in the OS keyring, never in a file", secret=True)


@dataclass
class TablesLoaded(Message):
    tables: list[tuple[str, str]]


class NewIntegrationScreen(CdiMixin, Screen[None]):
    CSS_PATH = "wizard.tcss"
    BINDINGS = [
        Binding("escape", "leave", "Leave (keeps a draft)"),
        Binding("ctrl+s", "setup_sql", "Setup SQL"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.step = 0
        self.saved_name: str | None = None  # the draft, once saved
        self.last_result: ConnectionTestResult | None = None

    # layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        workspace = self.workspace
        config = workspace.config()
        credential_options = [(f"{name} ({cred.user}@{cred.host})", name) for name, cred in sorted(config.credentials.items())]
        credential_options.append(("New credential...", NEW_CREDENTIAL))
        yield Header()
        with Vertical(id="wizard-body"):
            yield Label(" > ".join(STEP_TITLES), id="steps")
            with ContentSwitcher(initial="step-connection", id="wizard"):
                with VerticalScroll(id="step-connection", classes="step"):
                    yield Label("Redshift connection", classes="section")
                    yield Select(credential_options, value=credential_options[0][1], allow_blank=False, id="credential")
                    with Vertical(id="new-credential"):
                        yield FieldInput(CREDENTIAL_NAME_SPEC, field_id="field-credential-name")
                        for spec in CREDENTIAL_FIELDS:
                            yield FieldInput(spec)
                        yield FieldInput(PASSWORD_SPEC, password=True, field_id="field-password")
                    yield Label("Source table or view", classes="section")
                    yield FieldInput(field_by_key(INTEGRATION_FIELDS, "table"), field_id="field-table")
                    with Horizontal(classes="row"):
                        yield Button("Load tables", id="load-tables")
                        yield Select[str]([], prompt="Pick a table the user can see", id="table-picker")
                        yield Button("Setup SQL", id="setup-sql")
                    yield Label("", id="connection-status")
                    with Horizontal(classes="nav"):
                        yield Button("Next: sync details", variant="primary", id="next-1")
                with VerticalScroll(id="step-details", classes="step"):
                    yield Label("Sync details", classes="section")
                    yield FieldInput(NAME_SPEC, field_id="field-name")
                    yield FieldInput(
                        field_by_key(INTEGRATION_FIELDS, "contact_emails"),
                        field_id="field-emails",
                        placeholder="who is told about sync errors, comma-separated",
                    )
                    yield Label("Data type (fixed once saved)", classes="field-label")
                    with RadioSet(id="data-type"):
                        for index, data_type in enumerate(DATA_TYPES):
                            yield RadioButton(DATA_TYPE_LABELS[data_type], value=index == 0, id=f"type-{data_type}")
                    yield Label("Frequency", classes="field-label")
                    yield FrequencyPicker("daily at 02:00", workspace_zone(self.workspace), self.cdi.clock, id="frequency")
                    yield Label("", id="time-zone")
                    with Horizontal(classes="row"):
                        yield Switch(False, id="update-existing-only")
                        yield Label("Update existing users only (rows for users Braze does not know are skipped)")
                    with Horizontal(classes="nav"):
                        yield Button("Back", id="back-2")
                        yield Button("Next: test connection", variant="primary", id="next-2")
                with Vertical(id="step-test", classes="step"):
                    yield Label("Test connection", classes="section")
                    yield Label("", id="summary")
                    with Horizontal(classes="row"):
                        yield Button("Test connection", variant="primary", id="run-test")
                        yield Label("", id="test-status")
                    yield Static("", id="test-error", markup=False)
                    yield DataTable(id="preview", cursor_type="row", zebra_stripes=True)
                    yield Static("", id="braze-object", markup=False)
                    with Horizontal(classes="nav"):
                        yield Button("Back", id="back-3")
                        yield Button("Save as draft", id="save-draft")
                        yield Button("Activate", variant="success", id="activate", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "New integration"
        self._credential_changed()
        self.query_one("#time-zone", Label).update(f"Schedules run in the workspace time zone: {workspace_zone(self.workspace)}")
        self.query_one("#test-error").display = False
        self.query_one("#preview").display = False
        self.query_one("#braze-object").display = False

    # step 1 -------------------------------------------------------------------------------
    @on(Select.Changed, "#credential")
    def _credential_changed(self) -> None:
        new = self.query_one("#credential", Select).value == NEW_CREDENTIAL
        self.query_one("#new-credential").display = new

    def _new_credential_fields(self) -> list[FieldInput]:
        return list(self.query("#new-credential FieldInput").results(FieldInput))

    def _credential_from_form(self) -> tuple[Credential, str | None] | None:
        """The chosen credential, with the password when it is a new one (None if not valid)."""
        choice = self.query_one("#credential", Select).value
        if choice != NEW_CREDENTIAL:
            return self.workspace.config().credentials[str(choice)], None
        values = collect(self._new_credential_fields())
        if values is None:
            return None
        password = values.pop("password")
        name = values.pop("credential_name")
        return Credential(name=name, **values), password

    @on(Button.Pressed, "#load-tables")
    def _load_tables(self) -> None:
        chosen = self._credential_from_form()
        if chosen is None:
            return
        self.query_one("#connection-status", Label).update("Connecting...")
        self._list_tables(*chosen)

    @work(thread=True, exclusive=True, group="tables", exit_on_error=False)
    def _list_tables(self, credential: Credential, password: str | None) -> None:
        tables = self.workspace.tables_visible_to(credential, password)
        self.post_message(TablesLoaded(tables))

    def on_tables_loaded(self, message: TablesLoaded) -> None:
        picker = self.query_one("#table-picker", Select)
        picker.set_options([(f"{schema}.{table}", f"{schema}.{table}") for schema, table in message.tables])
        self.query_one("#connection-status", Label).update(f"Connected: {len(message.tables)} table(s) visible to this user")

    @on(Select.Changed, "#table-picker")
    def _table_picked(self, event: Select.Changed) -> None:
        if event.value is not Select.BLANK:
            self.query_one("#field-table", FieldInput).set_value(str(event.value))

    @on(Button.Pressed, "#setup-sql")
    def action_setup_sql(self) -> None:
        from cdi_tui.setup_sql import setup_sql
        from cdi_tui.tui.screens.modals import TextModal

        field = self.query_one("#field-table", FieldInput)
        try:
            table = parse_table_name(field.raw or "BRAZE_CLOUD_PRODUCTION.INGESTION.USERS_ATTRIBUTES_SYNC")
        except TableNameError:
            table = parse_table_name("BRAZE_CLOUD_PRODUCTION.INGESTION.USERS_ATTRIBUTES_SYNC")
        chosen = self.query_one("#credential", Select).value
        user = "braze_user"
        if chosen == NEW_CREDENTIAL:
            user = self.query_one("#field-user", FieldInput).raw or user
        else:
            user = self.workspace.config().credentials[str(chosen)].user
        self.app.push_screen(TextModal("Setup SQL: run this in Redshift first", setup_sql(table, self._data_type(), user), "sql"))

    @on(Button.Pressed, "#next-1")
    def _next_from_connection(self) -> None:
        chosen = self._credential_from_form()
        table_field = self.query_one("#field-table", FieldInput)
        try:
            table_field.value()
        except FieldError:
            return
        if chosen is None:
            return
        credential, password = chosen
        if password is not None:
            try:
                self.workspace.add_credential(credential, password)
            except WorkspaceError as error:
                self.cdi.show_error("The credential was not saved", str(error))
                return
            select = self.query_one("#credential", Select)
            options = [
                (f"{name} ({cred.user}@{cred.host})", name) for name, cred in sorted(self.workspace.config().credentials.items())
            ]
            select.set_options([*options, ("New credential...", NEW_CREDENTIAL)])
            select.value = credential.name
            self.notify(f"Credential {credential.name} saved; its password is in the keyring", timeout=4)
        name_field = self.query_one("#field-name", FieldInput)
        if not name_field.raw:
            name_field.set_value(parse_table_name(table_field.raw).table.replace("_", "-")[:64])
        self._go(1)

    # step 2 -------------------------------------------------------------------------------
    def _data_type(self) -> str:
        pressed = self.query_one("#data-type", RadioSet).pressed_index
        return DATA_TYPES[pressed if pressed >= 0 else 0]

    def frequency(self) -> str:
        return self.query_one("#frequency", FrequencyPicker).value

    def _integration_from_form(self) -> Integration | None:
        credential_choice = self.query_one("#credential", Select).value
        if credential_choice == NEW_CREDENTIAL:
            return None
        name_values = collect([self.query_one("#field-name", FieldInput), self.query_one("#field-emails", FieldInput)])
        try:
            table = self.query_one("#field-table", FieldInput).value()
        except FieldError:
            return None
        if name_values is None:
            return None
        return Integration(
            name=name_values["name"],
            credential=str(credential_choice),
            table=table,
            data_type=self._data_type(),
            frequency=self.frequency(),
            contact_emails=tuple(name_values["contact_emails"] or ()),
            update_existing_only=self.query_one("#update-existing-only", Switch).value,
        )

    def save_draft(self) -> bool:
        """Save (or update) the draft from the form. Returns whether it is saved."""
        integration = self._integration_from_form()
        if integration is None:
            return False
        workspace = self.workspace
        try:
            if self.saved_name is None:
                workspace.add_integration(integration)
            else:
                if self.saved_name != integration.name:
                    workspace.remove_integration(self.saved_name)
                    workspace.add_integration(integration)
                else:
                    workspace.update_integration(
                        integration.name,
                        credential=integration.credential,
                        table=integration.table,
                        frequency=integration.frequency,
                        contact_emails=integration.contact_emails,
                        update_existing_only=integration.update_existing_only,
                    )
        except (WorkspaceError, Exception) as error:
            self.cdi.show_error("The integration was not saved", str(error))
            return False
        self.saved_name = integration.name
        for button in self.query("#data-type RadioButton").results(RadioButton):
            button.disabled = True  # the data type is fixed once saved
        return True

    @on(Button.Pressed, "#next-2")
    def _next_from_details(self) -> None:
        if not self.save_draft() or self.saved_name is None:
            return
        integration = self.workspace.integration(self.saved_name)
        self.query_one("#summary", Label).update(
            f"{integration.name}: {DATA_TYPE_LABELS[integration.data_type]} from {integration.table} "
            f"via {integration.credential}, {integration.frequency}; contacts: {', '.join(integration.contact_emails) or 'none'}"
        )
        self._go(2)

    # step 3 -------------------------------------------------------------------------------
    @on(Button.Pressed, "#run-test")
    def _run_test(self) -> None:
        if self.saved_name is None:
            return
        self.query_one("#test-status", Label).update("Testing: connecting, checking the table, reading a preview...")
        self.query_one("#run-test", Button).disabled = True
        self._test(self.saved_name)

    @work(thread=True, exclusive=True, group="test", exit_on_error=False)
    def _test(self, name: str) -> None:
        result = self.workspace.test_integration(name)
        self.post_message(ConnectionTested(name, result))

    def on_connection_tested(self, message: ConnectionTested) -> None:
        self.query_one("#run-test", Button).disabled = False
        result = message.result
        self.last_result = result
        status = self.query_one("#test-status", Label)
        error_box = self.query_one("#test-error", Static)
        preview = self.query_one("#preview", DataTable)
        if not result.ok:
            assert result.error is not None
            status.update("Test failed")
            error_box.update(f"{result.error.message}.\n\nWhat to try: {result.error.fix}")
            error_box.display = True
            preview.display = False
            self.query_one("#braze-object").display = False
            self.query_one("#activate", Button).disabled = True
            self.cdi.show_error(
                f"Connection test failed ({result.error.kind})", f"{result.error.message}.\n\nWhat to try: {result.error.fix}"
            )
            return
        assert result.preview is not None and result.shape is not None
        warnings = f" Warning: {'; '.join(result.warnings)}" if result.warnings else ""
        status.update(
            f"Test passed: {result.pending_rows:,} row(s) in the table; newest {len(result.preview.rows)} shown.{warnings}"
        )
        error_box.display = False
        integration = self.workspace.integration(message.integration or self.saved_name or "")
        transformer = RowTransformer(result.shape.select_columns, integration.data_type, integration.update_existing_only)
        preview.clear(columns=True)
        preview.add_columns(*(column.upper() for column in result.preview.columns), "VALID?")
        self._preview_objects: list[str] = []
        for row in result.preview.rows:
            outcome = transformer.transform(list(row))
            if isinstance(outcome, RowError):
                verdict = Text(f"no: {safe_text(outcome.message)}")
                self._preview_objects.append(f"This row is not sent: {outcome.message}")
            else:
                verdict = Text("yes")
                self._preview_objects.append(f"Braze {outcome.array} object:\n" + json.dumps(outcome.body, indent=2, default=str))
            preview.add_row(*(_cell(value) for value in row), verdict)
        preview.display = True
        self.query_one("#braze-object").display = True
        self._show_object(0)
        self.query_one("#activate", Button).disabled = False

    @on(DataTable.RowHighlighted, "#preview")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_object(event.cursor_row)

    def _show_object(self, index: int) -> None:
        objects = getattr(self, "_preview_objects", [])
        if 0 <= index < len(objects):
            self.query_one("#braze-object", Static).update(objects[index])

    @on(Button.Pressed, "#save-draft")
    def _save_and_leave(self) -> None:
        self.notify(f"{self.saved_name} saved as a draft", timeout=4)
        self.dismiss(None)

    @on(Button.Pressed, "#activate")
    def _activate(self) -> None:
        if self.saved_name is None:
            return
        try:
            self.workspace.activate(self.saved_name)
        except WorkspaceError as error:
            self.cdi.show_error(f"{self.saved_name} cannot be activated", str(error))
            return
        self.notify(f"{self.saved_name} is active; its first sync is due now", timeout=5)
        self.dismiss(None)

    # navigation ----------------------------------------------------------------------------
    @on(Button.Pressed, "#back-2")
    def _back_to_connection(self) -> None:
        self._go(0)

    @on(Button.Pressed, "#back-3")
    def _back_to_details(self) -> None:
        self._go(1)

    def _go(self, step: int) -> None:
        self.step = step
        self.query_one("#wizard", ContentSwitcher).current = f"step-{STEPS[step]}"
        titles = [f"[b]{title}[/b]" if index == step else title for index, title in enumerate(STEP_TITLES)]
        self.query_one("#steps", Label).update(" > ".join(titles))

    def action_leave(self) -> None:
        if self.step == 0 and self.saved_name is None and self._draftable_from_connection():
            self._offer_draft_from_connection()
            return
        if (self.step >= 1 and self.save_draft()) or self.saved_name is not None:
            self.notify(f"{self.saved_name} kept as a draft", timeout=4)
        self.dismiss(None)

    def _draftable_from_connection(self) -> bool:
        """Step 1 names a saved credential and a valid table: enough for a draft."""
        if self.query_one("#credential", Select).value == NEW_CREDENTIAL:
            return False
        try:
            parse_table_name(self.query_one("#field-table", FieldInput).raw)
        except TableNameError:
            return False
        return True

    def _offer_draft_from_connection(self) -> None:
        """Leaving at step 1: keep a draft, but only with the data type said out loud (it is fixed once saved)."""
        from cdi_tui.tui.screens.modals import ConfirmModal

        table = parse_table_name(self.query_one("#field-table", FieldInput).raw)
        name_field = self.query_one("#field-name", FieldInput)
        if not name_field.raw:
            name_field.set_value(table.table.replace("_", "-")[:64])
        label = DATA_TYPE_LABELS[self._data_type()]

        def answered(keep: bool | None) -> None:
            if keep and self.save_draft():
                self.notify(f"{self.saved_name} kept as a draft ({label})", timeout=4)
            self.dismiss(None)

        self.app.push_screen(
            ConfirmModal(
                f"Keep {name_field.raw} as a draft?\n\nIt will sync {label} from {table}; the data type cannot "
                "change once saved. Choose Discard to pick another data type later.",
                "Keep as draft",
                danger=False,
                cancel_label="Discard",
            ),
            answered,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        self.query_one("#run-test", Button).disabled = False
        message = str(error) if isinstance(error, (WarehouseError, WorkspaceError)) else f"{type(error).__name__}: {error}"
        self.query_one("#connection-status", Label).update("")
        self.cdi.show_error("That did not work", message)


def _cell(value: Any) -> Text:
    """A preview cell: warehouse text shown as it is (no markup, control characters escaped)."""
    if value is None:
        return Text("NULL")
    if hasattr(value, "isoformat") and not isinstance(value, OutOfRangeTime):
        return Text(str(value.isoformat(sep=" ", timespec="seconds")))
    text = safe_text(value)
    return Text(text if len(text) <= 60 else text[:59] + "…")
