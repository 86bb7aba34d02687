"""The connection test: connect, check the table against the data type, preview rows.

This is what the seed's **Test connection** button does. It returns either a preview of
the newest rows or a :class:`~cdi_tui.warehouse.errors.WarehouseError` with the fix to try.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cdi_tui.braze.client import Catalog
from cdi_tui.config import DEFAULT_WORKSPACE, Config, ConfigStore, Credential, Integration, with_credential
from cdi_tui.enums import DataType
from cdi_tui.secret_store import (
    CredentialsService,
    SecretMissing,
    credential_account,
    ssh_key_account,
    ssh_passphrase_account,
)
from cdi_tui.tables import TableName
from cdi_tui.warehouse.errors import AUTH, SSH_HOST_KEY_CHANGED, SSH_KEY, WarehouseError
from cdi_tui.warehouse.iam import IamSettings
from cdi_tui.warehouse.source import ConnectionSettings, Preview, RedshiftSource, TableShape
from cdi_tui.warehouse.tunnel import SshSettings, fetch_host_key, fingerprint


def integration_fingerprint(credential: Credential, integration: Integration) -> str:
    """What a connection test vouches for: the connection and the table (not the password).

    A change to any of these sends the integration back to needing a test.
    """
    parts: tuple[str, ...] = (
        credential.host.lower(),
        str(credential.port),
        credential.database,
        credential.user,
        credential.sslmode,
        integration.table_name.database or "",
        integration.table_name.sql,
        integration.data_type,
    )
    # only credentials that use them add these, so older fingerprints stay valid
    if credential.uses_iam:
        parts += ("iam", credential.region or "", credential.cluster_id or "", credential.workgroup or "")
        parts += (credential.db_user or "", credential.aws_profile or "")
    if credential.uses_ssh:
        parts += ("ssh", (credential.ssh_host or "").lower(), str(credential.ssh_port), credential.ssh_user or "")
    if integration.data_type == DataType.CATALOGS:  # the test checked this catalog's fields
        parts += ("catalog", integration.catalog_name)
    if integration.workspace != DEFAULT_WORKSPACE:  # tested for one Braze workspace: another needs its own test
        parts += ("workspace", integration.workspace)
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass
class ConnectionTestResult:
    ok: bool
    warnings: list[str] = field(default_factory=list)
    shape: TableShape | None = None
    preview: Preview | None = None
    pending_rows: int | None = None
    error: WarehouseError | None = None
    catalog: Catalog | None = None  # a catalogs integration: its catalog, as Braze lists it


# a connection test's failures on the Braze side (a catalogs integration's), beside the warehouse's kinds
BRAZE_UNAVAILABLE = "braze"
CATALOG_MISSING = "catalog_missing"
CATALOG_FIELDS = "catalog_fields"


class BrazeCheckError(WarehouseError):
    """A connection test failed on the Braze side: Braze not set up or not reachable, the catalog
    missing, or preview rows with fields the catalog does not have."""


def unknown_catalog_fields(catalog: Catalog, body: dict[str, object]) -> str | None:
    """Why an item would be refused for its fields (the VALID? column says it), or None."""
    unknown = catalog.unknown_fields(body)
    if not unknown:
        return None
    names = ", ".join(f"'{name}'" for name in unknown)
    return f"unknown field{'s' if len(unknown) > 1 else ''} {names}: not a field of catalog '{catalog.name}'"


def check_catalog(
    result: ConnectionTestResult,
    catalog_name: str,
    list_catalogs: Callable[[], dict[str, Catalog]],
    item_bodies: list[dict[str, object]],
) -> None:
    """The catalog part of a catalogs integration's test: the catalog exists in Braze, and every
    PAYLOAD field of the preview rows (``item_bodies``: the items they would send) is one of its
    fields. A failure is set on ``result`` (the preview stays, for the VALID? column).

    Args:
        list_catalogs: the workspace's catalogs (``GET /catalogs``); may raise
            :class:`BrazeCheckError` (Braze not set up, refused, not reachable).
    """
    try:
        catalogs = list_catalogs()
    except BrazeCheckError as error:
        result.ok, result.error = False, error
        return
    catalog = catalogs.get(catalog_name)
    if catalog is None:
        known = ", ".join(sorted(catalogs)) or "none"
        result.ok = False
        result.error = BrazeCheckError(
            CATALOG_MISSING,
            f"Catalog '{catalog_name}' cannot be found in the Braze workspace (its catalogs: {known})",
            "Create the catalog in Braze (Data Settings > Catalogs) with its fields, or name another catalog for the "
            "integration (Braze's CDI expects the integration and the catalog to share a name).",
        )
        return
    result.catalog = catalog
    unknown = sorted({name for body in item_bodies for name in catalog.unknown_fields(body)})
    if unknown:
        result.ok = False
        result.error = BrazeCheckError(
            CATALOG_FIELDS,
            f"Preview rows hold fields catalog '{catalog_name}' does not have: {', '.join(unknown)}",
            "Add the fields to the catalog in Braze, or leave them out of PAYLOAD: Braze refuses every item that "
            "holds one (the VALID? column names them).",
        )


def connection_settings(
    credential: Credential, secrets: CredentialsService, table: TableName | None = None, password: str | None = None
) -> ConnectionSettings:
    """Settings for a credential; a table naming a database connects to that database.

    Args:
        password: for a credential not saved yet; otherwise the stored one is used
            (none for IAM sign-in: AWS hands out a temporary one at each connection).

    Raises:
        WarehouseError: kind ``auth`` when no password is stored for the credential,
            ``ssh_key`` when its tunnel's generated key is missing from the keyring.
    """
    if credential.uses_iam:
        password = ""
    elif password is None:
        try:
            password = secrets.require(credential_account(credential.name), f"password for credential '{credential.name}'")
        except SecretMissing as error:
            raise WarehouseError(AUTH, str(error), "Save the password with 'cdi-tui credentials add' or in the app.") from None
    database = table.database if table is not None and table.database else credential.database
    return ConnectionSettings(
        host=credential.host,
        port=credential.port,
        database=database,
        user=credential.user,
        password=password,
        sslmode=credential.sslmode,
        ssh=ssh_settings(credential, secrets),
        iam=iam_settings(credential),
    )


def iam_settings(credential: Credential) -> IamSettings | None:
    if not credential.uses_iam:
        return None
    return IamSettings(
        region=credential.region or "",
        cluster_id=credential.cluster_id,
        workgroup=credential.workgroup,
        db_user=credential.db_user,
        aws_profile=credential.aws_profile,
    )


def ssh_settings(credential: Credential, secrets: CredentialsService) -> SshSettings | None:
    """The tunnel's settings, with the generated key or the key file's passphrase from the keyring.

    Raises:
        WarehouseError: kind ``ssh_key`` when the credential's generated key is not stored.
    """
    if not credential.uses_ssh:
        return None
    private_key = passphrase = None
    if credential.ssh_key_path:
        passphrase = secrets.get(ssh_passphrase_account(credential.name))
    else:
        try:
            private_key = secrets.require(ssh_key_account(credential.name), f"SSH key for credential '{credential.name}'")
        except SecretMissing as error:
            raise WarehouseError(
                SSH_KEY,
                str(error),
                f"Make a new key pair with 'cdi-tui credentials add {credential.name} ... --ssh-generate-key --replace' "
                "and put its public key on the bastion.",
            ) from None
    return SshSettings(
        host=credential.ssh_host or "",
        port=credential.ssh_port,
        user=credential.ssh_user or "",
        private_key=private_key,
        key_path=credential.ssh_key_path,
        passphrase=passphrase,
        host_key=credential.ssh_host_key,
    )


def accept_ssh_host_key(store: ConfigStore, credential: Credential, shown_fingerprint: str) -> Credential:
    """Trust the bastion's host key after the user checked its fingerprint.

    The key is fetched again and accepted only when its fingerprint is the one given, then
    kept with the credential in the config file (replacing an earlier accepted key).

    Args:
        store: the config file.
        credential: a credential that goes through an SSH tunnel.
        shown_fingerprint: ``SHA256:...``, as the server showed it and the user confirmed.

    Returns:
        The credential with the accepted key.

    Raises:
        WarehouseError: ``ssh_host_key_changed`` when the server shows another key;
            ``ssh_unreachable`` when it cannot be reached.
    """
    if not credential.uses_ssh:
        raise WarehouseError(SSH_KEY, f"Credential '{credential.name}' does not use an SSH tunnel", "")
    settings = SshSettings(host=credential.ssh_host or "", port=credential.ssh_port, user=credential.ssh_user or "")
    key_line = fetch_host_key(replace(settings, host_key=credential.ssh_host_key))
    shown = fingerprint(key_line)
    wanted = shown_fingerprint.strip()
    if not wanted.startswith("SHA256:"):
        wanted = "SHA256:" + wanted
    if shown != wanted:
        raise WarehouseError(
            SSH_HOST_KEY_CHANGED,
            f"The SSH host {settings.where} shows {shown}, not {wanted}: nothing was accepted",
            "Accept only the fingerprint the server shows and its administrator confirms.",
        )
    accepted = replace(credential, ssh_host_key=key_line)

    def change(config: Config) -> Config:
        current = config.credentials.get(credential.name)
        if current is None or (current.ssh_host, current.ssh_port) != (credential.ssh_host, credential.ssh_port):
            raise WarehouseError(SSH_KEY, f"Credential '{credential.name}' changed meanwhile; test it again", "")
        return with_credential(config, replace(current, ssh_host_key=key_line))

    store.update(change)
    return accepted


def run_connection_test(
    credential: Credential,
    table: TableName,
    data_type: DataType,
    secrets: CredentialsService,
    preview_rows: int = 100,
) -> ConnectionTestResult:
    """Connect, check the table's columns for the data type, and read a preview.

    Never raises for warehouse problems: they come back in ``result.error``.
    """
    try:
        settings = connection_settings(credential, secrets, table)
    except WarehouseError as error:
        return ConnectionTestResult(ok=False, error=error)
    result = ConnectionTestResult(ok=False, warnings=settings.warnings())
    try:
        with RedshiftSource(settings, table) as source:
            shape = source.check_table(data_type)
            result.shape = shape
            result.preview = source.preview(shape, preview_rows)
            result.pending_rows = source.count_rows(shape)
    except WarehouseError as error:
        result.error = error
        return result
    result.ok = True
    return result
