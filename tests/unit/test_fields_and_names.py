from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdi_tui.fields import (
    FieldError,
    validate_emails,
    validate_endpoint,
    validate_frequency,
    validate_host,
    validate_port,
    validate_time_zone,
)
from cdi_tui.schedule import ScheduleError, parse_frequency
from cdi_tui.tables import TableName, TableNameError, parse_table_name, quote_identifier

# control characters (and the Unicode line separators and bidirectional overrides) are refused in names
UNSAFE_CHARACTERS = "\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
identifier_text = st.text(
    alphabet=st.characters(blacklist_characters=UNSAFE_CHARACTERS, blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
)


@given(identifier_text, identifier_text, identifier_text)
def test_any_quoted_name_parses_back_to_exactly_itself(database: str, schema: str, table: str) -> None:
    text = ".".join(quote_identifier(part) for part in (database, schema, table))
    assert parse_table_name(text) == TableName(schema, table, database)


@given(identifier_text, st.sampled_from(["\x1b", "\n", "\r", "\x00", "\x7f", "\x9b", "\u202e", "\u2028"]), st.booleans())
def test_a_table_name_with_a_control_character_is_refused_in_one_line(name: str, unsafe: str, quoted: bool) -> None:
    part = name[: len(name) // 2] + unsafe + name[len(name) // 2 :]
    text = "schema." + ('"' + part.replace('"', '""') + '"' if quoted else part)
    with pytest.raises(TableNameError) as caught:
        parse_table_name(text)
    message = str(caught.value)
    if unsafe in text.strip():  # a control character only among the spaces at an end is stripped with them
        assert "control characters" in message or "NUL" in message
    assert not any(char in message for char in "\x1b\n\r\x00\x7f\x9b\u202e\u2028")


@given(identifier_text)
def test_a_quoted_identifier_is_one_sql_token(name: str) -> None:
    quoted = quote_identifier(name)
    inner = quoted[1:-1]
    # every quote inside is doubled, so the token cannot end early
    assert inner.replace('""', "").count('"') == 0


def test_unquoted_parts_fold_to_lower_case_like_redshift() -> None:
    name = parse_table_name("BRAZE_CLOUD_PRODUCTION.INGESTION.USERS_ATTRIBUTES_SYNC")
    assert name == TableName("ingestion", "users_attributes_sync", "braze_cloud_production")
    assert name.sql == '"ingestion"."users_attributes_sync"'
    assert parse_table_name('Sales."Mixed Case"').table == "Mixed Case"


@pytest.mark.parametrize(
    "text",
    ["", "users", "a.b.c.d", "a..b", ".a.b", "a.b.", 'a."unclosed', "a.b c", 'a.b"c', "x" * 200 + ".t"],
)
def test_malformed_table_names_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(TableNameError):
        parse_table_name(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("every 15 minutes", "every 15 minutes"),
        ("Every  30 Minutes", "every 30 minutes"),
        ("hourly at :05", "hourly at :05"),
        ("every 6 hours", "every 6 hours"),
        ("daily at 02:30", "daily at 02:30"),
        ("weekly on thu,mon at 9:00", "weekly on mon,thu at 09:00"),
        ("monthly on day 28 at 23:59", "monthly on day 28 at 23:59"),
        ("monthly on last day at 00:00", "monthly on last day at 00:00"),
    ],
)
def test_every_accepted_frequency_form_parses(text: str, canonical: str) -> None:
    assert parse_frequency(text).spec == canonical


@pytest.mark.parametrize(
    "text",
    [
        "every 5 minutes",
        "every 5 hours",
        "hourly at :60",
        "daily at 24:00",
        "weekly on funday at 10:00",
        "monthly on day 29 at 10:00",
        "monthly on day 0 at 10:00",
        "yearly",
        "",
        "daily at noon",
    ],
)
def test_other_frequencies_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_frequency(text)
    with pytest.raises(FieldError):
        validate_frequency(text)


def test_an_unknown_frequency_lists_the_accepted_forms() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_frequency("every fortnight")
    for form in ("every 15 minutes", "hourly at :MM", "monthly on last day at HH:MM"):
        assert form in str(caught.value)


def test_field_validators_normalise_or_refuse() -> None:
    assert validate_port("5439") == 5439
    with pytest.raises(FieldError):
        validate_port("0")
    with pytest.raises(FieldError):
        validate_port("54x")
    assert validate_host("examplecluster.abc.us-west-2.redshift.amazonaws.com")
    with pytest.raises(FieldError):
        validate_host("bad host")
    assert validate_emails("a@example.com, b@example.com,a@example.com") == ["a@example.com", "b@example.com"]
    with pytest.raises(FieldError):
        validate_emails(["ok@example.com", "nope"])
    assert validate_endpoint("us-03") == "US-03"
    assert validate_endpoint("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert validate_endpoint("https://rest.example.com") == "https://rest.example.com"
    with pytest.raises(FieldError):
        validate_endpoint("http://rest.example.com")
    with pytest.raises(FieldError):
        validate_endpoint("US-99")
    assert validate_time_zone("Australia/Lord_Howe") == "Australia/Lord_Howe"
    with pytest.raises(FieldError):
        validate_time_zone("Nowhere/Town")
