from __future__ import annotations

from cdi_tui.setup_sql import PASSWORD_PLACEHOLDER, setup_sql
from cdi_tui.tables import parse_table_name


def test_setup_sql_follows_the_seed_for_each_data_type() -> None:
    table = parse_table_name("BRAZE_CLOUD_PRODUCTION.INGESTION.USERS_ATTRIBUTES_SYNC")
    for data_type in ("attributes", "events", "purchases"):
        sql = setup_sql(table, data_type, "braze_user")
        assert 'CREATE TABLE "braze_cloud_production"."ingestion"."users_attributes_sync" (' in sql
        assert "updated_at timestamptz" in sql and "payload varchar(max)" in sql
        assert 'GRANT USAGE ON SCHEMA "braze_cloud_production"."ingestion" TO "braze_user";' in sql
        assert 'GRANT SELECT ON TABLE "braze_cloud_production"."ingestion"."users_attributes_sync" TO "braze_user";' in sql
        assert PASSWORD_PLACEHOLDER in sql
    deletes = setup_sql(table, "deletes", "braze_user")
    assert "payload" not in deletes.lower().split("create table")[1]


def test_names_in_setup_sql_are_quoted_identifiers() -> None:
    sql = setup_sql(parse_table_name('s."we""ird; DROP"'), "events", 'u"; --')
    assert '"s"."we""ird; DROP"' in sql
    assert 'TO "u""; --";' in sql
