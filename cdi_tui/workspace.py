"""The product's operations, shared by the command line and the app.

:class:`Workspace` ties together the config store, the run log, the secret store and the
sync engine, and enforces the rules of the seed: one integration per table, the data type
fixed at creation, a draft until a connection test passes, activation only with a contact
email, and no removing a credential that integrations use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from cdi_tui.braze.objects import BrazeObject
from cdi_tui.checks import ConnectionTestResult, connection_settings, integration_fingerprint, run_connection_test
from cdi_tui.config import (
    BrazeSettings,
    Config,
    ConfigStore,
    Credential,
    Integration,
    SmtpSettings,
    env_var_clash,
    with_credential,
    with_integration,
)
from cdi_tui.engine.changes import DeliveredStore
from cdi_tui.engine.sync import DELIVERED_FILE, ProgressCallback, SyncEngine, SyncOptions
from cdi_tui.enums import IntegrationState, RunStatus
from cdi_tui.paths import AppPaths
from cdi_tui.runlog import RunLog, RunLogUnavailable, RunRecord, utc_now
from cdi_tui.secret_store import (
    CredentialsService,
    braze_key_account,
    credential_account,
    credential_secret_accounts,
    smtp_password_account,
)
from cdi_tui.warehouse.source import RedshiftSource, TableShape

log = logging.getLogger("cdi_tui.workspace")


class WorkspaceError(Exception):
    """An operation breaks a rule; the message says which and what to do."""


class Workspace:
    def __init__(self, paths: AppPaths, secrets: CredentialsService) -> None:
        self.paths = paths.ensure()
        self.store = ConfigStore(paths.config_file)
        self.secrets = secrets
        self._runlog: RunLog | None = None
        self._delivered: DeliveredStore | None = None
        self._runlog_lock = threading.Lock()

    @property
    def runlog(self) -> RunLog:
        with self._runlog_lock:
            if self._runlog is None:
                self._runlog = RunLog(self.paths.run_log, read_only=self.paths.read_only is not None)
            return self._runlog

    @property
    def delivered(self) -> DeliveredStore:
        """What attribute integrations delivered, for "send only changed attributes"."""
        with self._runlog_lock:
            if self._delivered is None:
                self._delivered = DeliveredStore(self.paths.data_dir / DELIVERED_FILE)
            return self._delivered

    def close(self) -> None:
        if self._runlog is not None:
            self._runlog.close()
            self._runlog = None
        if self._delivered is not None:
            self._delivered.close()
            self._delivered = None

    def config(self) -> Config:
        return self.store.load()

    def integration(self, name: str, config: Config | None = None) -> Integration:
        config = config or self.config()
        if name not in config.integrations:
            known = ", ".join(sorted(config.integrations)) or "none yet"
            raise WorkspaceError(f"no integration named '{name}' (integrations: {known})")
        return config.integrations[name]

    # Braze --------------------------------------------------------------------------------
    def set_braze(self, settings: BrazeSettings, api_key: str | None) -> None:
        if api_key is not None:
            self.secrets.set(braze_key_account(), api_key)
        self.store.update(lambda config: replace(config, braze=settings))

    # credentials --------------------------------------------------------------------------
    def add_credential(self, credential: Credential, password: str | None, replace_existing: bool = False) -> None:
        """Save a credential; ``password`` None (IAM sign-in) stores none and drops an old one."""

        def check(config: Config) -> None:
            if credential.name in config.credentials and not replace_existing:
                raise WorkspaceError(f"a credential named '{credential.name}' already exists (use --replace to change it)")
            clash = env_var_clash([*config.credentials, credential.name])
            if clash is not None:
                raise WorkspaceError(clash[2])

        def change(config: Config) -> Config:
            check(config)
            changed = with_credential(config, credential)
            old = config.credentials.get(credential.name)
            if old is not None and old != credential:
                # a changed connection must be tested again before its integrations sync
                for item in config.integrations_using(credential.name):
                    changed = with_integration(changed, replace(item, state=IntegrationState.DRAFT))
            return changed

        check(self.config())  # a refused credential leaves the keyring alone too
        if password is not None:
            self.secrets.set(credential_account(credential.name), password)
        self.store.update(change)
        if password is None:
            self.secrets.delete(credential_account(credential.name))

    def change_password(self, name: str, password: str) -> None:
        if name not in self.config().credentials:
            raise WorkspaceError(f"no credential named '{name}'")
        self.secrets.set(credential_account(name), password)

    def remove_credential(self, name: str) -> None:
        def change(config: Config) -> Config:
            if name not in config.credentials:
                raise WorkspaceError(f"no credential named '{name}'")
            users = config.integrations_using(name)
            active = [item.name for item in users if item.state == IntegrationState.ACTIVE]
            if active:
                raise WorkspaceError(
                    f"credential '{name}' is used by active integration(s) {', '.join(active)}; pause or remove them first"
                )
            if users:
                raise WorkspaceError(
                    f"credential '{name}' is used by integration(s) {', '.join(item.name for item in users)}; remove them first"
                )
            return replace(config, credentials={key: value for key, value in config.credentials.items() if key != name})

        self.store.update(change)
        for account in credential_secret_accounts(name):
            self.secrets.delete(account)

    # integrations -------------------------------------------------------------------------
    def add_integration(self, integration: Integration) -> None:
        def change(config: Config) -> Config:
            if integration.name in config.integrations:
                raise WorkspaceError(f"an integration named '{integration.name}' already exists")
            if integration.credential not in config.credentials:
                raise WorkspaceError(f"no credential named '{integration.credential}' (add it with 'cdi-tui credentials add')")
            return with_integration(config, replace(integration, state=IntegrationState.DRAFT))

        self.store.update(change)

    def update_integration(self, name: str, **changes: Any) -> Integration:
        """Change settings of an integration; its data type is fixed once created.

        A change to the credential or the table sends it back to draft until tested again.
        """
        if "data_type" in changes:
            current = self.integration(name)
            if changes["data_type"] != current.data_type:
                raise WorkspaceError("the data type of an integration cannot be changed after it is created")
        result: list[Integration] = []

        def change(config: Config) -> Config:
            current = self.integration(name, config)
            updated = replace(current, **changes)
            if (updated.credential, updated.table) != (current.credential, current.table):
                updated = replace(updated, state=IntegrationState.DRAFT)
            result.append(updated)
            return with_integration(config, updated)

        before = self.integration(name)
        self.store.update(change)
        if (result[0].credential, result[0].table) != (before.credential, before.table):
            self.delivered.forget_integration(name)  # another source: what was delivered from the old one is no guide
        return result[0]

    def remove_integration(self, name: str) -> None:
        def change(config: Config) -> Config:
            self.integration(name, config)
            return replace(config, integrations={key: value for key, value in config.integrations.items() if key != name})

        self.store.update(change)
        self.runlog.forget_integration(name)
        self.delivered.forget_integration(name)

    def test_integration(self, name: str, preview_rows: int = 100) -> ConnectionTestResult:
        """Run the connection test; a pass is remembered for this connection and table."""
        config = self.config()
        integration = self.integration(name, config)
        credential = config.credentials[integration.credential]
        result = run_connection_test(credential, integration.table_name, integration.data_type, self.secrets, preview_rows)
        if result.ok:
            self.runlog.record_test(name, integration_fingerprint(credential, integration))
        return result

    def preview_estimate(self, integration: Integration, shape: TableShape, rows: Sequence[Sequence[Any]]) -> tuple[int, int]:
        """(data points, unchanged rows) that sending these preview rows now would give."""
        from cdi_tui.engine.changes import estimate
        from cdi_tui.engine.transform import RowTransformer

        transformer = RowTransformer(shape.select_columns, integration.data_type, integration.update_existing_only)
        objects = [result for result in (transformer.transform(list(row)) for row in rows) if isinstance(result, BrazeObject)]
        store = self.delivered if integration.sends_changed_only else None
        return estimate(objects, store, integration.name)

    def data_points_since(self, name: str, days: int = 30) -> int:
        """Data points the runs of an integration spent in the last ``days`` days."""
        return self.runlog.data_points_since(name, utc_now() - timedelta(days=days))

    def is_tested(self, name: str, config: Config | None = None) -> bool:
        config = config or self.config()
        integration = self.integration(name, config)
        credential = config.credentials[integration.credential]
        return self.runlog.tested_fingerprint(name) == integration_fingerprint(credential, integration)

    def activate(self, name: str) -> Integration:
        config = self.config()
        integration = self.integration(name, config)
        if not self.is_tested(name, config):
            raise WorkspaceError(
                f"'{name}' has not passed a connection test for its current connection and table; run 'cdi-tui test {name}' first"
            )
        if not integration.contact_emails:
            raise WorkspaceError(f"'{name}' needs at least one contact email before it can be activated")
        return self.update_integration(name, state=IntegrationState.ACTIVE)

    def pause(self, name: str) -> Integration:
        integration = self.integration(name)
        if integration.state != IntegrationState.ACTIVE:
            raise WorkspaceError(f"'{name}' is {integration.state}; only an active integration can be paused")
        return self.update_integration(name, state=IntegrationState.PAUSED)

    def tables_visible_to(self, credential: Credential, password: str | None = None) -> list[tuple[str, str]]:
        """Connect with a credential (saved, or not yet saved with its password) and list its tables.

        Raises:
            WarehouseError: the connection failed, with the fix to try.
        """
        settings = connection_settings(credential, self.secrets, password=password)
        with RedshiftSource(settings) as source:
            return source.list_tables()

    def check_braze_key(self) -> None:
        """Check the stored Braze key against the configured endpoint; spends no data points.

        Raises:
            WorkspaceError: Braze is not set up, or the key is missing.
            BrazeError, TransientFailure: the key was refused, or Braze could not be reached.
        """
        from cdi_tui.braze.client import BrazeClient, RetryPolicy

        config = self.config()
        if config.braze is None:
            raise WorkspaceError("Braze is not set up yet")
        api_key = self.secrets.get(braze_key_account())
        if api_key is None:
            raise WorkspaceError("no Braze REST API key is stored")
        with BrazeClient(config.braze.base_url, api_key, retry=RetryPolicy(max_attempts=3, backoff_base=0.2)) as client:
            client.check_key()

    # syncs --------------------------------------------------------------------------------
    def engine(self, config: Config | None = None) -> SyncEngine:
        return SyncEngine(
            config or self.config(), self.secrets, self.runlog, self.paths.data_dir / "locks", delivered=self.delivered
        )

    def sync(
        self,
        name: str,
        options: SyncOptions | None = None,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> RunRecord:
        config = self.config()
        self.integration(name, config)
        engine = self.engine(config)
        try:
            record = engine.run(name, options, progress, cancel)
        except RunLogUnavailable as error:
            return self._close_unrecorded_run(engine.config, name, error)
        return self._notify(engine.config, name, record)

    def _close_unrecorded_run(self, config: Config, name: str, error: RunLogUnavailable) -> RunRecord:
        """A run stopped because its run log could not be written: end it as cleanly as the disk allows.

        The run this process started is marked ``error`` with the reason when the disk still
        takes that one write; otherwise it stays ``running`` and the next run marks it
        interrupted. Either way the watermark on disk is the last one saved, so the next run
        resumes from there and nothing is lost.

        Raises:
            RunLogUnavailable: when no run was started (nothing was sent).
        """
        log.error("run of %s stopped: %s", name, error)
        record: RunRecord | None = None
        with contextlib.suppress(RunLogUnavailable):
            run_id = self.runlog.running_run_of(name, os.getpid())
            record = self.runlog.run(run_id) if run_id is not None else None
        if record is None:
            raise error
        ended = utc_now()
        with contextlib.suppress(RunLogUnavailable):
            self.runlog.update_run(record.id, status=RunStatus.ERROR, ended_at=ended, error=str(error))
        record = replace(record, status=RunStatus.ERROR, ended_at=ended, error=str(error))
        from cdi_tui.notify import notify_run

        with contextlib.suppress(RunLogUnavailable):
            notify_run(config.smtp, config.integrations[name], record, [], self.secrets)
        return record

    def _notify(self, config: Config, name: str, record: RunRecord) -> RunRecord:
        """Email the contacts when the run warrants it; the outcome is kept on the run."""
        from cdi_tui.notify import notify_run

        integration = config.integrations[name]
        try:
            failed_rows = self.runlog.row_errors(record.id, limit=5)
        except RunLogUnavailable:  # the run ended because its run log failed: notify without the rows
            failed_rows = []
        outcome = notify_run(config.smtp, integration, record, failed_rows, self.secrets)
        if outcome is None:
            return record
        try:
            self.runlog.update_run(record.id, notification=outcome)
            updated = self.runlog.run(record.id)
        except RunLogUnavailable:
            return replace(record, notification=outcome)
        return updated if updated is not None else record

    def set_smtp(self, settings: SmtpSettings, password: str | None) -> None:
        if password is not None:
            self.secrets.set(smtp_password_account(), password)
        self.store.update(lambda config: replace(config, smtp=settings))
