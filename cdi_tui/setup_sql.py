"""The SQL the seed asks a user to run in Redshift before creating an integration.

Step 1 creates the source table (or view) for a data type; step 2 creates the user and
grants it the minimum: ``USAGE`` on the schema and ``SELECT`` on the table. Names are
quoted as identifiers; the password is a placeholder the user fills in (cdi-tui never
writes a real password into SQL).
"""

from __future__ import annotations

from cdi_tui.enums import DataType
from cdi_tui.tables import TableName, quote_identifier

PASSWORD_PLACEHOLDER = "<choose a strong password>"

_COLUMNS = {
    "identifiers": [
        "   -- at least one of external_id, alias_name and alias_label, or braze_id (or email, phone) is required",
        "   external_id varchar,",
        "   -- if using a user alias, both alias_name and alias_label are required",
        "   alias_label varchar,",
        "   alias_name varchar,",
        "   -- braze_id can only update existing users created through the Braze SDK",
        "   braze_id varchar",
    ],
}

PAYLOAD_HINTS = {
    DataType.ATTRIBUTES: '-- PAYLOAD: a JSON object of attributes, e.g. {"first_name": "Ada", "plan": "Pro"}',
    DataType.EVENTS: '-- PAYLOAD: {"name": "opened_app", "time": "2026-01-01T00:00:00Z", "properties": {...}} (time optional)',
    DataType.PURCHASES: '-- PAYLOAD: {"product_id": "plan-pro", "currency": "USD", "price": 9.99, "quantity": 1}',
    DataType.DELETES: "-- a Delete Users table has no PAYLOAD column: each row names a user to delete",
    DataType.CATALOGS: '-- PAYLOAD: the item\'s fields, e.g. {"name": "Shirt", "price": 19.99}; the catalog and its fields '
    "are made in Braze first",
}

_CATALOG_COLUMNS = [
    "   -- the item id: letters, digits, - and _ (at most 250 characters)",
    "   id varchar(250),",
    "   -- optional: true deletes the item from the catalog",
    "   deleted boolean,",
    "   payload varchar(max)",
]


def create_table_statement(table: TableName, data_type: DataType) -> str:
    """Step 1: the CREATE TABLE template of the seed for a data type."""
    lines = [f"CREATE TABLE {_qualified(table)} (", "   updated_at timestamptz DEFAULT sysdate,"]
    if data_type == DataType.CATALOGS:
        return PAYLOAD_HINTS[data_type] + "\n" + "\n".join([*lines, *_CATALOG_COLUMNS, ");"])
    identifiers = list(_COLUMNS["identifiers"])
    if data_type != DataType.DELETES:
        identifiers[-1] += ","
        identifiers.append("   payload varchar(max)")
    lines.extend(identifiers)
    lines.append(");")
    return PAYLOAD_HINTS[data_type] + "\n" + "\n".join(lines)


def grant_statements(table: TableName, user: str) -> str:
    """Step 2: the user and the minimum grants."""
    schema = quote_identifier(table.schema)
    if table.database:
        schema = f"{quote_identifier(table.database)}.{schema}"
    who = quote_identifier(user)
    return "\n".join(
        [
            f"CREATE USER {who} PASSWORD '{PASSWORD_PLACEHOLDER}';",
            f"GRANT USAGE ON SCHEMA {schema} TO {who};",
            f"GRANT SELECT ON TABLE {_qualified(table)} TO {who};",
        ]
    )


def setup_sql(table: TableName, data_type: DataType, user: str) -> str:
    """Both steps, ready to copy."""
    optional = []
    if table.database:
        optional = [
            "-- Optional: a database and schema of their own",
            f"CREATE DATABASE {quote_identifier(table.database)};",
            f"CREATE SCHEMA {quote_identifier(table.database)}.{quote_identifier(table.schema)};",
            "",
        ]
    else:
        optional = ["-- Optional: a schema of its own", f"CREATE SCHEMA {quote_identifier(table.schema)};", ""]
    return "\n".join(
        [
            "-- Step 1: the table (or a view with the same columns) to sync",
            *optional,
            create_table_statement(table, data_type),
            "",
            "-- Step 2: a user for Braze with the minimum permissions",
            grant_statements(table, user),
            "",
        ]
    )


def _qualified(table: TableName) -> str:
    parts = [table.database] if table.database else []
    parts += [table.schema, table.table]
    return ".".join(quote_identifier(part) for part in parts)
