"""Reading a Cloud Data Ingestion table from Redshift with redshift-connector.

Only reads: every statement sent is a SELECT, or the transaction and cursor statements a
streaming SELECT needs (``BEGIN READ ONLY``, ``DECLARE ... CURSOR FOR SELECT``,
``FETCH FORWARD``, ``CLOSE``, ``COMMIT``/``ROLLBACK``). Schema, table and column names
reach SQL only as quoted identifiers; values only as bound parameters.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cdi_tui.enums import DataType
from cdi_tui.fields import is_loopback_host
from cdi_tui.tables import TableName, quote_identifier
from cdi_tui.warehouse.errors import COLUMNS, CONNECTION_LOST, WarehouseError, classify
from cdi_tui.warehouse.iam import IamSettings, fetch_temporary_login
from cdi_tui.warehouse.timestamps import (
    CEILING,
    FLOOR,
    TIMESTAMP_WITHOUT_TIME_ZONE_OID,
    OutOfRangeTime,
    out_of_range_params,
    out_of_range_sql,
)
from cdi_tui.warehouse.tunnel import SshSettings, SshTunnel

IDENTIFIER_COLUMNS = ("external_id", "alias_name", "alias_label", "braze_id", "email", "phone")
CATALOG_COLUMNS = ("id", "deleted")  # a catalogs table: the item id, and (optional) whether to delete the item
DEFAULT_FETCH_ROWS = 10_000

_ALLOWED_STATEMENT = re.compile(
    r"^\s*(SELECT\s|BEGIN READ ONLY$|DECLARE \S+ NO SCROLL CURSOR FOR SELECT\s|FETCH FORWARD \d+ FROM \S+$|"
    r"CLOSE \S+$|COMMIT$|ROLLBACK$)",
    re.IGNORECASE | re.DOTALL,
)


def as_utc(moment: datetime | None) -> datetime | None:
    """A ``timestamp`` column (no time zone) holds UTC, as Braze recommends; make it aware."""
    if moment is None or not isinstance(moment, datetime):
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _with_out_of_range_times(rows: Any, cursor: Any) -> list[list[Any]]:
    """Rows selected with :func:`out_of_range_sql` last: that column dropped, and where it is
    set, UPDATED_AT (the first column) replaced by an :class:`OutOfRangeTime` of that text."""
    description: Any = cursor.description or ()
    aware = len(description) < 1 or description[0][1] != TIMESTAMP_WITHOUT_TIME_ZONE_OID
    result: list[list[Any]] = []
    for row in rows:
        values = list(row)
        text = values.pop()
        if text is not None:
            values[0] = OutOfRangeTime.of(str(text), aware)
        result.append(values)
    return result


def is_read_only_statement(sql: str) -> bool:
    """True for the only statement shapes this module ever sends."""
    return bool(_ALLOWED_STATEMENT.match(sql))


@dataclass(frozen=True)
class ConnectionSettings:
    """What a connection needs. The password is kept out of ``repr``.

    With ``ssh`` the connection goes through an SSH tunnel (opened by
    :meth:`RedshiftSource.connect`, closed by :meth:`RedshiftSource.close`); with ``iam`` the
    user and password are fetched from AWS at each connection instead.
    """

    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)
    sslmode: str = "verify-full"
    connect_timeout: float = 15.0
    query_timeout: float = 900.0
    ssh: SshSettings | None = None
    iam: IamSettings | None = None

    def driver_kwargs(self) -> dict[str, Any]:
        """Arguments for ``redshift_connector.connect``.

        redshift-connector always verifies the certificate chain when TLS is on, so
        ``require`` is served as ``verify-ca`` (encrypted, chain checked, name not checked).
        """
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "password": self.password,
            "timeout": max(1, round(self.connect_timeout)),
            "application_name": "cdi-tui",
        }
        if self.sslmode == "disable":
            kwargs["ssl"] = False
        else:
            kwargs["ssl"] = True
            kwargs["sslmode"] = "verify-full" if self.sslmode == "verify-full" else "verify-ca"
        return kwargs

    def warnings(self) -> list[str]:
        if self.sslmode == "disable" and not is_loopback_host(self.host):
            hop = f" (from the bastion {self.ssh.host} on)" if self.ssh is not None else ""
            return [f"TLS is disabled for {self.host}: the password and data cross the network unencrypted{hop}"]
        if self.sslmode in ("require", "verify-ca"):
            return [
                f"sslmode {self.sslmode} does not check the host name: any server with a certificate from a trusted CA "
                f"could stand in for {self.host}; use verify-full"
            ]
        return []


@dataclass(frozen=True)
class TableShape:
    """Which CDI columns a table has, by canonical (lower-case) name -> actual name."""

    actual: dict[str, str]

    @property
    def has_payload(self) -> bool:
        return "payload" in self.actual

    @property
    def identifier_columns(self) -> tuple[str, ...]:
        """The columns that say whom (users) or what (a catalog's items: ID) a row is about."""
        return tuple(name for name in (*IDENTIFIER_COLUMNS, "id") if name in self.actual)

    @property
    def select_columns(self) -> tuple[str, ...]:
        """Canonical names of the columns a sync reads, in the order they are selected (PAYLOAD last)."""
        names = ["updated_at", *self.identifier_columns]
        if "deleted" in self.actual:
            names.append("deleted")
        if self.has_payload:
            names.append("payload")
        return tuple(names)

    def select_list(self) -> str:
        return ", ".join(quote_identifier(self.actual[name]) for name in self.select_columns)

    def total_order(self) -> str:
        """An ORDER BY of every column, UPDATED_AT first: a total order up to rows alike in all
        (PAYLOAD compared as text: a JSON column has no order of its own)."""
        return ", ".join(
            f"CAST({quote_identifier(self.actual[name])} AS VARCHAR)"
            if name == "payload"
            else quote_identifier(self.actual[name])
            for name in self.select_columns
        )


def check_table_columns(column_names: list[str], data_type: DataType) -> TableShape:
    """Check a table's columns against the CDI contract for a data type.

    Args:
        column_names: the table's column names as the warehouse reports them.
        data_type: attributes, events, purchases or deletes.

    Returns:
        The table's shape.

    Raises:
        WarehouseError: kind ``columns``, saying what is missing or not allowed.
    """
    actual: dict[str, str] = {}
    for name in column_names:
        actual.setdefault(name.lower(), name)
    problems: list[str] = []
    if "updated_at" not in actual:
        problems.append("UPDATED_AT is missing")
    if data_type == DataType.CATALOGS:
        problems += [f"{name.upper()} is missing" for name in ("id", "payload") if name not in actual]
        if problems:
            shape = "ID, PAYLOAD, UPDATED_AT and optionally DELETED"
            raise WarehouseError(COLUMNS, f"The table does not fit a catalog sync ({shape}): " + "; ".join(problems))
        return TableShape({name: actual[name] for name in ("updated_at", "payload", *CATALOG_COLUMNS) if name in actual})
    if data_type == DataType.DELETES:
        if "payload" in actual:
            problems.append("a Delete Users table must not have a PAYLOAD column (a guard against deleting users by accident)")
    elif "payload" not in actual:
        problems.append("PAYLOAD is missing")
    has_alias_name, has_alias_label = "alias_name" in actual, "alias_label" in actual
    if has_alias_name != has_alias_label:
        problems.append("ALIAS_NAME and ALIAS_LABEL go together; the table has only one of them")
    if not any(name in actual for name in ("external_id", "braze_id", "email", "phone")) and not (
        has_alias_name and has_alias_label
    ):
        problems.append("no identifier column (EXTERNAL_ID, ALIAS_NAME + ALIAS_LABEL, BRAZE_ID, EMAIL or PHONE)")
    if problems:
        raise WarehouseError(COLUMNS, "The table does not fit the data type: " + "; ".join(problems))
    kept = {name: actual[name] for name in ("updated_at", "payload", *IDENTIFIER_COLUMNS) if name in actual}
    return TableShape(kept)


@dataclass(frozen=True)
class Preview:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class RedshiftSource:
    """One connection to the warehouse, for one source table.

    Use as a context manager, or call :meth:`connect` and :meth:`close`.
    """

    def __init__(self, settings: ConnectionSettings, table: TableName | None = None) -> None:
        self.settings = settings
        self.table = table
        self.statements: list[str] = []  # every statement sent, for audit and tests
        self._conn: Any = None
        self._tunnel: SshTunnel | None = None
        self._lock = threading.Lock()

    # connection ------------------------------------------------------------------
    def connect(self) -> RedshiftSource:
        """Open the connection (with the connect timeout): the SSH tunnel first when the
        settings have one, then temporary credentials from AWS when they sign in with IAM.

        Raises:
            WarehouseError: classified (the tunnel's hops: ssh_unreachable, ssh_auth, ssh_key,
                ssh_host_key_unknown, ssh_host_key_changed, ssh_forward_refused; IAM:
                iam_no_credentials, iam_denied, iam_not_found, iam_unreachable; then dns,
                unreachable, timeout, auth, database_missing, tls).
        """
        import redshift_connector

        settings = self.settings
        kwargs = settings.driver_kwargs()
        if settings.ssh is not None:
            self._tunnel = SshTunnel(settings.ssh, settings.host, settings.port)
            kwargs["unix_sock"] = self._tunnel.open()
        try:
            if settings.iam is not None:
                login = fetch_temporary_login(settings.iam, settings.database)
                kwargs["user"], kwargs["password"] = login.user, login.password
            try:
                conn = redshift_connector.connect(**kwargs)
            except Exception as error:
                raise self._classify(error) from None
        except BaseException:
            self._close_tunnel()
            raise
        conn.autocommit = True
        sock = getattr(conn, "_usock", None)
        if sock is not None:
            sock.settimeout(self.settings.query_timeout)
        self._conn = conn
        return self

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        self._close_tunnel()

    def _close_tunnel(self) -> None:
        tunnel, self._tunnel = self._tunnel, None
        if tunnel is not None:
            tunnel.close()

    def abort(self) -> None:
        """Cut the connection from another thread (used to cancel a long read)."""
        conn = self._conn
        sock = getattr(conn, "_usock", None) if conn is not None else None
        if sock is not None:
            import socket

            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> RedshiftSource:
        return self.connect()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # queries ---------------------------------------------------------------------
    def _classify(self, error: BaseException) -> WarehouseError:
        settings = self.settings
        tunnel_failure = self._tunnel.failure() if self._tunnel is not None else None
        if tunnel_failure is not None and not isinstance(error, WarehouseError):
            return tunnel_failure
        user = settings.user if settings.iam is None else f"{settings.user or 'IAM'} (temporary AWS credentials)"
        classified = classify(error, host=settings.host, port=settings.port, database=settings.database, user=user)
        if classified.kind == CONNECTION_LOST and self._tunnel is not None:
            return WarehouseError(
                CONNECTION_LOST, f"{classified.message} (through the SSH tunnel via {self._tunnel.settings.where})"
            )
        return classified

    def _execute(self, cursor: Any, sql: str, params: tuple[Any, ...] | None = None) -> None:
        if not is_read_only_statement(sql):  # a programming error, never user input
            raise AssertionError(f"refusing to send a statement that is not read-only: {sql[:60]}")
        self.statements.append(sql)
        try:
            cursor.execute(sql, params)
        except Exception as error:
            raise self._classify(error) from None

    def _cursor(self) -> Any:
        if self._conn is None:
            raise WarehouseError("connection_lost", "Not connected to the warehouse")
        return self._conn.cursor()

    def list_tables(self, limit: int = 2000) -> list[tuple[str, str]]:
        """(schema, table) pairs of the tables and views this user can see, system schemas left out."""
        cursor = self._cursor()
        self._execute(
            cursor,
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
            "AND table_schema NOT LIKE 'pg\\_%' "
            f"ORDER BY table_schema, table_name LIMIT {int(limit)}",
        )
        return [(str(schema), str(name)) for schema, name in cursor.fetchall()]

    @property
    def _table(self) -> TableName:
        if self.table is None:
            raise WarehouseError("query", "No source table was given")
        return self.table

    def column_names(self) -> list[str]:
        """The table's columns (a ``LIMIT 0`` SELECT: needs the same grants a sync needs)."""
        cursor = self._cursor()
        self._execute(cursor, f"SELECT * FROM {self._table.sql} LIMIT 0")
        return [str(column[0]) for column in cursor.description or ()]

    def check_table(self, data_type: DataType) -> TableShape:
        return check_table_columns(self.column_names(), data_type)

    def preview(self, shape: TableShape, limit: int = 100) -> Preview:
        """The ``limit`` newest rows (by UPDATED_AT), newest first."""
        cursor = self._cursor()
        updated_at = quote_identifier(shape.actual["updated_at"])
        self._execute(
            cursor,
            f"SELECT {shape.select_list()}, {out_of_range_sql(updated_at)} FROM {self._table.sql} "
            f"ORDER BY {updated_at} DESC NULLS LAST LIMIT {int(limit)}",
            out_of_range_params(),
        )
        rows = [tuple(row) for row in _with_out_of_range_times(cursor.fetchall(), cursor)]
        return Preview(shape.select_columns, rows)

    def _range_clause(
        self, shape: TableShape, lower: datetime | None, inclusive: bool, upper: datetime | None
    ) -> tuple[str, tuple[Any, ...]]:
        updated_at = quote_identifier(shape.actual["updated_at"])
        conditions: list[str] = []
        params: list[Any] = []
        if lower is not None:
            conditions.append(f"{updated_at} {'>=' if inclusive else '>'} %s")
            params.append(lower)
        if upper is not None:
            conditions.append(f"{updated_at} <= %s")
            params.append(upper)
        else:
            conditions.append(f"{updated_at} IS NOT NULL")
        return " AND ".join(conditions), tuple(params)

    def count_rows(
        self, shape: TableShape, lower: datetime | None = None, inclusive: bool = False, upper: datetime | None = None
    ) -> int:
        """Rows with UPDATED_AT after (or at, when ``inclusive``) ``lower`` and not after ``upper``."""
        where, params = self._range_clause(shape, lower, inclusive, upper)
        cursor = self._cursor()
        self._execute(cursor, f"SELECT COUNT(*) FROM {self._table.sql} WHERE {where}", params or None)
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    def count_at(self, shape: TableShape, moment: datetime) -> int:
        """Rows whose UPDATED_AT equals ``moment`` (for the boundary rule)."""
        updated_at = quote_identifier(shape.actual["updated_at"])
        cursor = self._cursor()
        self._execute(cursor, f"SELECT COUNT(*) FROM {self._table.sql} WHERE {updated_at} = %s", (moment,))
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    def null_updated_at_rows(self, shape: TableShape, limit: int = 1000) -> list[list[Any]]:
        """Up to ``limit`` rows whose UPDATED_AT is NULL (they can never be synced)."""
        updated_at = quote_identifier(shape.actual["updated_at"])
        cursor = self._cursor()
        self._execute(
            cursor, f"SELECT {shape.select_list()} FROM {self._table.sql} WHERE {updated_at} IS NULL LIMIT {int(limit)}"
        )
        return [list(row) for row in cursor.fetchall()]

    def out_of_range_rows(self, shape: TableShape, limit: int = 1000) -> list[list[Any]]:
        """Up to ``limit`` rows whose UPDATED_AT is after year 9999 (``infinity``): never due, so
        never read by a run; each with its UPDATED_AT as an :class:`OutOfRangeTime`, so the
        transform gives the row error to report (once, like rows with a NULL UPDATED_AT)."""
        updated_at = quote_identifier(shape.actual["updated_at"])
        cursor = self._cursor()
        self._execute(
            cursor,
            f"SELECT {shape.select_list()}, {out_of_range_sql(updated_at)} FROM {self._table.sql} "
            f"WHERE {updated_at} > %s LIMIT {int(limit)}",
            (*out_of_range_params(), CEILING),
        )
        return _with_out_of_range_times(cursor.fetchall(), cursor)

    def newest_updated_at(self, shape: TableShape, not_after: datetime | None = None) -> datetime | None:
        """The newest UPDATED_AT not later than ``not_after`` (a run's upper bound)."""
        updated_at = quote_identifier(shape.actual["updated_at"])
        cursor = self._cursor()
        if not_after is None:
            self._execute(cursor, f"SELECT MAX({updated_at}) FROM {self._table.sql}")
        else:
            self._execute(cursor, f"SELECT MAX({updated_at}) FROM {self._table.sql} WHERE {updated_at} <= %s", (not_after,))
        row = cursor.fetchone()
        return as_utc(row[0]) if row else None

    def stream_rows(
        self,
        shape: TableShape,
        lower: datetime | None = None,
        inclusive: bool = False,
        upper: datetime | None = None,
        fetch_rows: int = DEFAULT_FETCH_ROWS,
        cancelled: threading.Event | None = None,
        max_rows_per_query: int | None = None,
    ) -> Generator[list[list[Any]], None, None]:
        """Yield the pending rows in UPDATED_AT order, ``fetch_rows`` at a time.

        Reads through server-side cursors in one read-only transaction, so memory stays flat
        whatever the table's size. Each row is a list in :attr:`TableShape.select_columns`
        order. Stops early (and closes the cursor) when ``cancelled`` is set.

        With ``max_rows_per_query`` no query returns more rows than that (a Redshift cluster
        builds a cursor's whole result on its leader node and caps its size): the range is read
        in chunks cut at an UPDATED_AT, and the rows of one UPDATED_AT too many for one query
        in pages of a total order of their columns (:meth:`_chunks`); an empty block marks the
        end of each chunk but the last.

        Without a lower bound (a first run, a full resync), rows whose UPDATED_AT is before
        year 1 (``-infinity``, BC times) come first, as they sort, with their UPDATED_AT
        replaced by an :class:`OutOfRangeTime` (the transform makes each a row error). With a
        lower bound they are behind it. Rows after year 9999 (``infinity``) are after any
        upper bound a run uses (it is never later than now).

        Raises:
            WarehouseError: when a query fails or the connection is cut.
        """
        updated_at = quote_identifier(shape.actual["updated_at"])
        cursor = self._cursor()
        self._execute(cursor, "BEGIN READ ONLY")
        finished = False
        try:
            if lower is None:
                early = (
                    f"SELECT {shape.select_list()}, {out_of_range_sql(updated_at)} FROM {self._table.sql} WHERE {updated_at} < %s"
                )
                order = shape.total_order() if max_rows_per_query is not None else updated_at
                for block in self._paged_blocks(
                    cursor, "cdi_tui_early_rows", early, (*out_of_range_params(), FLOOR), order, fetch_rows, cancelled,
                    max_rows_per_query,
                ):  # fmt: skip
                    yield _with_out_of_range_times(block, cursor)
            if max_rows_per_query is None:
                where, params = self._main_range(shape, lower, inclusive, upper)
                main = f"SELECT {shape.select_list()} FROM {self._table.sql} WHERE {where} ORDER BY {updated_at}"
                yield from self._cursor_blocks(cursor, "cdi_tui_rows", main, params, fetch_rows, cancelled)
            else:
                yield from self._chunks(cursor, shape, lower, inclusive, upper, fetch_rows, cancelled, max_rows_per_query)
            self._execute(cursor, "COMMIT")
            finished = True
        finally:
            if not finished and self._conn is not None:
                self.statements.append("ROLLBACK")
                with contextlib.suppress(Exception):
                    self._conn.cursor().execute("ROLLBACK")

    def _main_range(
        self, shape: TableShape, lower: datetime | None, inclusive: bool, upper: datetime | None
    ) -> tuple[str, tuple[Any, ...]]:
        """The WHERE of the rows a run reads (without a lower bound: the times Python can hold;
        those before come from the first cursor)."""
        where, params = self._range_clause(shape, lower, inclusive, upper)
        if lower is None:
            where += f" AND {quote_identifier(shape.actual['updated_at'])} >= %s"
            params = (*params, FLOOR)
        return where, params

    def _chunks(
        self,
        cursor: Any,
        shape: TableShape,
        lower: datetime | None,
        inclusive: bool,
        upper: datetime | None,
        fetch_rows: int,
        cancelled: threading.Event | None,
        max_rows: int,
    ) -> Generator[list[list[Any]], None, None]:
        """The range in UPDATED_AT order, no query returning more than ``max_rows`` rows.

        From where it stands, a chunk ends before the UPDATED_AT of the ``max_rows``-th row
        (fewer rows than that come before it); the next starts at that UPDATED_AT. When every
        one of those rows carries that same UPDATED_AT, its rows are read in pages ordered by
        all their columns (rows alike in every column are interchangeable), and the next chunk
        starts after it. No row is read twice or left out, however many share a time at an
        edge, and the rows reach the caller in UPDATED_AT order as before.
        """
        updated_at = quote_identifier(shape.actual["updated_at"])
        table = self._table.sql
        while cancelled is None or not cancelled.is_set():
            where, params = self._main_range(shape, lower, inclusive, upper)
            edge_sql = f"SELECT {updated_at} FROM {table} WHERE {where} ORDER BY {updated_at} LIMIT 1 OFFSET {int(max_rows) - 1}"
            self._execute(cursor, edge_sql, params)
            found = cursor.fetchone()
            if found is None:  # what is left fits in one query
                select = f"SELECT {shape.select_list()} FROM {table} WHERE {where} ORDER BY {updated_at}"
                yield from self._cursor_blocks(cursor, "cdi_tui_rows", select, params, fetch_rows, cancelled)
                return
            edge = found[0]
            before = f"SELECT {shape.select_list()} FROM {table} WHERE {where} AND {updated_at} < %s ORDER BY {updated_at}"
            read = 0
            for block in self._cursor_blocks(cursor, "cdi_tui_rows", before, (*params, edge), fetch_rows, cancelled):
                read += len(block)
                yield block
            if read:
                lower, inclusive = as_utc(edge), True
                yield []  # a chunk ends: the caller may settle what it read before the next query
                continue
            # the next max_rows rows all carry this one UPDATED_AT: its rows, a page at a time
            at_edge = f"SELECT {shape.select_list()} FROM {table} WHERE {updated_at} = %s"
            yield from self._paged_blocks(
                cursor, "cdi_tui_page", at_edge, (edge,), shape.total_order(), fetch_rows, cancelled, max_rows
            )
            lower, inclusive = as_utc(edge), False
            yield []

    def _paged_blocks(
        self,
        cursor: Any,
        name: str,
        select: str,
        params: tuple[Any, ...],
        order: str,
        fetch_rows: int,
        cancelled: threading.Event | None,
        max_rows: int | None,
    ) -> Generator[list[list[Any]], None, None]:
        """The rows of ``select`` by ``order``, in pages of at most ``max_rows`` (one query without
        a limit; paging needs a total order: :meth:`TableShape.total_order`). ``name``: the
        cursor's (a cursor name is fetched with the same columns every time: the driver caches
        its FETCH)."""
        if max_rows is None:
            yield from self._cursor_blocks(cursor, name, f"{select} ORDER BY {order}", params, fetch_rows, cancelled)
            return
        offset = 0
        while cancelled is None or not cancelled.is_set():
            page = f"{select} ORDER BY {order} LIMIT {int(max_rows)} OFFSET {int(offset)}"
            read = 0
            for block in self._cursor_blocks(cursor, name, page, params, fetch_rows, cancelled):
                read += len(block)
                yield block
            if read < max_rows:
                return
            offset += max_rows

    def _cursor_blocks(
        self,
        cursor: Any,
        name: str,
        select: str,
        params: tuple[Any, ...],
        fetch_rows: int,
        cancelled: threading.Event | None,
    ) -> Generator[list[list[Any]], None, None]:
        """The rows of ``select`` through a server-side cursor ``name``, ``fetch_rows`` at a time."""
        self._execute(cursor, f"DECLARE {name} NO SCROLL CURSOR FOR {select}", params or None)
        fetch = f"FETCH FORWARD {int(fetch_rows)} FROM {name}"
        while cancelled is None or not cancelled.is_set():
            self._execute(cursor, fetch)
            batch = cursor.fetchall()
            if not batch:
                break
            yield batch if isinstance(batch, list) else list(batch)
            if len(batch) < fetch_rows:
                break
        self._execute(cursor, f"CLOSE {name}")
