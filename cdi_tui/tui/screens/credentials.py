"""Saved Redshift credentials (and which integrations use each), the Braze workspaces and SMTP."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Select, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from cdi_tui.config import DEFAULT_MAX_IN_FLIGHT, DEFAULT_WORKSPACE, BrazeSettings, Credential, SmtpSettings
from cdi_tui.errors import CdiError
from cdi_tui.fields import BRAZE_FIELDS, BRAZE_INSTANCES, SMTP_FIELDS, FieldError, field_by_key, validate_name
from cdi_tui.tui.base import StyledOnMount
from cdi_tui.tui.safe import expected, failure_line
from cdi_tui.tui.table_keys import EXPORT_BINDING, FILTER_BINDING, TableKeys
from cdi_tui.tui.widgets.credential_fields import PASSWORD_SPEC, CredentialFields, NewCredential
from cdi_tui.tui.widgets.fields import FieldInput, collect
from cdi_tui.tui.widgets.filter_bar import FilterBar
from cdi_tui.tui.widgets.fit_table import FitColumn, FitTable
from cdi_tui.tui.widgets.footer import KeysFooter
from cdi_tui.tui.widgets.header import WorkspaceHeader, show_braze_workspace
from cdi_tui.tui.widgets.scroll import Scroll
from cdi_tui.tui.widgets.setup.connection import describe

CUSTOM_URL = "__custom__"
NEW_WORKSPACE = "__new__"
CREDENTIAL_COLUMNS = [
    FitColumn("Name", 6, flex=True),
    FitColumn("Used by", 10, flex=True, weight=3),
    FitColumn("User", 6, flex=True),
    FitColumn("Host", 8, flex=True),
    FitColumn("Port"),
    FitColumn("Database", 6, flex=True),
    FitColumn("SSL"),
]


# what the credential dialog gives back: a new credential with its secrets, or a new password
CredentialFormResult = NewCredential


def save_new_credential(screen: Any, new: NewCredential) -> bool:
    """Save a new credential; a tunnel's generated key is made here and its authorized_keys line shown to copy.

    Returns False (the reason shown) when it was not saved.
    """
    credential = new.credential
    try:
        tunnel_key = screen.workspace.save_credential(
            credential,
            new.password,
            generate_ssh_key=credential.uses_ssh and not credential.ssh_key_path,
            ssh_passphrase=new.ssh_passphrase,
        )
    except CdiError as error:  # one line, the secrets masked (a bug: the crash report, no locals)
        screen.cdi.show_error("The credential was not saved", failure_line(error, (new.password, new.ssh_passphrase)))
        return False
    kept = f"its password is kept {screen.secrets_place}" if new.password else "it signs in with AWS IAM"
    screen.notify(f"Credential {credential.name} saved; {kept}", timeout=4)
    if tunnel_key is not None:
        show_public_key(screen, credential, tunnel_key.authorized_keys_line)
    return True


def show_public_key(screen: Any, credential: Credential, line: str) -> None:
    """The tunnel key's authorized_keys line, ready to copy, with where it goes."""
    from cdi_tui.tui.screens.modals import TextModal

    title = f"Add this line to ~{credential.ssh_user}/.ssh/authorized_keys on {credential.ssh_host}"
    screen.app.push_screen(TextModal(title, line))


@dataclass
class CheckDone(Message):
    title: str
    ok: bool
    detail: str
    braze_workspace: str | None = None  # a Braze key's check: whose


