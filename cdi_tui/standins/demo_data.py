"""Demo tables for each data type, filled server-side with ``generate_series``.

Each table follows the seed's CREATE TABLE template. A handful of rows in each are wrong on
purpose (no identifier, two identifiers, payload that is not JSON, and so on) so that the
preview and the sync have row errors to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cdi_tui.enums import DataType
from cdi_tui.standins.postgres import RedshiftStandIn, quote_ident, quote_literal

DEMO_DATABASE = "dev"
DEMO_SCHEMA = "ingestion"
DEMO_USER = "braze_user"


@dataclass(frozen=True)
class DemoTable:
    data_type: DataType
    table: str
    valid_rows: int
    invalid_rows: int
    free: bool = False  # no demo integration uses it: kept for the user's own

    @property
    def qualified(self) -> str:
        return f"{DEMO_SCHEMA}.{self.table}"


DEMO_TABLES = (
    DemoTable(DataType.ATTRIBUTES, "users_attributes_sync", 3000, 6),
    DemoTable(DataType.EVENTS, "users_events_sync", 2000, 5),
    DemoTable(DataType.PURCHASES, "users_purchases_sync", 1000, 5),
    DemoTable(DataType.DELETES, "users_deletes_sync", 200, 3),
    DemoTable(DataType.CATALOGS, "products_catalog_sync", 500, 4),
    DemoTable(DataType.EVENTS, "app_sessions_sync", 1500, 5, free=True),
)
# The demo catalogs integration writes to this catalog, made in the Braze stand-in with these fields
DEMO_CATALOG = "products"
DEMO_CATALOG_FIELDS = {"name": "string", "category": "string", "price": "number", "in_stock": "boolean"}
# Filled in the background after the app opens (large enough to watch a sync's progress)
BULK_TABLE = DemoTable(DataType.ATTRIBUTES, "users_attributes_bulk", 300_000, 6)


def _ts(base: datetime) -> str:
    return quote_literal(base.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")) + "::timestamptz"


def create_table_sql(schema: str, table: str, data_type: DataType, *, with_contact_columns: bool = False) -> str:
    """The seed's CREATE TABLE template for a data type (deletes have no PAYLOAD; a catalog's
    table has ID, DELETED and PAYLOAD)."""
    if data_type == DataType.CATALOGS:
        columns = ["updated_at timestamptz DEFAULT now()", "id varchar", "deleted boolean", "payload varchar(65535)"]
        return f"CREATE TABLE {quote_ident(schema)}.{quote_ident(table)} (\n   " + ",\n   ".join(columns) + "\n)"
    columns = [
        "updated_at timestamptz DEFAULT now()",
        "external_id varchar",
        "alias_label varchar",
        "alias_name varchar",
        "braze_id varchar",
    ]
    if with_contact_columns:
        columns += ["email varchar", "phone varchar"]
    if data_type != DataType.DELETES:
        columns.append("payload varchar(65535)")
    return f"CREATE TABLE {quote_ident(schema)}.{quote_ident(table)} (\n   " + ",\n   ".join(columns) + "\n)"


def _row(table: str, base: str, seconds_back: int, **values: str | None) -> str:
    """One INSERT of a hand-made row, ``seconds_back`` before ``base``."""
    names = ", ".join(["updated_at", *values])
    literals = [f"{base} - interval '{seconds_back} seconds'"]
    literals += ["NULL" if value is None else quote_literal(value) for value in values.values()]
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join(literals)})"


def _attribute_rows(table: str, count: int, base: str) -> list[str]:
    return [
        f"""INSERT INTO {table} (updated_at, external_id, payload)
        SELECT {base} - (g || ' minutes')::interval, 'user-' || g,
               '{{"first_name": "User ' || g || '", "plan": "'
               || (ARRAY['Free', 'Pro', 'Team', 'Enterprise'])[1 + g % 4] || '", '
               || '"lifetime_value": ' || (g * 7 % 1000) || '.5, "newsletter": '
               || CASE WHEN g % 3 = 0 THEN 'true' ELSE 'false' END
               || ', "last_seen_city": ' || CASE WHEN g % 10 = 0 THEN 'null' ELSE '"Berlin"' END || '}}'
        FROM generate_series(1, {count}) g""",
        _row(table, base, 1, alias_name="lead-42", alias_label="crm_lead_id", payload='{"source": "webinar"}'),
        _row(table, base, 2, email="ada@example.com", payload='{"vip": true}'),
        # invalid on purpose
        _row(table, base, 3, payload='{"plan": "Pro"}'),
        _row(table, base, 4, external_id="user-x", braze_id="b-1", payload='{"a": 1}'),
        _row(table, base, 5, external_id="user-bad-json", payload="{plan: Pro"),
        _row(table, base, 6, external_id="user-array", payload="[1, 2]"),
        _row(table, base, 7, alias_name="half-alias", payload='{"a": 1}'),
        _row(table, base, 8, external_id="user-null", payload=None),
    ]


def _event_rows(table: str, count: int, base: str) -> list[str]:
    return [
        f"""INSERT INTO {table} (updated_at, external_id, payload)
        SELECT {base} - (g || ' minutes')::interval, 'user-' || (1 + g % 500),
               '{{"name": "' || CASE WHEN g % 2 = 0 THEN 'viewed_product' ELSE 'added_to_cart' END
               || '", "properties": {{"sku": "SKU-' || g || '", "count": ' || (g % 5) || '}}}}'
        FROM generate_series(1, {count}) g""",
        _row(table, base, 1, external_id="user-1", payload='{"properties": {"a": 1}}'),
        _row(table, base, 2, external_id="user-2", payload="not json"),
        _row(table, base, 3, payload='{"name": "orphan"}'),
        _row(table, base, 4, external_id="user-3", payload='{"name": "x", "external_id": "sneaky"}'),
        _row(table, base, 5, external_id="user-4", payload='"just a string"'),
    ]


def _purchase_rows(table: str, count: int, base: str) -> list[str]:
    return [
        f"""INSERT INTO {table} (updated_at, external_id, payload)
        SELECT {base} - (g || ' minutes')::interval, 'user-' || (1 + g % 300),
               '{{"product_id": "plan-' || (1 + g % 4) || '", "currency": "'
               || CASE WHEN g % 3 = 0 THEN 'EUR' ELSE 'USD' END
               || '", "price": ' || (5 + g % 95) || '.99, "quantity": ' || (1 + g % 3) || '}}'
        FROM generate_series(1, {count}) g""",
        _row(table, base, 1, external_id="user-1", payload='{"product_id": "p", "currency": "usd", "price": 1}'),
        _row(table, base, 2, external_id="user-2", payload='{"product_id": "p", "currency": "XYZ", "price": 1}'),
        _row(table, base, 3, external_id="user-3", payload='{"currency": "USD", "price": 1}'),
        _row(
            table,
            base,
            4,
            external_id="user-4",
            payload='{"product_id": "p", "currency": "USD", "price": 1, "quantity": 101}',
        ),
        _row(table, base, 5, external_id="user-5", payload='{"product_id": "p", "currency": "USD"}'),
    ]


def _delete_rows(table: str, count: int, base: str) -> list[str]:
    return [
        f"""INSERT INTO {table} (updated_at, external_id)
        SELECT {base} - (g || ' minutes')::interval, 'churned-' || g FROM generate_series(1, {count}) g""",
        _row(table, base, 1),
        _row(table, base, 2, external_id="u", braze_id="b"),
        _row(table, base, 3, alias_label="crm"),
    ]


def _catalog_rows(table: str, count: int, base: str) -> list[str]:
    """Items sku-1..sku-N; the newest rows delete a few and hold mistakes (the oldest, a field the
    catalog does not have: Braze refuses it when the sync sends it, the preview never shows it)."""
    return [
        f"""INSERT INTO {table} (updated_at, id, deleted, payload)
        SELECT {base} - (g || ' minutes')::interval, 'sku-' || g, false,
               '{{"name": "Product ' || g || '", "category": "'
               || (ARRAY['shirts', 'shoes', 'hats', 'bags'])[1 + g % 4] || '", "price": ' || (5 + g % 95) || '.99, '
               || '"in_stock": ' || CASE WHEN g % 7 = 0 THEN 'false' ELSE 'true' END || '}}'
        FROM generate_series(1, {count}) g""",
        f"""INSERT INTO {table} (updated_at, id, deleted)
        SELECT {base} - (g || ' seconds')::interval, 'sku-' || (g * 100), true FROM generate_series(1, 3) g""",
        # invalid on purpose
        _row(table, base, 4, id="sku 501", payload='{"name": "A space in its id"}'),
        _row(table, base, 5, id=None, payload='{"name": "No id"}'),
        _row(table, base, 6, id="sku-502", payload="{not json"),
        _row(table, base, (count + 60) * 60, id="sku-503", payload='{"name": "Colours", "colour": "red"}'),
    ]


_FILLERS = {
    DataType.ATTRIBUTES: _attribute_rows,
    DataType.EVENTS: _event_rows,
    DataType.PURCHASES: _purchase_rows,
    DataType.DELETES: _delete_rows,
    DataType.CATALOGS: _catalog_rows,
}


def create_demo_tables(
    standin: RedshiftStandIn,
    password: str,
    base_time: datetime | None = None,
    tables: tuple[DemoTable, ...] = DEMO_TABLES,
) -> None:
    """Create the demo database, schema, user and one filled table per data type.

    Args:
        standin: a started Redshift stand-in.
        password: the demo user's password (md5-hashed by the server).
        base_time: the newest UPDATED_AT (default now); older rows step back a minute each.
    """
    base = _ts(base_time or datetime.now(UTC))
    standin.create_database(DEMO_DATABASE)
    standin.create_user(DEMO_USER, password)
    statements = [f"CREATE SCHEMA {quote_ident(DEMO_SCHEMA)}"]
    for table in tables:
        statements.append(create_table_sql(DEMO_SCHEMA, table.table, table.data_type, with_contact_columns=True))
        statements.extend(_FILLERS[table.data_type](table.qualified, table.valid_rows, base))
    standin.admin_execute(statements, DEMO_DATABASE)
    for table in tables:
        standin.grant_read(DEMO_USER, DEMO_SCHEMA, table.table, DEMO_DATABASE)


def create_bulk_table(standin: RedshiftStandIn, base_time: datetime | None = None, table: DemoTable = BULK_TABLE) -> None:
    """Create and fill the large demo table (after :func:`create_demo_tables`)."""
    base = _ts(base_time or datetime.now(UTC))
    statements = [create_table_sql(DEMO_SCHEMA, table.table, table.data_type, with_contact_columns=True)]
    statements.extend(_FILLERS[table.data_type](table.qualified, table.valid_rows, base))
    standin.admin_execute(statements, DEMO_DATABASE)
    standin.grant_read(DEMO_USER, DEMO_SCHEMA, table.table, DEMO_DATABASE)
