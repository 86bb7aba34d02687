"""Saving a credential with its tunnel key: :meth:`~cdi_tui.workspace.Workspace.save_credential`,
the door of ``credentials add`` and the app's forms (front ends never hold the secret store).

A password credential keeps its password in the keyring, an IAM one keeps none. A credential
with an SSH tunnel either names a key file (its passphrase, if any, goes to the keyring) or
gets an Ed25519 key pair made here, whose private key goes to the keyring and whose public key
is handed back, with the ``authorized_keys`` line, for the user to put on the bastion.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cdi_tui.config import Credential
from cdi_tui.errors import CdiError
from cdi_tui.fields import credential_problems
from cdi_tui.secret_store import (
    CredentialsService,
    check_secret,
    credential_account,
    ssh_key_account,
    ssh_passphrase_account,
)
from cdi_tui.warehouse.tunnel import SshSettings, authorized_keys_line, generate_key_pair, public_key_of

if TYPE_CHECKING:
    from cdi_tui.workspace import Workspace


class CredentialSetupError(CdiError, ValueError):
    """The credential's settings do not fit together; the message says which and why."""


@dataclass(frozen=True)
class TunnelKey:
    """The public half of a credential's tunnel key, for the bastion's ``authorized_keys``."""

    public_key: str
    authorized_keys_line: str
    generated: bool


def check_credential(credential: Credential) -> None:
    """Raises:
    CredentialSetupError: naming the first field that does not fit (e.g. IAM without a region).
    """
    values = {key: value for key, value in vars(credential).items() if key != "name"}
    problems = credential_problems(values)
    if problems:
        raise CredentialSetupError("; ".join(f"{key}: {problem}" for key, problem in problems))


def save_credential(
    workspace: Workspace,
    secrets: CredentialsService,
    credential: Credential,
    password: str | None,
    *,
    replace_existing: bool = False,
    generate_ssh_key: bool = False,
    ssh_passphrase: str | None = None,
) -> TunnelKey | None:
    """Save a credential and its secrets.

    Args:
        workspace: the :class:`~cdi_tui.workspace.Workspace` it is saved in.
        secrets: the workspace's secret store.
        credential: the credential (an accepted host key of the same bastion is kept).
        password: for password sign-in; None for IAM.
        generate_ssh_key: make a new key pair for the tunnel (when it names no key file).
        ssh_passphrase: the passphrase of the tunnel's key file, if it has one.

    Returns:
        The tunnel key's public half (None without a tunnel, or when an earlier generated
        key is kept).

    Raises:
        CredentialSetupError: inconsistent settings; WarehouseError (``ssh_key``) when the key
            file cannot be read or the passphrase does not open it; WorkspaceError from saving.
    """
    check_credential(credential)
    # every secret given is checked before anything is saved: a refused one changes nothing
    if password:
        check_secret(credential_account(credential.name), password, "the password")
    if ssh_passphrase:
        check_secret(ssh_passphrase_account(credential.name), ssh_passphrase, "the SSH key's passphrase")
    existing = workspace.config().credentials.get(credential.name)
    if (
        existing is not None
        and credential.uses_ssh
        and credential.ssh_host_key is None
        and (existing.ssh_host, existing.ssh_port) == (credential.ssh_host, credential.ssh_port)
    ):
        credential = replace(credential, ssh_host_key=existing.ssh_host_key)  # the same bastion: its key still holds
    tunnel_key: TunnelKey | None = None
    private_key: str | None = None
    keep_generated = False
    if credential.uses_ssh:
        if credential.ssh_key_path:
            public = public_key_of(SshSettings(host="", user="", key_path=credential.ssh_key_path, passphrase=ssh_passphrase))
            tunnel_key = TunnelKey(public, authorized_keys_line(public, credential.host, credential.port), generated=False)
        elif generate_ssh_key:
            private_key, public = generate_key_pair(f"cdi-tui:{credential.name}")
            tunnel_key = TunnelKey(public, authorized_keys_line(public, credential.host, credential.port), generated=True)
        elif replace_existing and secrets.get(ssh_key_account(credential.name)) is not None:
            keep_generated = True
        else:
            raise CredentialSetupError("an SSH tunnel needs a key file or a generated key pair")
    workspace.add_credential(credential, None if credential.uses_iam else password, replace_existing=replace_existing)
    if private_key is not None:
        secrets.set(ssh_key_account(credential.name), private_key)
    elif not keep_generated:
        secrets.delete(ssh_key_account(credential.name))
    if credential.ssh_key_path and ssh_passphrase:
        secrets.set(ssh_passphrase_account(credential.name), ssh_passphrase)
    else:
        secrets.delete(ssh_passphrase_account(credential.name))
    return tunnel_key


def tunnel_key_of(credential: Credential, secrets: CredentialsService) -> TunnelKey:
    """The public half of a tunnelled credential's key (generated or from its key file).

    Raises:
        WarehouseError: kind ``ssh_key`` when the key is missing or cannot be read.
    """
    from cdi_tui.checks import ssh_settings

    settings = ssh_settings(credential, secrets)
    if settings is None:
        raise CredentialSetupError(f"credential '{credential.name}' does not use an SSH tunnel")
    public = public_key_of(settings)
    return TunnelKey(
        public, authorized_keys_line(public, credential.host, credential.port), generated=not credential.ssh_key_path
    )