class CredentialForm(StyledOnMount, ModalScreen[CredentialFormResult | None]):
    """Add a credential (or, given one, change its password).

    A new one signs in with a password or AWS IAM, optionally through an SSH tunnel (the fields
    of each show only when chosen). The fields scroll inside the dialog (Tab brings each into
    view); Save and Cancel are docked below them, so every field and button is reachable at
    80x24. Enter in a field saves.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, existing: Credential | None = None) -> None:
        super().__init__(classes="modal")
        self.existing = existing

    def compose(self) -> ComposeResult:
        dialog = Vertical(classes="dialog")
        if self.existing is None:
            dialog.border_title = "New Redshift credential"
        else:
            dialog.border_title = f"New password for {self.existing.name} ({describe(self.existing)})"
        with dialog:
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")
            with VerticalScroll(classes="dialog-scroll compact-form", id="form", can_focus=False):
                if self.existing is None:
                    yield CredentialFields(id="new-credential")
                else:
                    yield FieldInput(PASSWORD_SPEC, password=True, field_id="field-password", compact=True)

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self.existing is None:
            new = self.query_one(CredentialFields).read()
            if new is not None:
                self.dismiss(new)
            return
        values = collect([self.query_one("#field-password", FieldInput)])
        if values is not None:
            self.dismiss(NewCredential(self.existing, values["password"]))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class CredentialsScreen(TableKeys, StyledOnMount, Screen[None]):
    HELP = (
        "Saved Redshift credentials (passwords never in a file) and the integrations that use each, with "
        "their keys on that tab (/ filters, e exports); the Braze workspaces, each with its key (a new one: "
        "'New workspace...'); SMTP for notification emails."
    )
    DEFAULT_CSS = """
    CredentialsScreen {
        #tabs { height: 1fr; }
        #credentials-panel { height: 1fr; }
        #check-status { padding: 0 1; height: auto; }
        .settings-scroll { height: 1fr; padding: 0 1; }
    }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("a", "add", "Add", id="add", tooltip="A new Redshift credential"),
        Binding("w", "password", "Change password", id="password", show=False, tooltip="A new password for the selected one"),
        Binding("k", "check", "Check", id="check", show=False, tooltip="Connect and count the tables the user can see"),
        Binding("p", "public_key", "SSH key", id="public-key", show=False, tooltip="The tunnel key's authorized_keys line"),
        Binding("delete,d", "delete", "Delete", id="delete-credential", tooltip="Refused while an integration uses it"),
        FILTER_BINDING,
        Binding("e", "export", "Export", id="export", show=False, tooltip=EXPORT_BINDING.tooltip),
    ]
    CREDENTIAL_ACTIONS = frozenset({"add", "password", "check", "public_key", "delete", "filter", "export"})

    def __init__(self) -> None:
        super().__init__()
        self.braze_workspace: str | None = None  # the Braze tab's workspace, while it is in view (the header names it)

    def compose(self) -> ComposeResult:
        yield WorkspaceHeader()
        with TabbedContent(id="tabs"):
            with TabPane("Redshift credentials", id="credentials-tab"):
                with Vertical(id="credentials-panel", classes="panel flush") as panel:
                    panel.border_title = "Credentials"
                    table = FitTable(CREDENTIAL_COLUMNS, id="credentials")
                    yield FilterBar(table, id="credentials-filter")
                    yield table
                yield Label("", id="check-status")
                with Horizontal(classes="button-bar step-bar"):
                    yield Button("Add", id="add", compact=True)
                    yield Button("Change password", id="password", compact=True)
                    yield Button("Check", id="check", compact=True)
                    yield Button("SSH key", id="public-key", compact=True)
                    yield Button("Delete", variant="error", id="delete", compact=True)
            with TabPane("Braze", id="braze-tab"):
                with Scroll(classes="settings-scroll"):
                    yield Label("Workspace", classes="field-label")
                    yield Select(self._workspace_options(), allow_blank=False, id="braze-workspace", compact=True)
                    yield Input(placeholder="a name for the new workspace, e.g. prod", id="new-workspace", compact=True)
                    yield Label("Instance", classes="field-label")
                    yield Select(
                        [*((name, name) for name in BRAZE_INSTANCES), ("Custom URL", CUSTOM_URL)],
                        value="US-01",
                        allow_blank=False,
                        id="instance",
                        compact=True,
                    )
                    yield Input(placeholder="https://rest.example.braze.com", id="custom-url", compact=True)
                    yield Label(
                        f"REST API key (kept {self.secrets_place}; leave empty to keep the stored one)", classes="field-label"
                    )
                    yield Input(password=True, placeholder="stored", id="api-key", compact=True)
                    yield FieldInput(field_by_key(BRAZE_FIELDS, "time_zone"), compact=True)
                    yield FieldInput(field_by_key(BRAZE_FIELDS, "requests_per_window"), compact=True)
                with Horizontal(classes="button-bar step-bar"):
                    yield Button("Save", variant="primary", id="save-braze", compact=True)
                    yield Button("Check key", id="check-key", compact=True)
                    yield Button("Remove", variant="error", id="remove-braze", compact=True)
                    yield Label("", id="key-status")
            with TabPane("Email (SMTP)", id="smtp-tab"):
                with Scroll(classes="settings-scroll"):
                    for spec in SMTP_FIELDS:
                        yield FieldInput(spec, field_id=f"smtp-{spec.key}", compact=True)
                    yield Label(
                        f"SMTP password (kept {self.secrets_place}; leave empty to keep the stored one)", classes="field-label"
                    )
                    yield Input(password=True, id="smtp-password", compact=True)
                with Horizontal(classes="button-bar step-bar"):
                    yield Button("Save SMTP", variant="primary", id="save-smtp", compact=True)
        yield KeysFooter(compact=True, show_command_palette=False)

    def table_in_view(self) -> tuple[FitTable, FilterBar, str] | None:
        if self.query_one("#tabs", TabbedContent).active != "credentials-tab":
            return None
        return self.query_one("#credentials", FitTable), self.query_one("#credentials-filter", FilterBar), "credentials"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The credential keys act on the credentials tab only (not on the Braze or SMTP tab)."""
        if action in self.CREDENTIAL_ACTIONS and self.is_mounted:
            return self.query_one("#tabs", TabbedContent).active == "credentials-tab"
        return True

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()
        braze_tab = self.query_one("#tabs", TabbedContent).active == "braze-tab"
        show_braze_workspace(self, self._chosen_workspace() if braze_tab else None)

    def _workspace_options(self) -> list[tuple[str, str]]:
        try:
            config = self.workspace.config()
        except CdiError:
            return [(DEFAULT_WORKSPACE, DEFAULT_WORKSPACE)]
        names = sorted(config.workspaces) or [DEFAULT_WORKSPACE]
        return [*((name, name) for name in names), ("New workspace...", NEW_WORKSPACE)]

    def _chosen_workspace(self) -> str | None:
        """The workspace the Braze tab edits (None: a new one, not named yet)."""
        value = self.query_one("#braze-workspace", Select).value
        if value == NEW_WORKSPACE:
            return None
        return str(value) if value is not Select.BLANK else None

    def on_mount(self) -> None:
        self.sub_title = "Credentials and settings"
        self.refresh_data()
        try:
            main = self.workspace.config().main_workspace
        except CdiError:
            main = DEFAULT_WORKSPACE
        self.query_one("#braze-workspace", Select).value = main
        self._load_braze(main)
        self._load_smtp()

    def _load_braze(self, name: str | None) -> None:
        """The Braze tab shows a workspace's settings (a new one: empty, the key needed)."""
        self.query_one("#new-workspace").display = name is None
        braze = self.workspace.config().workspaces.get(name) if name is not None else None
        instance = self.query_one("#instance", Select)
        if braze is not None and braze.endpoint in BRAZE_INSTANCES:
            instance.value = braze.endpoint
        elif braze is not None:
            instance.value = CUSTOM_URL
            self.query_one("#custom-url", Input).value = braze.endpoint
        else:
            instance.value = "US-01"
            self.query_one("#custom-url", Input).value = ""
        time_zone, requests = (braze.time_zone, braze.requests_per_window) if braze is not None else ("UTC", 3000)
        self.query_one("#field-time_zone", FieldInput).set_value(time_zone)
        self.query_one("#field-requests_per_window", FieldInput).set_value(requests)
        self.query_one("#api-key", Input).placeholder = "stored" if braze is not None else "the workspace's REST API key"
        self.query_one("#key-status", Label).update("")
        self._instance_changed()

    @on(Select.Changed, "#braze-workspace")
    def _workspace_changed(self) -> None:
        chosen = self._chosen_workspace()
        self._load_braze(chosen)
        if self.query_one("#tabs", TabbedContent).active == "braze-tab":
            show_braze_workspace(self, chosen)

    def _load_smtp(self) -> None:
        smtp = self.workspace.config().smtp
        if smtp is None:
            return
        for spec in SMTP_FIELDS:
            value = getattr(smtp, spec.key)
            self.query_one(f"#smtp-{spec.key}", FieldInput).set_value(value if value is not None else "")

    @on(Button.Pressed, "#save-smtp")
    def _save_smtp(self) -> None:
        if self.cdi.refused_in_read_only("Saving the SMTP settings"):
            return
        values = collect([self.query_one(f"#smtp-{spec.key}", FieldInput) for spec in SMTP_FIELDS])
        if values is None:
            return
        password = self.query_one("#smtp-password", Input).value or None
        try:
            self.workspace.set_smtp(SmtpSettings(**values), password)
        except CdiError as error:  # one line, the password masked (a bug: the crash report, no locals)
            self.cdi.show_error("The SMTP settings were not saved", failure_line(error, (password,)))
            return
        self.query_one("#smtp-password", Input).value = ""
        self.notify("SMTP settings saved" + (f"; the password is kept {self.secrets_place}" if password else ""), timeout=4)

    def refresh_data(self) -> None:
        config = self.workspace.config()
        table = self.query_one("#credentials", FitTable)
        table.clear()
        for name, credential in sorted(config.credentials.items()):
            users = ", ".join(f"{item.name} ({item.state})" for item in config.integrations_using(name)) or "-"
            table.add_row(
                name,
                users,
                credential.user or credential.login,
                credential.host if not credential.uses_ssh else f"{credential.host} via {credential.ssh_host}",
                str(credential.port),
                credential.database,
                credential.sslmode,
                key=name,
            )

    def selected(self) -> str | None:
        table = self.query_one("#credentials", FitTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value)

    # credentials ---------------------------------------------------------------------------
    @on(Button.Pressed, "#add")
    def action_add(self) -> None:
        if self.cdi.refused_in_read_only("A new credential"):
            return

        def saved(result: CredentialFormResult | None) -> None:
            if result is None or not save_new_credential(self, result):
                return
            self.cdi.preferences.update(last_credential=result.credential.name)
            self.cdi.config_changed()
            self.refresh_data()

        self.app.push_screen(CredentialForm(), saved)

    @on(Button.Pressed, "#password")
    def action_password(self) -> None:
        if self.cdi.refused_in_read_only("Changing a password"):
            return
        name = self.selected()
        if name is None:
            return
        credential = self.workspace.config().credentials[name]
        if credential.uses_iam:
            self.notify(f"{name} signs in with AWS IAM and keeps no password", timeout=4)
            return

        def saved(result: CredentialFormResult | None) -> None:
            if result is not None and result.password:
                try:
                    self.workspace.change_password(name, result.password)
                except CdiError as error:  # one line, the password masked (a bug: the crash report, no locals)
                    self.cdi.show_error(f"The password of {name} was not changed", failure_line(error, (result.password,)))
                    return
                self.notify(f"Password of {name} changed", timeout=3)

        self.app.push_screen(CredentialForm(credential), saved)

    @on(Button.Pressed, "#public-key")
    def action_public_key(self) -> None:
        """Show a tunnelled credential's authorized_keys line again, ready to copy."""
        name = self.selected()
        if name is None:
            return
        credential = self.workspace.config().credentials[name]
        try:
            tunnel_key = self.workspace.tunnel_key(credential)
        except CdiError as error:
            self.cdi.show_error(f"No SSH public key for {name}", str(error))
            return
        show_public_key(self, credential, tunnel_key.authorized_keys_line)

    @on(Button.Pressed, "#delete")
    def action_delete(self) -> None:
        if self.cdi.refused_in_read_only("Deleting a credential"):
            return
        name = self.selected()
        if name is None:
            return
        from cdi_tui.tui.screens.modals import ConfirmModal

        def confirmed(answer: bool | None) -> None:
            if not answer:
                return
            try:
                self.workspace.remove_credential(name)
            except CdiError as error:
                self.cdi.show_error(f"{name} cannot be deleted", str(error))
                return
            self.notify(f"Credential {name} deleted", timeout=3)
            self.cdi.config_changed()
            self.refresh_data()

        self.app.push_screen(ConfirmModal(f"Delete the credential {name} and its stored password?", "Delete"), confirmed)

    @on(Button.Pressed, "#check")
    def action_check(self) -> None:
        name = self.selected()
        if name is None:
            return
        self.query_one("#check-status", Label).update(f"Checking {name}...")
        self._check_credential(name)

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def _check_credential(self, name: str) -> None:
        workspace = self.workspace
        credential = workspace.config().credentials[name]
        try:
            tables = workspace.tables_visible_to(credential)
        except CdiError as error:
            self.post_message(CheckDone(f"{name} could not connect", False, str(error)))
            return
        self.post_message(CheckDone(name, True, f"{name}: connected; {len(tables)} table(s) visible"))

    # Braze ------------------------------------------------------------------------------------
    @on(Select.Changed, "#instance")
    def _instance_changed(self) -> None:
        self.query_one("#custom-url").display = self.query_one("#instance", Select).value == CUSTOM_URL

    @on(Button.Pressed, "#save-braze")
    def _save_braze(self) -> None:
        if self.cdi.refused_in_read_only("Saving the Braze settings"):
            return
        name = self._chosen_workspace()
        if name is None:
            try:
                name = validate_name(self.query_one("#new-workspace", Input).value)
            except FieldError as error:
                self.cdi.show_error("The new workspace needs a name", str(error))
                return
            if name in self.workspace.config().workspaces:  # never a silent change to the one of that name
                self.cdi.show_error(
                    f"There is a Braze workspace named {name}", "Choose it under Workspace to change it, or give another name."
                )
                return
        instance = str(self.query_one("#instance", Select).value)
        endpoint = self.query_one("#custom-url", Input).value.strip() if instance == CUSTOM_URL else instance
        values = collect(
            [self.query_one("#field-time_zone", FieldInput), self.query_one("#field-requests_per_window", FieldInput)]
        )
        if values is None:
            return
        try:
            endpoint = field_by_key(BRAZE_FIELDS, "endpoint").check(endpoint)
        except FieldError as error:
            self.cdi.show_error("The Braze endpoint is not valid", str(error))
            return
        workspace = self.workspace
        key = self.query_one("#api-key", Input).value.strip() or None
        try:
            current = workspace.config().workspaces.get(name)
        except CdiError as error:
            self.cdi.show_error("The Braze settings were not saved", failure_line(error, (key,)))
            return
        if key is None and current is None:
            self.cdi.show_error("A REST API key is needed", "Paste the workspace's REST API key (permission users.track).")
            return
        settings = (
            replace(current, endpoint=endpoint, time_zone=values["time_zone"], requests_per_window=values["requests_per_window"])
            if current is not None
            else BrazeSettings(
                endpoint=endpoint,
                time_zone=values["time_zone"],
                requests_per_window=values["requests_per_window"],
                max_in_flight=DEFAULT_MAX_IN_FLIGHT,
            )
        )
        try:
            workspace.set_braze(settings, key, name)
        except CdiError as error:  # one line, the key masked (a bug: the crash report, no locals)
            self.cdi.show_error("The Braze settings were not saved", failure_line(error, (key,)))
            return
        if key is not None:
            self.cdi.set_key_state(name, "stored")
        self.cdi.config_changed()
        self.query_one("#api-key", Input).value = ""
        chooser = self.query_one("#braze-workspace", Select)
        chooser.set_options(self._workspace_options())
        chooser.value = name
        several = len(workspace.config().workspaces) > 1
        what = f"Braze workspace {name} saved" if several else "Braze settings saved"
        self.notify(what + (f"; the key is kept {self.secrets_place}" if key else ""), timeout=4)

    @on(Button.Pressed, "#remove-braze")
    def _remove_braze(self) -> None:
        if self.cdi.refused_in_read_only("Removing a Braze workspace"):
            return
        name = self._chosen_workspace()
        if name is None or name not in self.workspace.config().workspaces:
            return
        from cdi_tui.tui.screens.modals import ConfirmModal

        def confirmed(answer: bool | None) -> None:
            if not answer:
                return
            try:
                self.workspace.remove_braze_workspace(name)
            except CdiError as error:
                self.cdi.show_error(f"Workspace {name} cannot be removed", str(error))
                return
            self.notify(f"Braze workspace {name} removed", timeout=3)
            self.cdi.config_changed()
            chooser = self.query_one("#braze-workspace", Select)
            chooser.set_options(self._workspace_options())
            chooser.value = self.workspace.config().main_workspace

        self.app.push_screen(ConfirmModal(f"Remove the Braze workspace {name} and its stored REST API key?", "Remove"), confirmed)

    @on(Button.Pressed, "#check-key")
    def _check_key(self) -> None:
        name = self._chosen_workspace()
        if name is None or name not in self.workspace.config().workspaces:
            self.query_one("#key-status", Label).update("Save the workspace first")
            return
        self.query_one("#key-status", Label).update("Checking the key (no data points are spent)...")
        self._run_key_check(name)

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def _run_key_check(self, name: str) -> None:
        try:
            self.workspace.check_braze_key(name)
        except CdiError as error:
            self.post_message(CheckDone("The Braze key did not work", False, str(error), name))
            return
        self.post_message(CheckDone("Braze key", True, "The key works (no data points spent)", name))

    def on_check_done(self, message: CheckDone) -> None:
        if (message.title.startswith("The Braze key") or message.title == "Braze key") and message.braze_workspace:
            self.cdi.set_key_state(message.braze_workspace, "checked" if message.ok else "failed")
        target = "#key-status" if message.title.startswith("The Braze key") or message.title == "Braze key" else "#check-status"
        self.query_one(target, Label).update(message.detail if message.ok else "")
        if not message.ok:
            self.cdi.show_error(message.title, message.detail)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.cdi.show_error("That did not work", str(expected(event.worker.error)))
