"""The connection test: connect, check the table against the data type, preview rows.

This is what the seed's **Test connection** button does. It returns either a preview of
the newest rows or a :class:`~cdi_tui.warehouse.errors.WarehouseError` with the fix to try.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cdi_tui.config import Credential, Integration
from cdi_tui.secret_store import CredentialsService, SecretMissing, credential_account
from cdi_tui.tables import TableName
from cdi_tui.warehouse.errors import AUTH, WarehouseError
from cdi_tui.warehouse.source import ConnectionSettings, Preview, RedshiftSource, TableShape


def integration_fingerprint(credential: Credential, integration: Integration) -> str:
    """What a connection test vouches for: the connection and the table (not the password).

    A change to any of these sends the integration back to needing a test.
    """
    parts = (
        credential.host.lower(),
        str(credential.port),
        credential.database,
        credential.user,
        credential.sslmode,
        integration.table_name.database or "",
        integration.table_name.sql,
        integration.data_type,
    )
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass
class ConnectionTestResult:
    ok: bool
    warnings: list[str] = field(default_factory=list)
    shape: TableShape | None = None
    preview: Preview | None = None
    pending_rows: int | None = None
    error: WarehouseError | None = None


def connection_settings(
    credential: Credential, secrets: CredentialsService, table: TableName | None = None, password: str | None = None
) -> ConnectionSettings:
    """Settings for a credential; a table naming a database connects to that database.

    Args:
        password: for a credential not saved yet; otherwise the stored one is used.

    Raises:
        WarehouseError: kind ``auth`` when no password is stored for the credential.
    """
    if password is None:
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
    )


def run_connection_test(
    credential: Credential,
    table: TableName,
    data_type: str,
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
