"""Saved Redshift credentials (and which integrations use each) and the Braze settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Select
from textual.worker import Worker, WorkerState

from cdi_tui.config import DEFAULT_MAX_IN_FLIGHT, BrazeSettings, Credential, SmtpSettings
from cdi_tui.fields import BRAZE_FIELDS, BRAZE_INSTANCES, SMTP_FIELDS, FieldError, field_by_key
from cdi_tui.tui.base import CdiMixin
from cdi_tui.tui.screens.wizard import (
    CREDENTIAL_NAME_SPEC,
    FORM_CREDENTIAL_FIELDS,
    OPTIONAL_PASSWORD_SPEC,
    PASSWORD_SPEC,
    SSH_PASSPHRASE_SPEC,
)
from cdi_tui.tui.widgets.fields import FieldInput, collect
from cdi_tui.workspace import WorkspaceError

CUSTOM_URL = "__custom__"


@dataclass
class CredentialFormResult:
    credential: Credential
    password: str | None
    ssh_passphrase: str | None = None


def credential_from_values(values: dict[str, Any]) -> tuple[Credential, str | None, str | None]:
    """(credential, password, SSH key passphrase) from a form's values.

    Raises:
        CredentialSetupError: the settings do not fit together.
    """
    from cdi_tui.credential_setup import check_credential

    password = values.pop("password", None) or None
    passphrase = values.pop("ssh_passphrase", None) or None
    name = values.pop("credential_name")
    credential = Credential(name=name, **{key: value for key, value in values.items() if value is not None})
    check_credential(credential)
    return credential, (None if credential.uses_iam else password), passphrase


def save_from_form(screen: Any, result: CredentialFormResult) -> bool:
    """Save a new credential; a tunnel's generated key is made here and its public key shown to copy."""
    from cdi_tui.credential_setup import save_credential
    from cdi_tui.tui.screens.modals import TextModal

    credential = result.credential
    try:
        tunnel_key = save_credential(
            screen.workspace,
            credential,
            result.password,
            generate_ssh_key=credential.uses_ssh and not credential.ssh_key_path,
            ssh_passphrase=result.ssh_passphrase,
        )
    except Exception as error:
        screen.cdi.show_error("The credential was not saved", str(error))
        return False
    if tunnel_key is not None:
        screen.app.push_screen(
            TextModal(
                f"Add this line to ~{credential.ssh_user}/.ssh/authorized_keys on {credential.ssh_host}",
                tunnel_key.authorized_keys_line,
            )
        )
    return True


@dataclass
class CheckDone(Message):
    title: str
    ok: bool
    detail: str


