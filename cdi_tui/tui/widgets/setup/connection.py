"""Step 1 of the setup: the Redshift credential (saved or new) and the source table."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, Select

from cdi_tui.config import Config, Credential
from cdi_tui.fields import INTEGRATION_FIELDS, field_by_key
from cdi_tui.tables import TableNameError, parse_table_name
from cdi_tui.tui.looks import fit
from cdi_tui.tui.safe import outside
from cdi_tui.tui.widgets.credential_fields import CREDENTIAL_NAME_SPEC, PASSWORD_SPEC, CredentialFields, NewCredential
from cdi_tui.tui.widgets.fields import FieldInput
from cdi_tui.tui.widgets.scroll import Scroll

NEW_CREDENTIAL = "__new__"
__all__ = ["CREDENTIAL_NAME_SPEC", "NEW_CREDENTIAL", "PASSWORD_SPEC", "ConnectionStep", "credential_options"]


def table_used_by(
    config: Config,
    credential: Credential | None,
    table_text: str,
    except_name: str | None = None,
    braze_workspace: str | None = None,
) -> str | None:
    """The integration that already syncs this table on this cluster to ``braze_workspace`` (one
    integration per table in a workspace; None: in any workspace), if any."""
    if credential is None:
        return None
    try:
        table = parse_table_name(table_text)
    except TableNameError:
        return None
    identity = (credential.host.lower(), str(credential.port), table.database or credential.database, table.sql)
    for integration in config.integrations.values():
        other = config.credentials.get(integration.credential)
        if other is None or integration.name == except_name:
            continue
        if braze_workspace is not None and integration.workspace != braze_workspace:
            continue
        theirs = integration.table_name
        if (other.host.lower(), str(other.port), theirs.database or other.database, theirs.sql) == identity:
            return integration.name
    return None


def describe(credential: Credential) -> str:
    """Who signs in where, e.g. ``braze_user@host via bastion``."""
    where = f"{credential.host} via {credential.ssh_host}" if credential.uses_ssh else credential.host
    return f"{credential.user or credential.login}@{where}"


def credential_options(config: Config) -> list[tuple[Text, str]]:
    """The credentials to choose from; a user name may hold ``[`` and is shown as text, not markup."""
    options = [(outside(fit(f"{name}  {describe(cred)}", 60)), name) for name, cred in sorted(config.credentials.items())]
    return [*options, (Text("New credential..."), NEW_CREDENTIAL)]


class ConnectionStep(Vertical):
    """Typed access to step 1; posts :class:`ConnectionStep.LoadTables` and :class:`ConnectionStep.Done`."""

    DEFAULT_CSS = """
    ConnectionStep {
        #connection-scroll { height: 1fr; padding: 0 1; }
        #credential-panel, #table-panel { margin-top: 1; height: auto; }
        #new-credential { height: auto; margin-top: 1; }
        .table-row { height: auto; margin-top: 1; }
        .table-row > Select { width: 1fr; margin: 0 1; }
        #connection-status { width: 1fr; height: auto; padding: 0 1; }
        #connection-status.-refused { color: $text-error; }
    }
    """

    class LoadTables(Message):
        """List the tables the chosen credential can see."""

    class Done(Message):
        """The user asks for the next step."""

    class SetupSql(Message):
        """Show the SQL to run in Redshift first."""

    def __init__(self, config: Config, preselected: str | None) -> None:
        super().__init__(id="step-connection")
        self.config = config
        self.preselected = preselected

    def compose(self) -> ComposeResult:
        options = credential_options(self.config)
        chosen = self.preselected if self.preselected in self.config.credentials else options[0][1]
        with Scroll(id="connection-scroll"):
            with Vertical(id="credential-panel", classes="panel compact-form") as panel:
                panel.border_title = "Redshift connection"
                yield Select(options, value=chosen, allow_blank=False, id="credential", compact=True)
                if chosen == NEW_CREDENTIAL:
                    yield CredentialFields(id="new-credential", classes="compact-form")
            with Vertical(id="table-panel", classes="panel compact-form") as panel:
                panel.border_title = "Source table or view"
                yield FieldInput(field_by_key(INTEGRATION_FIELDS, "table"), field_id="field-table", compact=True)
                with Horizontal(classes="table-row"):
                    yield Button("Load tables", id="load-tables", compact=True)
                    yield Select[str]([], prompt="Pick a table the user can see", id="table-picker", compact=True)
                yield Label("", id="connection-status", markup=False)
        with Horizontal(classes="button-bar step-bar"):
            yield Button("Next: sync details", variant="primary", id="next-1", compact=True)
            yield Button("Setup SQL", id="setup-sql", compact=True)

    def on_mount(self) -> None:
        self._credential_changed()
        first = self.field("credential-name") if self.is_new_credential else self.table_field
        first.query_one(Input).focus()

    # typed accessors ------------------------------------------------------------------------
    @property
    def credential_select(self) -> Select[str]:
        return self.query_one("#credential", Select)

    @property
    def credential_choice(self) -> str:
        return str(self.credential_select.value)

    @property
    def is_new_credential(self) -> bool:
        return self.credential_choice == NEW_CREDENTIAL

    @property
    def table_field(self) -> FieldInput:
        return self.query_one("#field-table", FieldInput)

    @property
    def table_picker(self) -> Select[str]:
        return self.query_one("#table-picker", Select)

    @property
    def status(self) -> Label:
        return self.query_one("#connection-status", Label)

    @property
    def new_credential_fields(self) -> CredentialFields:
        return self.query_one("#new-credential", CredentialFields)

    def field(self, key: str) -> FieldInput:
        return self.query_one(f"#field-{key}", FieldInput)

    def chosen_credential(self) -> Credential | None:
        """The saved credential chosen (None while a new one is being typed)."""
        if self.is_new_credential:
            return None
        return self.config.credentials.get(self.credential_choice)

    def credential_from_form(self) -> NewCredential | None:
        """The chosen credential; a new one with its secrets (None if not valid)."""
        saved = self.chosen_credential()
        if saved is not None:
            return NewCredential(saved, None)
        return self.new_credential_fields.read()

    def set_credentials(self, config: Config, chosen: str) -> None:
        self.config = config
        self.credential_select.set_options(credential_options(config))
        self.credential_select.value = chosen

    def show_tables(
        self, tables: list[tuple[str, str]], credential: Credential | None, braze_workspaces: Sequence[str] = ()
    ) -> None:
        """Offer the tables; those another integration syncs are marked. One integration per table in a
        Braze workspace: with several ``braze_workspaces`` a table is refused only when each has its
        integration (the others say who syncs it where; the setup then picks a free workspace)."""
        options: list[tuple[Text, str]] = []
        used = shared = 0
        where: list[str | None] = list(braze_workspaces) if len(braze_workspaces) > 1 else [None]
        for schema, table in tables:
            qualified = f"{schema}.{table}"
            users = {name: table_used_by(self.config, credential, qualified, braze_workspace=name) for name in where}
            taken = {name: user for name, user in users.items() if user is not None}
            if taken and len(taken) == len(users):
                used += 1
                names = ", ".join(sorted(set(taken.values())))
                options.append((outside(f"{qualified}  (used by {names})"), f"used:{names}:{qualified}"))
            elif taken:
                shared += 1
                synced = ", ".join(f"{user} in {name}" for name, user in sorted(taken.items()) if name is not None)
                options.append((outside(f"{qualified}  (synced by {synced})"), qualified))
            else:
                options.append((outside(qualified), qualified))
        self.table_picker.set_options(options)  # Text prompts: never read as markup
        self.table_picker.loading = False
        free = len(tables) - used - shared
        self.say(
            f"Connected: {len(tables)} table(s) visible to this user, {free} free"
            + (f", {shared} synced to another workspace" if shared else "")
            + (f", {used} used" if used else "")
        )

    def say(self, text: str, refused: bool = False) -> None:
        self.status.update(outside(text))  # it may name a table from the warehouse
        self.status.set_class(refused, "-refused")

    # events -----------------------------------------------------------------------------------
    @on(Select.Changed, "#credential")
    def _credential_changed(self) -> None:
        # the new credential's fields (about 90 widgets) are built the first time they are asked for:
        # most setups use a saved credential, and each widget built costs the setup's opening time
        fields = self.query("#new-credential")
        if fields:
            fields.first().display = self.is_new_credential
        elif self.is_new_credential:
            self.query_one("#credential-panel").mount(
                CredentialFields(id="new-credential", classes="compact-form"), after=self.credential_select
            )

    @on(Select.Changed, "#table-picker")
    def _table_picked(self, event: Select.Changed) -> None:
        if event.value is Select.BLANK:
            return
        value = str(event.value)
        if value.startswith("used:"):
            _, user, table = value.split(":", 2)
            self.say(f"{table} is already synced by {user} (one integration per table): pick another", refused=True)
            return
        self.table_field.set_value(value)
        self.say(f"{value} picked")

    @on(Input.Submitted, "#new-credential Input")
    def _next_field(self, event: Input.Submitted) -> None:
        """Enter in a new credential's field goes on to the next; in its last one it loads the tables."""
        event.stop()
        if event.input.parent is self.new_credential_fields.last_field:
            self.post_message(self.LoadTables())
        else:
            self.screen.focus_next()

    @on(Button.Pressed, "#load-tables")
    def _load(self) -> None:
        self.post_message(self.LoadTables())

    @on(Button.Pressed, "#next-1")
    @on(Input.Submitted, "#field-table Input")
    def _next(self) -> None:
        self.post_message(self.Done())

    @on(Button.Pressed, "#setup-sql")
    def _setup_sql(self) -> None:
        self.post_message(self.SetupSql())
