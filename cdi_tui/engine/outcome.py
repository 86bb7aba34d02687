"""How a run ended: its status and the reason, from what the run state says."""

from __future__ import annotations

from dataclasses import dataclass

from cdi_tui.engine.run_state import RunState


@dataclass(frozen=True)
class RunOutcome:
    status: str  # success | partial | error | cancelled | limit_exceeded
    error: str | None = None


def run_outcome(state: RunState) -> RunOutcome:
    """The first that applies: a fatal error, Braze unreachable, a cancel, the row limit, failed rows."""
    if state.fatal is not None:
        if isinstance(state.fatal, KeyboardInterrupt):
            return RunOutcome("cancelled", "cancelled")
        return RunOutcome("error", str(state.fatal) or type(state.fatal).__name__)
    if state.stop_reason is not None:
        return RunOutcome("error", state.stop_reason)
    if state.cancel.is_set():
        return RunOutcome("cancelled", "cancelled by the user")
    if state.limit_hit:
        return RunOutcome("limit_exceeded", f"stopped at the limit of {state.max_rows:,} rows a run")
    if state.failed:
        return RunOutcome("partial")
    return RunOutcome("success")