class CredentialForm(ModalScreen[CredentialFormResult | None]):
    """Add a credential (or, given one, change its password)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, existing: Credential | None = None) -> None:
        super().__init__(classes="modal")
        self.existing = existing

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            if self.existing is None:
                yield Label("New Redshift credential", classes="dialog-title")
                yield FieldInput(CREDENTIAL_NAME_SPEC, field_id="field-credential-name")
                for spec in FORM_CREDENTIAL_FIELDS:
                    yield FieldInput(spec)
                yield FieldInput(SSH_PASSPHRASE_SPEC, password=True, field_id="field-ssh-passphrase")
                yield FieldInput(OPTIONAL_PASSWORD_SPEC, password=True, field_id="field-password")
            else:
                yield Label(
                    f"New password for {self.existing.name} ({self.existing.user}@{self.existing.host})", classes="dialog-title"
                )
                yield FieldInput(PASSWORD_SPEC, password=True, field_id="field-password")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        values = collect(list(self.query(FieldInput).results(FieldInput)))
        if values is None:
            return
        if self.existing is not None:
            self.dismiss(CredentialFormResult(self.existing, values.pop("password")))
            return
        from cdi_tui.credential_setup import CredentialSetupError

        try:
            credential, password, passphrase = credential_from_values(values)
        except CredentialSetupError as error:
            self.notify(str(error), severity="error", timeout=6)
            return
        if password is None and not credential.uses_iam:
            self.notify("password: required for password sign-in", severity="error", timeout=6)
            return
        self.dismiss(CredentialFormResult(credential, password, passphrase))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class CredentialsScreen(CdiMixin, Screen[None]):
    CSS_PATH = "credentials.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("a", "add", "Add"),
        Binding("w", "password", "Change password"),
        Binding("k", "check", "Check"),
        Binding("p", "public_key", "SSH public key"),
        Binding("delete,d", "delete", "Delete"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="columns"):
            with Vertical(id="credentials-pane"):
                yield Label("Redshift credentials", classes="section")
                table: DataTable[str] = DataTable(id="credentials", cursor_type="row", zebra_stripes=True)
                yield table
                with Horizontal(classes="buttons"):
                    yield Button("Add", id="add")
                    yield Button("Change password", id="password")
                    yield Button("Check", id="check")
                    yield Button("Delete", variant="error", id="delete")
                yield Label("", id="check-status")
            with VerticalScroll(id="braze-pane"):
                yield Label("Braze workspace", classes="section")
                yield Label("Instance", classes="field-label")
                yield Select(
                    [*((name, name) for name in BRAZE_INSTANCES), ("Custom URL", CUSTOM_URL)],
                    value="US-01",
                    allow_blank=False,
                    id="instance",
                )
                yield Input(placeholder="https://rest.example.braze.com", id="custom-url")
                yield Label("REST API key (kept in the keyring; leave empty to keep the stored one)", classes="field-label")
                yield Input(password=True, placeholder="stored", id="api-key")
                yield FieldInput(field_by_key(BRAZE_FIELDS, "time_zone"))
                yield FieldInput(field_by_key(BRAZE_FIELDS, "requests_per_window"))
                with Horizontal(classes="buttons"):
                    yield Button("Save", variant="primary", id="save-braze")
                    yield Button("Check key", id="check-key")
                yield Label("", id="key-status")
                yield Label("Email notifications (SMTP)", classes="section")
                for spec in SMTP_FIELDS:
                    yield FieldInput(spec, field_id=f"smtp-{spec.key}")
                yield Label("SMTP password (kept in the keyring; leave empty to keep the stored one)", classes="field-label")
                yield Input(password=True, id="smtp-password")
                yield Button("Save SMTP", id="save-smtp")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Credentials and Braze settings"
        self.query_one("#credentials", DataTable).add_columns("Name", "Used by", "User", "Host", "Port", "Database", "SSL")
        self.refresh_data()
        braze = self.workspace.config().braze
        if braze is not None:
            if braze.endpoint in BRAZE_INSTANCES:
                self.query_one("#instance", Select).value = braze.endpoint
            else:
                self.query_one("#instance", Select).value = CUSTOM_URL
                self.query_one("#custom-url", Input).value = braze.endpoint
            self.query_one("#field-time_zone", FieldInput).set_value(braze.time_zone)
            self.query_one("#field-requests_per_window", FieldInput).set_value(braze.requests_per_window)
        self._instance_changed()
        self._load_smtp()

    def _load_smtp(self) -> None:
        smtp = self.workspace.config().smtp
        if smtp is None:
            return
        for spec in SMTP_FIELDS:
            value = getattr(smtp, spec.key)
            self.query_one(f"#smtp-{spec.key}", FieldInput).set_value(value if value is not None else "")

    @on(Button.Pressed, "#save-smtp")
    def _save_smtp(self) -> None:
        values = collect([self.query_one(f"#smtp-{spec.key}", FieldInput) for spec in SMTP_FIELDS])
        if values is None:
            return
        password = self.query_one("#smtp-password", Input).value or None
        self.workspace.set_smtp(SmtpSettings(**values), password)
        self.query_one("#smtp-password", Input).value = ""
        self.notify("SMTP settings saved" + ("; the password is in the keyring" if password else ""), timeout=4)

    def refresh_data(self) -> None:
        config = self.workspace.config()
        table = self.query_one("#credentials", DataTable)
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
        table = self.query_one("#credentials", DataTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value)

    # credentials ---------------------------------------------------------------------------
    @on(Button.Pressed, "#add")
    def action_add(self) -> None:
        def saved(result: CredentialFormResult | None) -> None:
            if result is None:
                return
            if not save_from_form(self, result):
                return
            kept = "its password is in the keyring" if result.password else "it signs in with AWS IAM"
            self.notify(f"Credential {result.credential.name} saved; {kept}", timeout=4)
            self.refresh_data()

        self.app.push_screen(CredentialForm(), saved)

    @on(Button.Pressed, "#password")
    def action_password(self) -> None:
        name = self.selected()
        if name is None:
            return
        credential = self.workspace.config().credentials[name]
        if credential.uses_iam:
            self.notify(f"{name} signs in with AWS IAM and keeps no password", timeout=4)
            return

        def saved(result: CredentialFormResult | None) -> None:
            if result is not None and result.password:
                self.workspace.change_password(name, result.password)
                self.notify(f"Password of {name} changed", timeout=3)

        self.app.push_screen(CredentialForm(credential), saved)

    def action_public_key(self) -> None:
        """Show a tunnelled credential's authorized_keys line again, ready to copy."""
        from cdi_tui.credential_setup import tunnel_key_of
        from cdi_tui.tui.screens.modals import TextModal

        name = self.selected()
        if name is None:
            return
        credential = self.workspace.config().credentials[name]
        try:
            tunnel_key = tunnel_key_of(credential, self.workspace.secrets)
        except Exception as error:
            self.cdi.show_error(f"No SSH public key for {name}", str(error))
            return
        title = f"Add this line to ~{credential.ssh_user}/.ssh/authorized_keys on {credential.ssh_host}"
        self.app.push_screen(TextModal(title, tunnel_key.authorized_keys_line))

    @on(Button.Pressed, "#delete")
    def action_delete(self) -> None:
        name = self.selected()
        if name is None:
            return
        from cdi_tui.tui.screens.modals import ConfirmModal

        def confirmed(answer: bool | None) -> None:
            if not answer:
                return
            try:
                self.workspace.remove_credential(name)
            except WorkspaceError as error:
                self.cdi.show_error(f"{name} cannot be deleted", str(error))
                return
            self.notify(f"Credential {name} deleted", timeout=3)
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
        except Exception as error:
            self.post_message(CheckDone(f"{name} could not connect", False, str(error)))
            return
        self.post_message(CheckDone(name, True, f"{name}: connected; {len(tables)} table(s) visible"))

    # Braze ------------------------------------------------------------------------------------
    @on(Select.Changed, "#instance")
    def _instance_changed(self) -> None:
        self.query_one("#custom-url").display = self.query_one("#instance", Select).value == CUSTOM_URL

    @on(Button.Pressed, "#save-braze")
    def _save_braze(self) -> None:
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
        current = workspace.config().braze
        if key is None and current is None:
            self.cdi.show_error("A REST API key is needed", "Paste the workspace's REST API key (permission users.track).")
            return
        settings = BrazeSettings(
            endpoint=endpoint,
            time_zone=values["time_zone"],
            requests_per_window=values["requests_per_window"],
            window_seconds=current.window_seconds if current else 3.0,
            combined_batch_limit=current.combined_batch_limit if current else False,
            max_in_flight=current.max_in_flight if current else DEFAULT_MAX_IN_FLIGHT,
        )
        workspace.set_braze(settings, key)
        self.query_one("#api-key", Input).value = ""
        self.notify("Braze settings saved" + ("; the key is in the keyring" if key else ""), timeout=4)

    @on(Button.Pressed, "#check-key")
    def _check_key(self) -> None:
        self.query_one("#key-status", Label).update("Checking the key (no data points are spent)...")
        self._run_key_check()

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def _run_key_check(self) -> None:
        try:
            self.workspace.check_braze_key()
        except Exception as error:
            self.post_message(CheckDone("The Braze key did not work", False, str(error)))
            return
        self.post_message(CheckDone("Braze key", True, "The key works (no data points spent)"))

    def on_check_done(self, message: CheckDone) -> None:
        target = "#key-status" if message.title.startswith("The Braze key") or message.title == "Braze key" else "#check-status"
        self.query_one(target, Label).update(message.detail if message.ok else "")
        if not message.ok:
            self.cdi.show_error(message.title, message.detail)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.cdi.show_error("That did not work", str(event.worker.error))
