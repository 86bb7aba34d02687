"""What a monitoring scrape sees: per integration, its runs, rows, requests and lag.

Read from the run log, so the figures cover every process that syncs this home (``serve``,
``run-due`` from cron, ``sync`` by hand, the app), survive restarts, and include a run under
way as far as its last checkpoint (saved every half second while it moves). Counters are sums
over the runs the run log keeps (12 months): when old runs are pruned a sum can fall, which a
scraper reads as a counter reset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from cdi_tui.config import Config
from cdi_tui.enums import DataType, IntegrationState, RunStatus
from cdi_tui.runlog import RunLog

ROW_OUTCOMES = ("sent", "failed", "unchanged", "superseded", "skipped")


@dataclass
class IntegrationFigures:
    """One integration's figures (every count over its real runs, dry runs left out)."""

    name: str
    data_type: DataType
    state: IntegrationState
    runs_by_status: dict[str, int] = field(default_factory=dict)
    rows_by_outcome: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROW_OUTCOMES, 0))
    data_points: int = 0
    answers_by_code: dict[str, int] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)
    retry_rows: int = 0
    last_success_at: datetime | None = None
    watermark: datetime | None = None
    rows_in_flight: int = 0  # read by a run under way and not yet accounted for
    running: bool = False
    firing: list[str] = field(default_factory=list)

    @property
    def rate_limited(self) -> int:
        return self.answers_by_code.get("429", 0)


@dataclass(frozen=True)
class MonitorSnapshot:
    now: datetime
    integrations: list[IntegrationFigures]


def snapshot(config: Config, runlog: RunLog, now: datetime, is_syncing: Callable[[str], bool]) -> MonitorSnapshot:
    """The figures of every integration of ``config``, from ``runlog`` at ``now``."""
    figures = {name: IntegrationFigures(name, item.data_type, item.state) for name, item in sorted(config.integrations.items())}
    last_success: dict[str, str] = {}
    for row in runlog.monitor_totals():
        item = figures.get(row["integration"])
        if item is None:
            continue
        item.runs_by_status[row["status"]] = int(row["runs"])
        for outcome in ROW_OUTCOMES:
            item.rows_by_outcome[outcome] += int(row[outcome] or 0)
        item.data_points += int(row["data_points"] or 0)
        if row["status"] in (RunStatus.SUCCESS, RunStatus.PARTIAL) and row["last_ended"]:
            last_success[row["integration"]] = max(last_success.get(row["integration"], ""), row["last_ended"])
    for name, text in last_success.items():
        figures[name].last_success_at = datetime.fromisoformat(text)
    for row in runlog.monitor_answers():
        item = figures.get(row["integration"])
        if item is not None:
            item.answers_by_code[str(row["code"])] = int(row["requests"] or 0)
    durations: dict[str, list[float]] = defaultdict(list)
    for row in runlog.monitor_durations():
        if row["seconds"] is not None:
            durations[row["integration"]].append(max(0.0, float(row["seconds"])))
    for name, seconds in durations.items():
        if name in figures:
            figures[name].durations = seconds
    for name, waiting in runlog.retry_row_counts().items():
        if name in figures:
            figures[name].retry_rows = waiting
    for name, moment in runlog.watermarks().items():
        if name in figures:
            figures[name].watermark = moment
    for run in runlog.running_runs():
        item = figures.get(run.integration)
        if item is None or run.dry_run or not is_syncing(run.integration):
            continue  # a dead process's run: the next run marks it interrupted
        item.running = True
        accounted = run.rows_sent + run.rows_failed + run.rows_skipped + run.rows_unchanged + run.rows_superseded
        item.rows_in_flight += max(0, run.rows_read - accounted)
    for name, rule in runlog.firing_alerts():
        if name in figures:
            figures[name].firing.append(rule)
    return MonitorSnapshot(now, list(figures.values()))
