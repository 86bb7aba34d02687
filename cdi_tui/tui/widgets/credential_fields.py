"""A new Redshift credential's fields, shared by the credential dialog and the setup's step 1.

Sign-in is password or AWS IAM: the password field shows for the first, the IAM fields for the
second. A checkbox adds an SSH tunnel through a bastion (its fields show only then). Hidden
fields are not read, so a password credential's form stays short.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Select

from cdi_tui.config import Credential
from cdi_tui.fields import ALL_CREDENTIAL_FIELDS, FieldSpec, field_by_key, validate_name
from cdi_tui.tui.widgets.fields import FieldInput, collect

CREDENTIAL_NAME_SPEC = FieldSpec("credential_name", "Credential name", validate_name, "a name to reuse this connection")
PASSWORD_SPEC = FieldSpec("password", "Password", str, "never written to a file", secret=True)
SSH_PASSPHRASE_SPEC = FieldSpec("ssh_passphrase", "SSH key passphrase", str, "only for a key file that has one", required=False)
IAM_KEYS = ("aws_profile", "region", "cluster_id", "workgroup", "db_user")
SSH_KEYS = ("ssh_host", "ssh_port", "ssh_user", "ssh_key_path")


@dataclass
class NewCredential:
    """A new credential as typed, with its secrets (None when not given)."""

    credential: Credential
    password: str | None
    ssh_passphrase: str | None = None


class CredentialFields(Vertical):
    """Name, cluster, sign-in (password or IAM) and an optional SSH tunnel of a new credential.

    ``read()`` checks every shown field (each says why it is not valid) and the rules across
    them; it returns None, with the reasons shown or notified, when the credential is not valid.
    """

    DEFAULT_CSS = """
    CredentialFields {
        height: auto;
        #iam-fields, #ssh-fields { height: auto; }
        #use-ssh { margin-top: 1; }
    }
    """

    def __init__(self, *, compact: bool = True, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.compact = compact

    def compose(self) -> ComposeResult:
        compact = self.compact
        yield FieldInput(CREDENTIAL_NAME_SPEC, field_id="field-credential-name", compact=compact)
        for key in ("host", "port", "database", "auth", "user"):
            yield FieldInput(field_by_key(ALL_CREDENTIAL_FIELDS, key), compact=compact)
        with Vertical(id="iam-fields"):
            for key in IAM_KEYS:
                yield FieldInput(field_by_key(ALL_CREDENTIAL_FIELDS, key), compact=compact)
        yield FieldInput(field_by_key(ALL_CREDENTIAL_FIELDS, "sslmode"), compact=compact)
        yield FieldInput(field_by_key(ALL_CREDENTIAL_FIELDS, "max_rows_per_query"), compact=compact)
        yield FieldInput(PASSWORD_SPEC, password=True, field_id="field-password", compact=compact)
        yield Checkbox("Connect through an SSH tunnel (bastion host)", id="use-ssh", compact=compact)
        with Vertical(id="ssh-fields"):
            for key in SSH_KEYS:
                yield FieldInput(field_by_key(ALL_CREDENTIAL_FIELDS, key), compact=compact)
            yield FieldInput(SSH_PASSPHRASE_SPEC, password=True, field_id="field-ssh-passphrase", compact=compact)

    def on_mount(self) -> None:
        self._shown()

    # typed accessors ------------------------------------------------------------------------
    def field(self, key: str) -> FieldInput:
        return self.query_one(f"#field-{key}", FieldInput)

    @property
    def uses_iam(self) -> bool:
        return self.field("auth").raw == "iam"

    @property
    def uses_ssh(self) -> bool:
        return self.query_one("#use-ssh", Checkbox).value

    @property
    def last_field(self) -> FieldInput:
        """The last field shown (Enter there goes on from the credential)."""
        if self.uses_ssh:
            return self.field("ssh-passphrase")
        return self.field("sslmode") if self.uses_iam else self.field("password")

    def read(self) -> NewCredential | None:
        from cdi_tui.credential_setup import CredentialSetupError, check_credential

        iam = self.uses_iam
        shown = [self.field("credential-name"), self.field("auth")]
        shown += [self.field(key) for key in ("host", "port", "database")]
        shown += [self.field(key) for key in IAM_KEYS] if iam else [self.field("user"), self.field("password")]
        shown += [self.field("sslmode"), self.field("max_rows_per_query")]
        if self.uses_ssh:
            shown += [self.field(key) for key in SSH_KEYS]
            shown.append(self.field("ssh-passphrase"))
        values: dict[str, Any] | None = collect(shown)
        if values is None:
            return None
        password = values.pop("password", None) or None
        passphrase = values.pop("ssh_passphrase", None) or None
        name = values.pop("credential_name")
        if self.uses_ssh and not values.get("ssh_host"):
            self._refuse("ssh_host", "required for an SSH tunnel")
            return None
        if self.uses_ssh and not values.get("ssh_user"):
            self._refuse("ssh_user", "required for an SSH tunnel")
            return None
        credential = Credential(name=name, **{key: value for key, value in values.items() if value is not None})
        try:
            check_credential(credential)
        except CredentialSetupError as error:
            self.notify(str(error), severity="error", timeout=6)
            return None
        if not iam and password is None:
            self._refuse("password", "required for password sign-in")
            return None
        return NewCredential(credential, None if iam else password, passphrase if credential.ssh_key_path else None)

    def _refuse(self, key: str, reason: str) -> None:
        self.field(key).show_error(reason)
        self.notify(f"{key}: {reason}", severity="error", timeout=6)

    # events -----------------------------------------------------------------------------------
    @on(Select.Changed, "#field-auth Select")
    @on(Checkbox.Changed, "#use-ssh")
    def _shown(self) -> None:
        iam = self.uses_iam
        self.query_one("#iam-fields").display = iam
        self.field("user").display = not iam
        self.field("password").display = not iam
        self.query_one("#ssh-fields").display = self.uses_ssh
