"""Rules the other unit files leave out: transform rules not pinned in tests/test_transform.py,
the frequency forms, and data points counted only for what Braze accepted."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fakes import PumpWorld, ScriptedDispatcher, at, row

from cdi_tui.braze.client import SendOutcome
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.engine.transform import RowError, RowTransformer
from cdi_tui.enums import DataType
from cdi_tui.schedule import Frequency, ScheduleError, next_runs, parse_frequency

COLUMNS = ("updated_at", "external_id", "payload")
FIRST_SECOND = at(1)


def transformed(data_type: DataType, payload: dict[str, Any] | str, moment: datetime = FIRST_SECOND) -> BrazeObject | RowError:
    text = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    return RowTransformer(COLUMNS, data_type).transform([moment, "u1", text])


def code(result: BrazeObject | RowError) -> str:
    assert isinstance(result, RowError), result
    return result.code


# transforms --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_type", "payload", "expected"),
    [
        (DataType.ATTRIBUTES, '{"": 1, "plan": "pro"}', "attribute_name_empty"),
        (DataType.ATTRIBUTES, {"k" * 256: 1}, "attribute_name_too_long"),
        (DataType.EVENTS, {"name": "played", "time": 5}, "time_invalid"),
        (DataType.EVENTS, {"name": "played", "time": "  "}, "time_invalid"),
        (DataType.EVENTS, {"name": "played", "app_id": 7}, "app_id_invalid"),
        (DataType.EVENTS, {"name": "played", "properties": {"": 1}}, "property_name_empty"),
        (DataType.EVENTS, {"name": "played", "properties": {"p" * 256: 1}}, "property_name_too_long"),
        (DataType.EVENTS, {"name": "e" * 256}, "string_too_long"),
        (DataType.PURCHASES, {"product_id": " ", "currency": "USD", "price": 1}, "product_id_invalid"),
        (DataType.PURCHASES, {"product_id": "p", "currency": "USD", "price": True}, "price_invalid"),
        (DataType.PURCHASES, {"product_id": "p", "currency": "USD", "price": 1, "quantity": True}, "quantity_invalid"),
    ],
)
def test_each_rule_refuses_its_row_with_its_own_code(data_type: DataType, payload: dict[str, Any] | str, expected: str) -> None:
    assert code(transformed(data_type, payload)) == expected


def test_an_event_keeps_its_own_time_and_an_empty_one_takes_updated_at_in_utc() -> None:
    own = transformed(DataType.EVENTS, {"name": "played", "time": "2026-01-01T00:00:00Z"})
    assert isinstance(own, BrazeObject) and own.body["time"] == "2026-01-01T00:00:00Z"
    defaulted = transformed(DataType.EVENTS, {"name": "played", "time": None}, datetime(2026, 3, 1, 13, 0, tzinfo=UTC))
    assert isinstance(defaulted, BrazeObject) and defaulted.body["time"].startswith("2026-03-01T13:00:00")


# frequencies --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("Every 15   Minutes", "every 15 minutes"),
        ("hourly at :05", "hourly at :05"),
        ("every 6 hours", "every 6 hours"),
        ("daily at 2:30", "daily at 02:30"),
        ("weekly on thu, mon at 09:00", "weekly on mon,thu at 09:00"),
        ("monthly on day 28 at 00:00", "monthly on day 28 at 00:00"),
        ("monthly on last day at 23:59", "monthly on last day at 23:59"),
    ],
)
def test_each_accepted_form_reads_back_as_its_canonical_text(written: str, canonical: str) -> None:
    frequency = parse_frequency(written)
    assert frequency.spec == canonical and parse_frequency(canonical) == frequency


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("every 5 hours", "N = 1, 2, 3, 4, 6, 8 or 12, not 5"),
        ("monthly on day 29 at 00:00", "D = 1..28"),
        ("daily at 24:00", "not a time of day"),
        ("hourly at :60", "not a minute"),
        ("weekly on funday at 09:00", "weekdays are written mon,tue"),
        ("every 10 minutes", "accepted forms"),
    ],
)
def test_a_frequency_outside_the_accepted_forms_is_refused_saying_why(written: str, words: str) -> None:
    with pytest.raises(ScheduleError, match=words):
        parse_frequency(written)


def test_every_n_hours_runs_at_the_wall_clock_multiples_of_n() -> None:
    runs = next_runs(Frequency("hours", step=8), "UTC", datetime(2026, 3, 1, 1, tzinfo=UTC), 4)
    assert [moment.hour for moment in runs] == [8, 16, 0, 8]


# data points ---------------------------------------------------------------------------------------------------


@pytest.fixture
def pump_world(tmp_path: Path) -> Iterator[PumpWorld]:
    def accept_all_but_bad(items: Sequence[BrazeObject]) -> SendOutcome:
        outcome = SendOutcome(requests=1)
        for item in items:
            if item.body["external_id"] == "bad":
                outcome.rejected.append((item, "Braze rejected the object: invalid"))
            elif item.body["external_id"] == "flaky":
                outcome.transient.append((item, "503"))
            else:
                outcome.delivered.append(item)
        return outcome

    made = PumpWorld(tmp_path, ScriptedDispatcher(accept_all_but_bad), ordered=False)
    yield made
    made.close()


def test_a_run_counts_data_points_only_for_what_braze_accepted(pump_world: PumpWorld) -> None:
    pump_world.run([
        row(1, "a", {"plan": "pro", "prefs": {"x": 1, "y": {"z": 2}}, "email_subscribe": "opted_in"}),
        row(2, "bad", {"plan": "pro", "tier": 1}),
        row(3, "flaky", {"plan": "pro"}),
        row(4, "b", {"tags": {"add": ["x", "y", "z"]}}),
    ])  # fmt: skip
    assert pump_world.state.data_points == (1 + 2) + 3  # plan, prefs' two leaf keys; three values added
