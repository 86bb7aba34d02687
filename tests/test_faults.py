"""Faults a hostile user (or a bad day) brings, through the real stack: each ends in one line
that says what is wrong and what to do, with the documented exit code, and changes nothing
it should not. Commands run as a user runs them: a real process, the real stand-ins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SyncEnv, at

from cdi_tui.paths import app_paths
from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.postgres import RedshiftStandIn

pytestmark = pytest.mark.real


@pytest.fixture
def env(redshift: RedshiftStandIn, braze: BrazeStandIn, tmp_path: Path, unique_name: str) -> Iterator[SyncEnv]:
    sync_env = SyncEnv(redshift, braze, app_paths(tmp_path / "home"), unique_name, f"{unique_name}_u", f"pw-{unique_name}")
    sync_env.setup()
    yield sync_env
    sync_env.teardown()


# --- timestamps Python cannot hold ------------------------------------------------------------

OUT_OF_RANGE = ["-infinity", "0044-03-15 12:00:00+00 BC"]  # before year 1: read by a first run
NEVER_DUE = ["infinity", "10000-01-01 00:00:00+00"]  # after year 9999: later than any run's upper bound


def test_infinite_and_out_of_range_updated_at_are_row_errors_and_never_stop_or_freeze_the_run(env: SyncEnv) -> None:
    env.create_integration("odd-times")
    env.insert(
        "odd-times",
        [{"updated_at": at(n), "external_id": f"u{n}", "payload": {"n": n}} for n in range(1, 4)]
        + [{"updated_at": text, "external_id": f"odd-{text}", "payload": {"n": 0}} for text in OUT_OF_RANGE + NEVER_DUE],
    )
    first = env.sync("odd-times")
    assert (first.status, first.rows_sent, first.rows_failed) == ("partial", 3, 2), first.error
    assert env.external_ids() == ["u1", "u2", "u3"]
    errors = env.ws.runlog.row_errors(first.id)
    assert {error.code for error in errors} == {"updated_at_out_of_range"}
    assert sorted(error.identifier for error in errors) == sorted(f"external_id=odd-{text}" for text in OUT_OF_RANGE)
    reasons = " ".join(error.reason for error in errors)
    assert "UPDATED_AT is -infinity" in reasons and "BC" in reasons and "set it to the time the row changed" in reasons
    assert first.watermark_after is not None and first.watermark_after.startswith("2026-03-01T12:00:03")

    # not reported again, not stuck: the next rows arrive
    second = env.sync("odd-times")
    assert (second.status, second.rows_read, second.rows_failed) == ("success", 0, 0), second.error
    env.insert("odd-times", [{"updated_at": at(10), "external_id": "u10", "payload": {"n": 10}}])
    third = env.sync("odd-times")
    assert (third.status, third.rows_sent) == ("success", 1), third.error
    assert env.external_ids() == ["u1", "u2", "u3", "u10"]


def test_a_table_of_only_minus_infinity_rows_is_reported_and_the_integration_moves_on(env: SyncEnv) -> None:
    env.create_integration("only-odd")
    env.insert("only-odd", [{"updated_at": "-infinity", "external_id": f"odd-{n}", "payload": {"n": n}} for n in range(3)])
    first = env.sync("only-odd")
    assert (first.status, first.rows_read, first.rows_sent, first.rows_failed) == ("partial", 3, 0, 3), first.error
    env.insert("only-odd", [{"updated_at": at(1), "external_id": "u1", "payload": {"n": 1}}])
    second = env.sync("only-odd")
    assert (second.status, second.rows_read, second.rows_sent, second.rows_failed) == ("success", 1, 1, 0), second.error
    assert env.external_ids() == ["u1"]


def test_the_connection_test_preview_shows_infinity_as_what_it_is(env: SyncEnv) -> None:
    from cdi_tui.engine.transform import RowError, RowTransformer

    env.create_integration("preview-odd", activate=False)
    env.insert(
        "preview-odd",
        [
            {"updated_at": "infinity", "external_id": "odd", "payload": {"n": 0}},
            {"updated_at": at(1), "external_id": "u1", "payload": {"n": 1}},
        ],
    )
    result = env.ws.test_integration("preview-odd")
    assert result.ok and result.preview is not None and result.shape is not None
    first, second = result.preview.rows
    assert str(first[0]) == "infinity" and second[0] == at(1)
    transformer = RowTransformer(result.shape.select_columns, "attributes")
    verdict = transformer.transform(list(first))
    assert isinstance(verdict, RowError) and verdict.code == "updated_at_out_of_range"
    assert not isinstance(transformer.transform(list(second)), RowError)
