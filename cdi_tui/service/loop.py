"""``cdi-tui serve``: the scheduler loop and everything around it.

Each tick (every ``--interval`` seconds) the loop notes its heartbeat, claims the due slots and
starts their runs in threads (:mod:`cdi_tui.service.runner`), and checks every integration's
alerts (so "no success in N hours" and "a run longer than its limit" are noticed while nothing
else happens). The HTTP listener (:mod:`cdi_tui.service.http`) answers meanwhile; systemd hears
READY once the first tick is done, STATUS with the runs under way, and WATCHDOG while healthy.

Nothing keeps the run log open between pieces of work: each tick, request and run opens a
workspace and closes it, so a run log that was replaced or a disk that went read-only is seen
at the next look (and reported by ``/healthz``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cdi_tui.enums import RunStatus, Trigger
from cdi_tui.service.health import HealthReport, Heartbeat, health_report
from cdi_tui.service.http import HttpApi, HttpServer, Listen
from cdi_tui.service.metrics import build_registry
from cdi_tui.service.runner import StartRefused, SyncRunner
from cdi_tui.service.systemd import SystemdNotifier

if TYPE_CHECKING:
    from cdi_tui.monitor import MonitorSnapshot
    from cdi_tui.paths import AppPaths
    from cdi_tui.secret_store import CredentialsService
    from cdi_tui.workspace import RunRecord, Workspace

log = logging.getLogger("cdi_tui.serve")


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class Service:
    """One ``serve`` process.

    Args:
        paths: the home.
        secrets: where secrets are (shared by every workspace the service opens).
        interval: seconds between ticks.
        listen: where the HTTP listener listens, or None for none.
        token: the trigger API's bearer token (None: the API answers 401).
        say: how a line for people goes out (printed, or logged as JSON).
    """

    def __init__(
        self,
        paths: AppPaths,
        secrets: CredentialsService,
        interval: float,
        listen: Listen | None,
        token: str | None,
        say: Callable[..., None],
    ) -> None:
        self.paths = paths
        self.secrets = secrets
        self.interval = interval
        self.listen = listen
        self.say = say
        self.stop = threading.Event()
        self.heartbeat = Heartbeat(interval)
        self.runner = SyncRunner(self.open_workspace, self.stop, self._run_ended)
        self.registry = build_registry(self._snapshot, self.heartbeat.last_tick_epoch)
        self.notifier = SystemdNotifier()
        self.http = HttpServer(HttpApi(self, listen, token)) if listen is not None else None

    # workspaces -------------------------------------------------------------------------------
    def open_workspace(self) -> Workspace:
        from cdi_tui.workspace import Workspace

        return Workspace(self.paths, self.secrets)

    @contextlib.contextmanager
    def workspace(self) -> Iterator[Workspace]:
        workspace = self.open_workspace()
        try:
            yield workspace
        finally:
            workspace.close()

    # the loop ---------------------------------------------------------------------------------
    def run(self) -> None:
        """Serve until :attr:`stop` is set; then let the runs under way finish their requests in flight.

        Raises:
            OSError: the listener's address cannot be listened on.
        """
        if self.http is not None:
            self.http.start()
            self.say(f"cdi-tui serve: listening on http://{self.listen} (/metrics, /healthz, /cdi/...)", event="listening")
        try:
            self.tick()
            self.notifier.ready()
            self.notifier.start_watchdog(lambda: self.health().healthy, self.stop)
            while not self.stop.wait(self.interval):
                self.tick()
        finally:
            self.notifier.stopping()
            self.notifier.status("stopping: finishing the runs under way")
            self.runner.join()
            if self.http is not None:
                self.http.stop()

    def tick(self) -> None:
        """Look once: heartbeat, due runs started, alerts checked, systemd told."""
        self.heartbeat.tick()
        try:
            with self.workspace() as workspace:
                now = datetime.now(UTC)
                if workspace.read_only is None:
                    for decision in workspace.take_due_runs(now, running=self.runner.is_running):
                        if self.stop.is_set():
                            break  # before the next slot is claimed
                        if decision.skipped is None:
                            self._start_scheduled(decision.due.integration)
                    workspace.check_all_alerts(now)
        except Exception as error:  # the loop goes on; /healthz tells what is wrong
            log.exception("the scheduler's check failed")
            self.say(
                f"cdi-tui serve: the check failed: {type(error).__name__}: {error}", event="tick_failed", level=logging.ERROR
            )
        self.heartbeat.tick()
        self._status()

    def _start_scheduled(self, name: str) -> None:
        with contextlib.suppress(StartRefused):  # started meanwhile by the API: the slot is taken, its run goes on
            self.runner.start(name, Trigger.SCHEDULED)
        self._status()

    def _status(self) -> None:
        running = [job.name for job in self.runner.running()]
        if running:
            self.notifier.status(f"{len(running)} sync(s) running: {', '.join(running)}")
        else:
            self.notifier.status(f"idle; checking every {self.interval:g} s")

    def _run_ended(self, name: str, record: RunRecord | None, refused: str | None) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        if record is None:
            self.say(f"{stamp} {name}: skipped ({refused})", event="run_skipped", integration=name)
            return
        counts = f"read {record.rows_read}, sent {record.rows_sent}, failed {record.rows_failed}"
        error = f"; {record.error}" if record.error else ""
        self.say(
            f"{stamp} {name}: {record.status} (run #{record.id}, {record.trigger}: {counts}{error})",
            event="run_report",
            integration=name,
            run_id=record.id,
        )
        self._status()

    # what the HTTP listener asks ----------------------------------------------------------------
    def health(self) -> HealthReport:
        def run_log_problem() -> str | None:
            try:
                with self.workspace() as workspace:
                    return workspace.run_log_problem()
            except Exception as error:  # the home itself cannot be opened
                return f"{type(error).__name__}: {error}"

        return health_report(self.heartbeat, run_log_problem, [job.name for job in self.runner.running()])

    def _snapshot(self) -> MonitorSnapshot:
        with self.workspace() as workspace:
            return workspace.monitor_snapshot()

    def integrations_page(self, offset: int, size: int) -> tuple[list[dict[str, Any]], int]:
        """Braze's ``GET /cdi/integrations`` shape, one page; and how many there are."""
        with self.workspace() as workspace:
            config = workspace.config()
            names = sorted(config.integrations)
            now = datetime.now(UTC)
            results = []
            for name in names[offset : offset + size]:
                integration = config.integrations[name]
                last = workspace.last_run(name)
                watermark = last.end_watermark if last is not None else None
                results.append(
                    {
                        "integration_id": name,
                        "integration_name": name,
                        "integration_type": integration.data_type,
                        "integration_status": integration.state,
                        "data_type": integration.data_type,
                        "state": integration.state,
                        "contact_emails": ", ".join(integration.contact_emails),
                        "warehouse_type": "redshift",
                        "braze_workspace": integration.workspace,  # cdi-tui's own: the [braze.NAME] it syncs to
                        "last_updated_at": _time(watermark.updated_at) if watermark else None,
                        "last_job_start_time": _time(last.started_at) if last else None,
                        "last_job_end_time": _time(last.ended_at) if last else None,
                        "last_job_status": last.status if last else None,
                        "next_scheduled_run": _time(workspace.next_scheduled_run(name, now, config)),
                    }
                )
            return results, len(names)

    def trigger(self, name: str) -> tuple[int, dict[str, Any]]:
        """``POST /cdi/integrations/{name}/sync``: (status, body)."""
        from cdi_tui.workspace import SyncRefused

        if self.stop.is_set():
            return 503, {"message": "The service is stopping"}
        with self.workspace() as workspace:
            if name not in workspace.config().integrations:
                return 404, {"message": "Integration not found"}
            if workspace.read_only is not None:
                return 503, {"message": f"Nothing can sync: the home cannot be written ({workspace.read_only})"}
            try:
                workspace.check_can_sync(name)
            except SyncRefused as error:
                return 409, {"message": str(error)}
            if self.runner.is_running(name) or workspace.is_syncing(name):
                return 429, {"message": "Another job is in progress"}
        try:
            job = self.runner.start(name, Trigger.API, wait=True)
        except StartRefused as refused:
            return (429, {"message": "Another job is in progress"}) if refused.busy else (409, {"message": str(refused)})
        self._status()
        return 202, {"message": "success", "run_id": job.run_id}

    def job_statuses(self, name: str, offset: int, size: int) -> tuple[list[dict[str, Any]], int] | None:
        """``GET /cdi/integrations/{name}/job_sync_status``: a page of its real runs, newest first; None if unknown."""
        with self.workspace() as workspace:
            if name not in workspace.config().integrations:
                return None
            runs = [run for run in workspace.runs(name, offset + size + 50) if not run.dry_run]
        page = runs[offset : offset + size]
        total = offset + len(page) + (1 if len(runs) > offset + size else 0)
        return [_job(run) for run in page], total


def _job(run: RunRecord) -> dict[str, Any]:
    watermark = run.end_watermark or run.start_watermark
    return {
        "job_status": run.status,
        "sync_start_time": _time(run.started_at),
        "sync_finish_time": _time(run.ended_at),
        "last_timestamp_synced": _time(watermark.updated_at) if watermark else None,
        "rows_synced": run.rows_sent,
        "rows_failed_with_errors": run.rows_failed,
        "run_id": run.id,
        "trigger": run.trigger,
        "rows_read": run.rows_read,
        "rows_unchanged": run.rows_unchanged,
        "rows_superseded": run.rows_superseded,
        "rows_skipped": run.rows_skipped,
        "data_points": run.data_points,
        "braze_requests": run.braze_requests,
        "braze_rate_limited": run.rate_limited,
        "error": run.error,
        "done": run.status != RunStatus.RUNNING,
    }


__all__ = ["Listen", "Service"]
