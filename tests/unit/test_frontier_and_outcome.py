"""Segments, the frontier (the watermark over done segments, in read order) and a run's outcome."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from fakes import at, integration

from cdi_tui.braze.objects import BrazeObject
from cdi_tui.engine.frontier import Frontier, Segment
from cdi_tui.engine.outcome import RunOutcome, run_outcome
from cdi_tui.engine.run_state import RunState
from cdi_tui.enums import RunStatus
from cdi_tui.runlog import Watermark


class SavedMarks:
    """The one thing the frontier asks of the run log: to save a watermark."""

    def __init__(self) -> None:
        self.saved: list[Watermark] = []

    def save_watermark(self, integration: str, watermark: Watermark) -> None:
        self.saved.append(watermark)


def segment(*objects: float, unsent: tuple[float, ...] = (), carried: tuple[float, ...] = (), answered: bool = True) -> Segment:
    """A closed segment: objects (by their row's second), rows it sends nothing for, rows another object carries."""
    made = Segment()
    made.items = [BrazeObject("attributes", {"external_id": f"u{second}"}, at(second)) for second in objects]
    made.unsent_moments = [at(second) for second in unsent]
    made.carried_moments = [at(second) for second in carried]
    made.close()
    made.answered = answered
    return made


def frontier() -> tuple[Frontier, SavedMarks]:
    marks = SavedMarks()
    return Frontier(marks, "attrs", save=True), marks  # type: ignore[arg-type]


def mark(line: Frontier) -> tuple[datetime | None, int]:
    return line.updated_at, line.rows_at


# segments -------------------------------------------------------------------------------------------------


def test_a_segment_knows_its_size_its_ends_and_how_many_rows_carry_its_last_timestamp() -> None:
    made = segment(1, 2, 5, 5, unsent=(3, 5), carried=(4, 5))
    assert made.size == 8
    assert (made.first_ts, made.last_ts) == (at(1), at(5))
    assert made.tail == 4  # two objects, one invalid row and one carried row at the last second


def test_a_segment_of_rows_without_objects_still_has_ends() -> None:
    made = segment(unsent=(7, 9, 9))
    assert (made.size, made.first_ts, made.last_ts, made.tail) == (3, at(7), at(9), 2)


def test_a_segment_is_done_when_answered_and_no_row_of_it_is_held_elsewhere() -> None:
    made = segment(1)
    made.holds = 1
    assert not made.done
    made.holds = 0
    assert made.done
    made.answered = False
    assert not made.done


# the frontier -----------------------------------------------------------------------------------------------


def test_the_watermark_moves_only_over_done_segments_in_read_order() -> None:
    line, marks = frontier()
    first, second, third = segment(1, 2, answered=False), segment(3, 4), segment(5, 6)
    for made in (first, second, third):
        line.add(made)
    line.advance()
    assert mark(line) == (None, 0) and marks.saved == []  # the second and third finished first: nothing moves
    first.answered = True
    line.advance()
    assert mark(line) == (at(6), 1) and line.open_segments == 0
    assert marks.saved == [Watermark(at(6), 1)]  # saved once, when it moved


def test_a_segment_whose_rows_wait_in_another_request_holds_the_watermark_back() -> None:
    line, _marks = frontier()
    waiting, after = segment(1, carried=(2,)), segment(3)
    waiting.holds = 1  # the row at second 2 travels in a carrier request not answered yet
    line.add(waiting)
    line.add(after)
    line.advance()
    assert mark(line) == (None, 0)
    waiting.holds = 0
    line.advance()
    assert mark(line) == (at(3), 1)


def test_rows_at_one_timestamp_across_segments_add_up_for_the_boundary_rule() -> None:
    line, marks = frontier()
    for made in (segment(1, 5, 5), segment(5, 5, 5), segment(5, unsent=(5,))):
        line.add(made)
        line.advance()
    assert mark(line) == (at(5), 2 + 3 + 2)
    assert marks.saved[-1] == Watermark(at(5), 7)


def test_a_new_timestamp_starts_the_count_again() -> None:
    line, _marks = frontier()
    line.add(segment(5, 5))
    line.add(segment(5, 6, 6, 6))
    line.advance()
    assert mark(line) == (at(6), 3)


def test_a_segment_with_no_rows_is_passed_without_moving_the_watermark() -> None:
    line, marks = frontier()
    line.add(segment(1))
    line.add(Segment())
    line.advance()
    line.advance()
    assert mark(line) == (at(1), 1) and len(marks.saved) == 1


def test_a_dry_run_saves_no_watermark() -> None:
    marks = SavedMarks()
    line = Frontier(marks, "attrs", save=False)  # type: ignore[arg-type]
    line.add(segment(1))
    line.advance()
    line.save()
    assert mark(line) == (at(1), 1) and marks.saved == []


# the outcome ------------------------------------------------------------------------------------------------


def state(**counts: object) -> RunState:
    made = RunState(1, integration(), False, 1_000, threading.Event(), None)
    for key, value in counts.items():
        setattr(made, key, value)
    return made


def test_a_run_with_nothing_failed_is_a_success_and_with_failed_rows_partial() -> None:
    assert run_outcome(state(sent=10)) == RunOutcome(RunStatus.SUCCESS)
    assert run_outcome(state(sent=10, failed=1)) == RunOutcome(RunStatus.PARTIAL)


def test_the_row_limit_gives_limit_exceeded_with_the_limit_named() -> None:
    assert run_outcome(state(limit_hit=True, failed=3)) == RunOutcome(
        RunStatus.LIMIT_EXCEEDED, "stopped at the limit of 1,000 rows a run"
    )


def test_a_cancel_beats_the_row_limit_and_failed_rows() -> None:
    cancelled = state(limit_hit=True, failed=3)
    cancelled.cancel.set()
    assert run_outcome(cancelled) == RunOutcome(RunStatus.CANCELLED, "cancelled by the user")


def test_braze_unreachable_is_an_error_even_when_cancelled() -> None:
    unreachable = state(stop_reason="Braze could not be reached: 503", failed=5)
    unreachable.cancel.set()
    assert run_outcome(unreachable) == RunOutcome(RunStatus.ERROR, "Braze could not be reached: 503")


def test_a_fatal_error_beats_everything_and_ctrl_c_is_a_cancel() -> None:
    broken = state(stop_reason="Braze could not be reached", limit_hit=True)
    broken.fail(RuntimeError("the key was rejected"))
    broken.fail(RuntimeError("a later error is not the cause"))
    assert run_outcome(broken) == RunOutcome(RunStatus.ERROR, "the key was rejected")
    assert broken.stop_sending.is_set()
    interrupted = state()
    interrupted.fail(KeyboardInterrupt())
    assert run_outcome(interrupted) == RunOutcome(RunStatus.CANCELLED, "cancelled")


@pytest.mark.parametrize("error", [ValueError(), OSError()])
def test_an_error_without_a_message_is_named_by_its_kind(error: Exception) -> None:
    failed = state()
    failed.fail(error)
    assert run_outcome(failed) == RunOutcome(RunStatus.ERROR, type(error).__name__)
