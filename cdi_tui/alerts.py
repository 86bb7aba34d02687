"""Alerts that notice decay: the rules, and when a rule's state changes.

Each rule of an integration is *firing* or not; an alert is sent only when that changes (one
when it starts, one when it recovers), never on every run (Dagster's alert policies, drt's
``on_degraded``). The rules look at facts gathered from the run log (:class:`AlertFacts`) and
say, per rule, whether it fires now, or ``None`` when the facts cannot tell (the state then
stays as it is). Which rules apply is each integration's settings (``alert_*`` and
``pause_after_failures``, declared in :data:`cdi_tui.fields.ALERT_FIELDS`).

The state lives in the run log (``alert_state``), so a restart does not announce again what
was announced, and several processes (``serve``, ``run-due``, the app) announce each change once.
Nothing here does I/O: :mod:`cdi_tui.alert_delivery` sends, :class:`~cdi_tui.workspace.Workspace`
gathers the facts and keeps the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cdi_tui.config import Integration
from cdi_tui.enums import IntegrationState, RunStatus
from cdi_tui.runlog import RunRecord

FAILED_STATUSES = (RunStatus.ERROR, RunStatus.INTERRUPTED)
SUCCEEDED_STATUSES = (RunStatus.SUCCESS, RunStatus.PARTIAL)


class AlertRule(StrEnum):
    """The alerts (the ``alert`` label of ``cdi_tui_alert_firing``, the ``rule`` of the run log's ``alert_state``)."""

    FAILING = "failing"  # the last run failed (always on; its emails are the run's own, so it goes to webhooks only)
    NO_SUCCESS = "no_success"  # no successful run for alert_no_success_hours
    RUN_TOO_LONG = "run_too_long"  # a run took (or is taking) longer than alert_run_minutes
    ROW_ERRORS = "row_errors"  # the last run's share of failed rows above alert_row_error_percent
    RETRY_LIST = "retry_list"  # more rows than alert_retry_rows wait on the retry list
    RATE_LIMITED = "rate_limited"  # the last run's share of 429 answers above alert_rate_limited_percent
    AUTO_PAUSED = "auto_paused"  # paused after pause_after_failures failed runs in a row (until resumed)


RULE_TITLES = {
    AlertRule.FAILING: "sync failing",
    AlertRule.NO_SUCCESS: "no successful sync",
    AlertRule.RUN_TOO_LONG: "run too long",
    AlertRule.ROW_ERRORS: "row errors above threshold",
    AlertRule.RETRY_LIST: "retry list too long",
    AlertRule.RATE_LIMITED: "Braze rate limiting",
    AlertRule.AUTO_PAUSED: "integration paused after failures",
}


@dataclass(frozen=True)
class AlertFacts:
    """What the rules look at, for one integration at one moment.

    Attributes:
        now: the moment (UTC).
        last_finished: the newest real run that ended (None: none yet).
        running: the real run under way now, its lock held (None: none).
        last_success_at: when the newest successful (or partial) run ended.
        first_run_at: when the integration's first real run started (None: it never ran).
        retry_rows: rows on its retry list.
        failures_in_a_row: real runs that failed (error, interrupted) one after the other, newest
            first, since the auto-pause last changed (cancelled runs are passed over).
    """

    now: datetime
    last_finished: RunRecord | None
    running: RunRecord | None
    last_success_at: datetime | None
    first_run_at: datetime | None
    retry_rows: int
    failures_in_a_row: int


@dataclass(frozen=True)
class Condition:
    """One rule's verdict: ``firing`` True or False, or None when the facts cannot tell."""

    rule: AlertRule
    firing: bool | None
    detail: str


@dataclass(frozen=True)
class Transition:
    """A rule of an integration that started firing (``firing``) or recovered (not ``firing``)."""

    integration: str
    rule: AlertRule
    firing: bool
    detail: str
    at: datetime

    @property
    def title(self) -> str:
        return RULE_TITLES[self.rule]

    @property
    def headline(self) -> str:
        """``ALERT orders: row errors above threshold`` / ``RESOLVED orders: ...``."""
        return f"{'ALERT' if self.firing else 'RESOLVED'} {self.integration}: {self.title}"


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole


def conditions(integration: Integration, facts: AlertFacts) -> list[Condition]:
    """Every rule the integration has on, with its verdict now."""
    found = [_failing(facts)]
    if integration.alert_no_success_hours is not None:
        found.append(_no_success(integration, integration.alert_no_success_hours, facts))
    if integration.alert_run_minutes is not None:
        found.append(_run_too_long(integration.alert_run_minutes, facts))
    if integration.alert_row_error_percent is not None:
        found.append(_row_errors(integration.alert_row_error_percent, facts))
    if integration.alert_retry_rows is not None:
        limit = integration.alert_retry_rows
        found.append(
            Condition(
                AlertRule.RETRY_LIST,
                facts.retry_rows > limit,
                f"{facts.retry_rows:,} row(s) wait on the retry list (alert above {limit:,})",
            )
        )
    if integration.alert_rate_limited_percent is not None:
        found.append(_rate_limited(integration.alert_rate_limited_percent, facts))
    if integration.pause_after_failures is not None:
        found.append(_auto_pause(integration, integration.pause_after_failures, facts))
    return found


def _failing(facts: AlertFacts) -> Condition:
    last = facts.last_finished
    if last is None or last.status not in (*FAILED_STATUSES, *SUCCEEDED_STATUSES):
        return Condition(AlertRule.FAILING, None, "")  # cancelled or stopped at the row limit: says nothing
    if last.status in FAILED_STATUSES:
        return Condition(AlertRule.FAILING, True, f"run #{last.id} ended {last.status}: {last.error or 'no reason recorded'}")
    return Condition(AlertRule.FAILING, False, f"run #{last.id} ended {last.status}")


def _no_success(integration: Integration, hours: float, facts: AlertFacts) -> Condition:
    if integration.state != IntegrationState.ACTIVE:
        return Condition(AlertRule.NO_SUCCESS, None, "")  # paused or draft: no run is expected
    since = facts.last_success_at or facts.first_run_at
    if since is None:
        return Condition(AlertRule.NO_SUCCESS, None, "")  # never ran: its first sync is due at once
    age = facts.now - since
    if facts.last_success_at is None:
        detail = f"no successful run since the first run started {_minutes(age)} ago (alert after {hours:g} h)"
    else:
        detail = f"the last successful run ended {_minutes(age)} ago (alert after {hours:g} h)"
    return Condition(AlertRule.NO_SUCCESS, age > timedelta(hours=hours), detail)


def _run_too_long(minutes: float, facts: AlertFacts) -> Condition:
    limit = timedelta(minutes=minutes)
    if facts.running is not None:
        took = facts.now - facts.running.started_at
        if took > limit:
            return Condition(
                AlertRule.RUN_TOO_LONG, True, f"run #{facts.running.id} has run for {_minutes(took)} (limit {minutes:g} min)"
            )
        # a run under way within its limit says nothing yet about the one before
    last = facts.last_finished
    if last is None or last.duration_seconds is None:
        return Condition(AlertRule.RUN_TOO_LONG, None, "")
    took = timedelta(seconds=last.duration_seconds)
    return Condition(AlertRule.RUN_TOO_LONG, took > limit, f"run #{last.id} took {_minutes(took)} (limit {minutes:g} min)")


def _row_errors(threshold: float, facts: AlertFacts) -> Condition:
    last = facts.last_finished
    if last is None or last.rows_read == 0:
        return Condition(AlertRule.ROW_ERRORS, None, "")  # no rows: no share to judge
    share = _percent(last.rows_failed, last.rows_read)
    return Condition(
        AlertRule.ROW_ERRORS,
        share > threshold,
        f"run #{last.id}: {last.rows_failed:,} of {last.rows_read:,} rows failed ({share:.1f}%; alert above {threshold:g}%)",
    )


def _rate_limited(threshold: float, facts: AlertFacts) -> Condition:
    last = facts.last_finished
    if last is None or last.braze_requests == 0:
        return Condition(AlertRule.RATE_LIMITED, None, "")
    share = _percent(last.rate_limited, last.braze_requests)
    return Condition(
        AlertRule.RATE_LIMITED,
        share > threshold,
        f"run #{last.id}: Braze answered {last.rate_limited:,} of {last.braze_requests:,} requests with 429 "
        f"({share:.1f}%; alert above {threshold:g}%)",
    )


def _auto_pause(integration: Integration, failures: int, facts: AlertFacts) -> Condition:
    """Fires (and the integration is paused) after ``failures`` failed runs in a row; recovers once resumed."""
    if integration.state != IntegrationState.ACTIVE:
        return Condition(AlertRule.AUTO_PAUSED, None, "")  # paused (by this rule or by hand): stays as it is
    if facts.failures_in_a_row >= failures:
        return Condition(
            AlertRule.AUTO_PAUSED,
            True,
            f"paused after {facts.failures_in_a_row} failed runs in a row; resume with: cdi-tui activate {integration.name}",
        )
    return Condition(AlertRule.AUTO_PAUSED, False, "active again")


def failures_in_a_row(runs: list[RunRecord], since: datetime | None = None) -> int:
    """Failed real runs one after the other, newest first (``runs`` newest first), started after ``since``.

    Runs under way and cancelled runs are passed over; any other ending stops the count.
    """
    count = 0
    for run in runs:
        if run.dry_run or run.status in (RunStatus.RUNNING, RunStatus.CANCELLED):
            continue
        if since is not None and run.started_at <= since:
            break
        if run.status not in FAILED_STATUSES:
            break
        count += 1
    return count


def transitions(
    integration: str, found: list[Condition], states: dict[str, tuple[bool, datetime, str | None]], now: datetime
) -> list[Transition]:
    """The verdicts that change a rule's state: firing where it was not, or recovered where it fired.

    ``states`` is what the run log holds (rule -> (firing, since, detail)); a rule never seen is
    not firing, so recovering from nothing is no transition.
    """
    changes = []
    for condition in found:
        if condition.firing is None:
            continue
        was_firing = states.get(condition.rule, (False, now, None))[0]
        if condition.firing != was_firing:
            changes.append(Transition(integration, condition.rule, condition.firing, condition.detail, now))
    return changes
