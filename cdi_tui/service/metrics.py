"""``GET /metrics``: OpenMetrics exposition through ``prometheus_client``.

A custom collector reads :class:`~cdi_tui.monitor.MonitorSnapshot` at each scrape, so the
figures come from the run log (every process's runs, restarts included) rather than from
counters this process would lose. Labels are the integration and small closed sets (a run's
status, a row's outcome, an HTTP status code, an alert rule), never a user or a row. For runs,
``cdi_tui_last_success_timestamp_seconds`` and ``cdi_tui_run_duration_seconds`` follow
Prometheus's advice for batch jobs; the process's own metrics (CPU, memory, open files, GC,
Python) come from ``prometheus_client``'s collectors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from cdi_tui.alerts import AlertRule
from cdi_tui.enums import IntegrationState, RunStatus
from cdi_tui.monitor import ROW_OUTCOMES, MonitorSnapshot

CONTENT_TYPE = CONTENT_TYPE_LATEST
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)
RUN_STATUSES = tuple(status for status in RunStatus)


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


class WorkspaceCollector(Collector):
    """The integrations' figures, read when scraped.

    Args:
        snapshot: returns the figures now (a fresh read of the run log).
        last_tick: returns when the scheduler loop last ticked (epoch seconds), or None.
    """

    def __init__(self, snapshot: Callable[[], MonitorSnapshot], last_tick: Callable[[], float | None]) -> None:
        self._snapshot = snapshot
        self._last_tick = last_tick

    def collect(self) -> Iterator[Metric]:
        data = self._snapshot()
        runs = CounterMetricFamily(
            "cdi_tui_runs", "Runs by how they ended (running: under way)", labels=["integration", "status"]
        )
        rows = CounterMetricFamily("cdi_tui_rows", "Rows read, by what became of them", labels=["integration", "outcome"])
        points = CounterMetricFamily("cdi_tui_data_points", "Braze data points spent", labels=["integration"])
        requests = CounterMetricFamily(
            "cdi_tui_braze_requests", "Requests to Braze by its answer's status code (transport: no answer)",
            labels=["integration", "code"],
        )  # fmt: skip
        limited = CounterMetricFamily("cdi_tui_braze_rate_limited", "Requests Braze answered 429", labels=["integration"])
        retry = GaugeMetricFamily("cdi_tui_retry_rows", "Rows waiting on the retry list", labels=["integration"])
        success = GaugeMetricFamily(
            "cdi_tui_last_success_timestamp_seconds", "When the last successful (or partial) run ended",
            labels=["integration"], unit="seconds",
        )  # fmt: skip
        lag = GaugeMetricFamily(
            "cdi_tui_lag_seconds", "Now minus the watermark (the newest UPDATED_AT synced)", labels=["integration"],
            unit="seconds",
        )  # fmt: skip
        durations = HistogramMetricFamily(
            "cdi_tui_run_duration_seconds", "How long runs took", labels=["integration"], unit="seconds"
        )
        in_flight = GaugeMetricFamily(
            "cdi_tui_rows_in_flight", "Rows read by a run under way and not yet accounted for", labels=["integration"]
        )
        running = GaugeMetricFamily("cdi_tui_sync_running", "1 while a run is under way", labels=["integration"])
        firing = GaugeMetricFamily("cdi_tui_alert_firing", "1 while the alert fires", labels=["integration", "alert"])
        state = StateSetMetricFamily("cdi_tui_integration_state", "The integration's state", labels=["integration"])
        for item in data.integrations:
            name = item.name
            for status in RUN_STATUSES:
                runs.add_metric([name, status], item.runs_by_status.get(status, 0))
            for outcome in ROW_OUTCOMES:
                rows.add_metric([name, outcome], item.rows_by_outcome.get(outcome, 0))
            points.add_metric([name], item.data_points)
            for code, count in sorted(item.answers_by_code.items()):
                requests.add_metric([name, code], count)
            limited.add_metric([name], item.rate_limited)
            retry.add_metric([name], item.retry_rows)
            if item.last_success_at is not None:
                success.add_metric([name], _seconds(item.last_success_at))
            if item.watermark is not None:
                lag.add_metric([name], max(0.0, (data.now - item.watermark).total_seconds()))
            cumulative = []
            for bound in DURATION_BUCKETS:
                cumulative.append((repr(bound), sum(1 for seconds in item.durations if seconds <= bound)))
            cumulative.append(("+Inf", len(item.durations)))
            durations.add_metric([name], cumulative, sum(item.durations))
            in_flight.add_metric([name], item.rows_in_flight)
            running.add_metric([name], 1 if item.running else 0)
            for rule in AlertRule:
                firing.add_metric([name, rule], 1 if rule in item.firing else 0)
            state.add_metric([name], {word: item.state == word for word in IntegrationState})
        yield from (runs, rows, points, requests, limited, retry, success, lag, durations, in_flight, running, firing, state)
        tick = self._last_tick()
        heartbeat = GaugeMetricFamily(
            "cdi_tui_scheduler_last_tick_timestamp_seconds", "When the scheduler loop last looked for due runs",
            unit="seconds",
        )  # fmt: skip
        if tick is not None:
            heartbeat.add_metric([], tick)
        yield heartbeat


def build_registry(snapshot: Callable[[], MonitorSnapshot], last_tick: Callable[[], float | None]) -> CollectorRegistry:
    """A registry of its own (not the global one): the workspace's figures and the process's own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkspaceCollector(snapshot, last_tick))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry's metrics as OpenMetrics text."""
    return generate_latest(registry)
