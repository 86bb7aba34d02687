"""Warehouse failures, sorted into kinds a person can act on.

Every failure of a connection or a query becomes a :class:`WarehouseError` with a ``kind``,
a message that says what happened and a ``fix`` that says what to try. The driver's own
exception is never chained (``from None``): its text can carry connection details, and
the message here is the one people read.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

from cdi_tui.errors import CdiError

# kinds
DNS = "dns"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
AUTH = "auth"
DATABASE_MISSING = "database_missing"
TLS = "tls"
SCHEMA_PERMISSION = "schema_permission"
TABLE_PERMISSION = "table_permission"
SCHEMA_MISSING = "schema_missing"
TABLE_MISSING = "table_missing"
COLUMNS = "columns"
CONNECTION_LOST = "connection_lost"
QUERY = "query"
CURSOR_TOO_LARGE = "cursor_too_large"
# the SSH tunnel's hops, checked before the cluster's
SSH_UNREACHABLE = "ssh_unreachable"
SSH_AUTH = "ssh_auth"
SSH_KEY = "ssh_key"
SSH_HOST_KEY_UNKNOWN = "ssh_host_key_unknown"
SSH_HOST_KEY_CHANGED = "ssh_host_key_changed"
SSH_FORWARD_REFUSED = "ssh_forward_refused"
# AWS IAM sign-in
IAM_NO_CREDENTIALS = "iam_no_credentials"
IAM_DENIED = "iam_denied"
IAM_NOT_FOUND = "iam_not_found"
IAM_UNREACHABLE = "iam_unreachable"
IAM_FAILED = "iam_failed"

FIXES = {
    DNS: "Check the host name for typos; it must resolve from this machine.",
    UNREACHABLE: "Check the host and port, that the cluster is running and publicly accessible, "
    "and that its security group or firewall lets this machine in.",
    TIMEOUT: "The host did not answer in time: check the port, the security group or firewall, "
    "and that the cluster is not paused.",
    AUTH: "Check the user name and password (passwords are case-sensitive); save the password again if it changed.",
    DATABASE_MISSING: "Check the database name (Redshift's default is 'dev').",
    TLS: "The server did not complete a verified TLS handshake. Check the SSL mode; Redshift "
    "always offers TLS. Use 'disable' only for a local test database.",
    SCHEMA_PERMISSION: "Run: GRANT USAGE ON SCHEMA <schema> TO <user>;",
    TABLE_PERMISSION: "Run: GRANT SELECT ON TABLE <schema>.<table> TO <user>;",
    SCHEMA_MISSING: "Check the schema name, or create it (see 'cdi-tui setup-sql').",
    TABLE_MISSING: "Check the table name, or create it (see 'cdi-tui setup-sql').",
    COLUMNS: "Change the table (or view) to have the columns the data type needs (see 'cdi-tui setup-sql').",
    CONNECTION_LOST: "The connection to the warehouse broke; the next run resumes where this one stopped.",
    QUERY: "The warehouse rejected a query; the message above says why.",
    SSH_KEY: "Check the credential's SSH key (credentials add --replace with --ssh-key PATH or --ssh-generate-key).",
    IAM_FAILED: "Check the credential's AWS settings (profile, region, cluster or workgroup).",
}


class WarehouseError(CdiError):
    """A warehouse failure of a known kind, with the fix to try."""

    def __init__(self, kind: str, message: str, fix: str | None = None) -> None:
        self.kind = kind
        self.message = message
        self.fix = fix if fix is not None else FIXES.get(kind, "")
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message}. {self.fix}" if self.fix else self.message


def _server_fields(error: BaseException) -> dict[str, Any] | None:
    for arg in getattr(error, "args", ()):
        if isinstance(arg, dict) and "C" in arg:
            return arg
    return None


def classify(error: BaseException, *, host: str, port: int, database: str, user: str) -> WarehouseError:
    """Turn a redshift-connector (or socket) exception into a :class:`WarehouseError`."""
    if isinstance(error, WarehouseError):
        return error
    fields = _server_fields(error)
    if fields is not None:
        code = str(fields.get("C", ""))
        server_message = str(fields.get("M", "")).strip()
        if code in ("28P01", "28000"):
            return WarehouseError(AUTH, f"Login refused for user '{user}' (wrong user name or password)")
        if code == "3D000":
            return WarehouseError(DATABASE_MISSING, f"Database '{database}' does not exist on {host}:{port}")
        if code == "42501":
            if "schema" in server_message.lower():
                return WarehouseError(SCHEMA_PERMISSION, f"Permission denied: {server_message}")
            return WarehouseError(TABLE_PERMISSION, f"Permission denied: {server_message}")
        if code == "3F000":
            return WarehouseError(SCHEMA_MISSING, f"Schema missing: {server_message}")
        if code == "42P01":
            return WarehouseError(TABLE_MISSING, f"Table missing: {server_message}")
        if code == "54000" or ("cursor" in server_message.lower() and "result set size" in server_message.lower()):
            return WarehouseError(
                CURSOR_TOO_LARGE,
                f"The cluster refused a query's result as too large: {server_message}",
                "Lower the credential's most rows a query (cdi-tui credentials add ... --max-rows-per-query N --replace, "
                "or in the app's credential dialog): a run then reads in smaller chunks.",
            )
        if code.startswith("08") or code in ("57P01", "57P02", "57P03"):
            return WarehouseError(CONNECTION_LOST, f"The warehouse closed the connection: {server_message}")
        return WarehouseError(QUERY, f"The warehouse rejected a query ({code}): {server_message}")
    causes: list[BaseException] = [error]
    causes.extend(arg for arg in getattr(error, "args", ()) if isinstance(arg, BaseException))
    if error.__cause__ is not None:
        causes.append(error.__cause__)
    if error.__context__ is not None:
        causes.append(error.__context__)
    text = " ".join(str(arg) for arg in getattr(error, "args", ()) if isinstance(arg, str)).lower()
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            return WarehouseError(DNS, f"Cannot resolve host '{host}'")
        if isinstance(cause, (socket.timeout, TimeoutError)):
            return WarehouseError(TIMEOUT, f"No answer from {host}:{port} in time")
        if isinstance(cause, ssl.SSLError):
            return WarehouseError(TLS, f"TLS handshake with {host}:{port} failed ({cause.reason or 'verification'})")
        if isinstance(cause, ConnectionRefusedError):
            return WarehouseError(UNREACHABLE, f"Connection to {host}:{port} refused (nothing listens there)")
        if isinstance(cause, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return WarehouseError(CONNECTION_LOST, f"The connection to {host}:{port} was cut")
        if isinstance(cause, OSError) and cause.errno is not None:
            return WarehouseError(UNREACHABLE, f"Cannot reach {host}:{port} ({cause.strerror})")
    if "refuses ssl" in text or ("ssl" in text and "certificate" in text):
        return WarehouseError(TLS, f"{host}:{port} does not offer TLS, and the SSL mode requires it")
    if "time out" in text or "timed out" in text:
        return WarehouseError(TIMEOUT, f"No answer from {host}:{port} in time")
    if "communication error" in text or ("connection" in text and ("closed" in text or "lost" in text)):
        return WarehouseError(CONNECTION_LOST, f"The connection to {host}:{port} was cut")
    if "unexpected message" in text or "struct.error" in text or "eof" in text:
        return WarehouseError(CONNECTION_LOST, f"The connection to {host}:{port} broke mid-conversation")
    return WarehouseError(QUERY, f"Warehouse error: {type(error).__name__}")
