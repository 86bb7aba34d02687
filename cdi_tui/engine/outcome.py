"""How a run ended: its status and the reason, from what the run state says."""

from __future__ import annotations

from dataclasses import dataclass

from cdi_tui.engine.run_state import RunState
from cdi_tui.enums import RunStatus


@dataclass(frozen=True)
class RunOutcome:
    status: RunStatus  # never RUNNING or INTERRUPTED
    error: str | None = None


def run_outcome(state: RunState) -> RunOutcome:
    """The first that applies: a fatal error, Braze unreachable, a cancel, the row limit, failed rows."""
    if state.fatal is not None:
        if isinstance(state.fatal, KeyboardInterrupt):
            return RunOutcome(RunStatus.CANCELLED, "cancelled")
        return RunOutcome(RunStatus.ERROR, str(state.fatal) or type(state.fatal).__name__)
    if state.stop_reason is not None:
        return RunOutcome(RunStatus.ERROR, state.stop_reason)
    if state.cancel.is_set():
        return RunOutcome(RunStatus.CANCELLED, "cancelled by the user")
    if state.limit_hit:
        return RunOutcome(RunStatus.LIMIT_EXCEEDED, f"stopped at the limit of {state.max_rows:,} rows a run")
    if state.failed:
        return RunOutcome(RunStatus.PARTIAL)
    return RunOutcome(RunStatus.SUCCESS)
