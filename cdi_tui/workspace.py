"""The product's operations, shared by the command line and the app.

:class:`Workspace` ties together the config store, the run log, the secret store and the
sync engine, and enforces the rules of the seed: one integration per table, the data type
fixed from activation, a draft until a connection test passes, activation only with a contact
email, and no removing a credential that integrations use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from cdi_tui.braze.client import Catalog
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.braze.rules import DEFAULT_DELETE_PRIORITIZATION
from cdi_tui.checks import (
    BRAZE_UNAVAILABLE,
    BrazeCheckError,
    ConnectionTestResult,
    accept_ssh_host_key,
    check_catalog,
    connection_settings,
    integration_fingerprint,
    run_connection_test,
    unknown_catalog_fields,
)
from cdi_tui.config import (
    CHANGED_ONLY_TYPES,
    DEFAULT_WORKSPACE,
    BrazeSettings,
    Config,
    ConfigStore,
    Credential,
    Integration,
    SmtpSettings,
    env_var_clash,
    with_credential,
    with_integration,
    with_workspace,
    workspace_env_var_clash,
)
from cdi_tui.engine.changes import DeliveredStore, estimate
from cdi_tui.engine.lock import RunInProgress, RunLock
from cdi_tui.engine.sync import DELIVERED_FILE, Progress, ProgressCallback, SyncEngine, SyncOptions, SyncRefused
from cdi_tui.engine.transform import RowError, RowTransformer
from cdi_tui.enums import DataType, IntegrationState, RunStatus, Trigger
from cdi_tui.errors import CdiError
from cdi_tui.paths import AppPaths
from cdi_tui.runlog import (
    ROW_ERROR_COLUMNS,
    RowErrorRecord,
    RunLog,
    RunLogUnavailable,
    RunRecord,
    to_text,
    utc_now,
    write_row_errors_csv,
)
from cdi_tui.scheduler import DueRun, claim, due_runs
from cdi_tui.secret_store import (
    CredentialsService,
    KeyringCredentials,
    MemoryCredentials,
    SecretMissing,
    SecretsUnavailable,
    braze_key_account,
    braze_key_label,
    credential_account,
    credential_secret_accounts,
    serve_token_account,
    smtp_password_account,
    ssh_key_account,
)
from cdi_tui.warehouse.source import RedshiftSource, TableShape

if TYPE_CHECKING:
    from cdi_tui.alerts import AlertFacts, Transition
    from cdi_tui.credential_setup import TunnelKey
    from cdi_tui.monitor import MonitorSnapshot
    from cdi_tui.service.http import Listen
    from cdi_tui.service.loop import Service

log = logging.getLogger("cdi_tui.workspace")

# what the front ends need of the core besides Workspace itself: they import it from here
__all__ = [
    "ROW_ERROR_COLUMNS",
    "DueDecision",
    "Progress",
    "ProgressCallback",
    "RowErrorRecord",
    "RowVerdict",
    "RunInProgress",
    "RunLogUnavailable",
    "RunRecord",
    "SecretsUnavailable",
    "SyncOptions",
    "SyncRefused",
    "Workspace",
    "WorkspaceError",
    "braze_key_label",
    "to_text",
    "write_row_errors_csv",
]


class WorkspaceError(CdiError):
    """An operation breaks a rule; the message says which and what to do."""


def _check_place(config: Config, integration: Integration, except_name: str | None = None) -> None:
    """An integration's Braze workspace exists (once Braze is set up at all).

    Raises:
        WorkspaceError: naming the workspaces there are.
    """
    if config.workspaces and integration.workspace not in config.workspaces:
        raise WorkspaceError(
            f"no Braze workspace named '{integration.workspace}' (workspaces: {', '.join(sorted(config.workspaces))}; "
            f"add it with 'cdi-tui braze set --workspace {integration.workspace} --endpoint INSTANCE')"
        )


class IntegrationChanges(TypedDict, total=False):
    """The settings :meth:`Workspace.update_integration` may change (typed, so mypy checks them)."""

    credential: str
    table: str
    data_type: DataType  # refused once fixed (Workspace.data_type_fixed_reason)
    frequency: str
    contact_emails: tuple[str, ...]
    state: IntegrationState
    update_existing_only: bool
    notify_row_error_percent: float | None
    notify_success: bool
    notify_no_rows: bool
    send_changed_only: bool | None
    delete_prioritization: tuple[str, ...] | None
    catalog: str | None
    workspace: str  # another Braze workspace: back to draft until tested again
    alert_no_success_hours: float | None
    alert_run_minutes: float | None
    alert_row_error_percent: float | None
    alert_retry_rows: int | None
    alert_rate_limited_percent: float | None
    alert_webhooks: tuple[str, ...]
    alert_webhook_format: str | None
    ping_url: str | None
    pause_after_failures: int | None


@dataclass(frozen=True)
class RowVerdict:
    """What a sync would make of one preview row: a Braze object, or the reason it is not sent."""

    object: BrazeObject | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class DueDecision:
    """A scheduled run that is due: claimed and to start now, or skipped, and why: ``busy`` (a run
    of the integration is under way; its slot is left unclaimed) or ``taken`` (another
    scheduler claimed the slot first)."""

    due: DueRun
    skipped: Literal["busy", "taken"] | None = None


def _run_summary(record: RunRecord) -> str:
    """One line about a run, for a ping's body (the checking service shows it)."""
    return f"run #{record.id} {record.status}: read {record.rows_read}, sent {record.rows_sent}, failed {record.rows_failed}" + (
        f"; {record.error}" if record.error else ""
    )


def _ping_when_started(url: str, progress: ProgressCallback | None) -> ProgressCallback:
    """A progress callback that sends the ``start`` ping at the run's first report, then passes each on."""
    started = threading.Event()

    def report(snapshot: Progress) -> None:
        if not started.is_set():
            started.set()
            from cdi_tui.alert_delivery import ping

            problem = ping(url, "start", f"run #{snapshot.run_id} of {snapshot.integration} started")
            if problem:
                log.error("start ping of %s not delivered: %s", snapshot.integration, problem)
        if progress is not None:
            progress(snapshot)

    return report


def row_verdicts(
    shape: TableShape,
    rows: Sequence[Sequence[Any]],
    data_type: DataType,
    update_existing_only: bool,
    delete_prioritization: tuple[str, ...] = DEFAULT_DELETE_PRIORITIZATION,
    catalog: Catalog | None = None,
) -> list[RowVerdict]:
    """What a sync would make of each row; with ``catalog``, an item holding a field the catalog
    does not have is not valid (Braze would refuse it)."""
    transformer = RowTransformer(shape.select_columns, data_type, update_existing_only, delete_prioritization)
    verdicts = []
    for row in rows:
        outcome = transformer.transform(list(row))
        if isinstance(outcome, RowError):
            verdicts.append(RowVerdict(None, outcome.message))
            continue
        unknown = unknown_catalog_fields(catalog, outcome.body) if catalog is not None else None
        verdicts.append(RowVerdict(None, unknown) if unknown is not None else RowVerdict(outcome, None))
    return verdicts


class Workspace:
    """The one door of the app and the command line into the core.

    The config store, the run log, the store of delivered values, the secret store and the
    sync engine are its own: front ends ask it, and it keeps the product's rules.
    """

    def __init__(self, paths: AppPaths, secrets: CredentialsService) -> None:
        self.paths = paths.ensure()
        self._secrets = secrets
        secrets.bind_home(self.paths)  # a keyring keeps this home's secrets apart from every other home's
        self._store = ConfigStore(paths.config_file)
        self._runlog_value: RunLog | None = None
        self._delivered_value: DeliveredStore | None = None
        self._open_lock = threading.Lock()

    @classmethod
    def with_keyring(cls, paths: AppPaths) -> Workspace:
        """The workspace of a home, its secrets in the OS keyring under the home's own service
        (an environment variable, where set, wins over the keyring: see :mod:`cdi_tui.secret_store`)."""
        return cls(paths, KeyringCredentials.for_home(paths))

    @property
    def keeps_secrets_in_memory(self) -> bool:
        """Secrets live in this process only (the demo's): nothing reaches a keyring, all is gone at exit."""
        return isinstance(self._secrets, MemoryCredentials)

    @property
    def _runlog(self) -> RunLog:
        with self._open_lock:
            if self._runlog_value is None:
                self._runlog_value = RunLog(self.paths.run_log, read_only=self.paths.read_only is not None)
            return self._runlog_value

    @property
    def _delivered(self) -> DeliveredStore:
        """What attribute integrations delivered, for "send only changed attributes"."""
        with self._open_lock:
            if self._delivered_value is None:
                self._delivered_value = DeliveredStore(self.paths.data_dir / DELIVERED_FILE)
            return self._delivered_value

    def close(self) -> None:
        if self._runlog_value is not None:
            self._runlog_value.close()
            self._runlog_value = None
        if self._delivered_value is not None:
            self._delivered_value.close()
            self._delivered_value = None

    def config(self) -> Config:
        return self._store.load()

    @property
    def read_only(self) -> str | None:
        """Why nothing may be changed or synced here (``--read-only``, a home that cannot be written), or None."""
        return self.paths.read_only

    def _writable(self) -> None:
        """Raises :class:`WorkspaceError` when this workspace is read-only: nothing is changed or synced."""
        if self.paths.read_only is not None:
            raise WorkspaceError(f"read-only ({self.paths.read_only}): nothing is changed or synced")

    def integration(self, name: str, config: Config | None = None) -> Integration:
        config = config or self.config()
        if name not in config.integrations:
            known = ", ".join(sorted(config.integrations)) or "none yet"
            raise WorkspaceError(f"no integration named '{name}' (integrations: {known})")
        return config.integrations[name]

    # Braze --------------------------------------------------------------------------------
    def set_braze(self, settings: BrazeSettings, api_key: str | None, workspace: str = DEFAULT_WORKSPACE) -> None:
        """Save a Braze workspace's settings (a new workspace, or changes to one), and its key when given.

        Raises:
            WorkspaceError: its API key variable would be another workspace's (names differing only in case).
        """
        self._writable()
        clash = workspace_env_var_clash([*self.config().workspaces, workspace])
        if clash is not None:
            raise WorkspaceError(clash[2])
        if api_key is not None:
            self._secrets.set(braze_key_account(workspace), api_key)
        self._store.update(lambda config: with_workspace(config, workspace, settings))

    def remove_braze_workspace(self, name: str) -> None:
        """Remove a Braze workspace and its key; refused while integrations sync to it.

        Raises:
            WorkspaceError: no such workspace, or integrations name it (the message names them).
        """
        self._writable()

        def change(config: Config) -> Config:
            if name not in config.workspaces:
                known = ", ".join(sorted(config.workspaces)) or "none"
                raise WorkspaceError(f"no Braze workspace named '{name}' (workspaces: {known})")
            users = config.integrations_in(name)
            if users:
                named = ", ".join(f"{item.name} ({item.state})" for item in users)
                raise WorkspaceError(
                    f"workspace '{name}' is used by integration(s) {named}; move them to another workspace "
                    "('cdi-tui integrations set NAME --workspace W') or remove them first"
                )
            return replace(config, workspaces={key: value for key, value in config.workspaces.items() if key != name})

        self._store.update(change)
        self._secrets.delete(braze_key_account(name))

    def workspace_for_new_integration(self, config: Config | None = None) -> str:
        """The Braze workspace a new integration syncs to when it names none: ``default`` (or the only one).

        Raises:
            WorkspaceError: several workspaces and none named ``default``: the integration must say which.
        """
        config = config or self.config()
        if DEFAULT_WORKSPACE in config.workspaces or len(config.workspaces) <= 1:
            return config.main_workspace
        raise WorkspaceError(
            f"there are several Braze workspaces ({', '.join(sorted(config.workspaces))}): "
            "name the integration's with --workspace"
        )

    def has_braze_key(self, workspace: str = DEFAULT_WORKSPACE) -> bool:
        """A Braze workspace's REST API key is stored (or given in its environment variable).

        Raises:
            SecretsUnavailable: the keyring cannot be used.
            SecretRefused: the environment variable holds a control character.
        """
        return self._secrets.get(braze_key_account(workspace)) is not None

    # credentials --------------------------------------------------------------------------
    def add_credential(self, credential: Credential, password: str | None, replace_existing: bool = False) -> None:
        """Save a credential; ``password`` None (IAM sign-in) stores none and drops an old one."""
        self._writable()

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
            if old is not None and replace(old, max_rows_per_query=credential.max_rows_per_query) != credential:
                # a changed connection must be tested again before its integrations sync (how many
                # rows a query may return is not the connection)
                for item in config.integrations_using(credential.name):
                    changed = with_integration(changed, replace(item, state=IntegrationState.DRAFT))
            return changed

        check(self.config())  # a refused credential leaves the keyring alone too
        if password is not None:
            self._secrets.set(credential_account(credential.name), password)
        self._store.update(change)
        if password is None:
            self._secrets.delete(credential_account(credential.name))

    def change_password(self, name: str, password: str) -> None:
        self._writable()
        if name not in self.config().credentials:
            raise WorkspaceError(f"no credential named '{name}'")
        self._secrets.set(credential_account(name), password)

    def stored_password(self, name: str) -> str | None:
        """The password a credential signs in with (its environment variable first), or None (IAM, or none saved)."""
        return self._secrets.get(credential_account(name))

    def serve_token(self) -> str | None:
        """The trigger API's bearer token (``cdi-tui serve token --new``), or None when none is stored;
        :class:`~cdi_tui.secret_store.SecretsUnavailable` when the secret store cannot be read."""
        return self._secrets.get(serve_token_account())

    def new_serve_token(self) -> str:
        """Make a new bearer token for the trigger API, keep it in the secret store, and return it (shown once)."""
        import secrets as token_source

        token = token_source.token_urlsafe(32)
        self._secrets.set(serve_token_account(), token)
        return token

    def remove_serve_token(self) -> None:
        self._secrets.delete(serve_token_account())

    def service(self, interval: float, listen: Listen | None, token: str | None, say: Callable[..., None]) -> Service:
        """The ``serve`` loop over this home, with the secret store this workspace reads (shared by the
        workspaces the service opens)."""
        from cdi_tui.service.loop import Service

        return Service(self.paths, self._secrets, interval, listen, token, say)

    def has_generated_ssh_key(self, name: str) -> bool:
        """cdi-tui made the key pair of the credential's SSH tunnel, and keeps its private key."""
        return self._secrets.get(ssh_key_account(name)) is not None

    def save_credential(
        self,
        credential: Credential,
        password: str | None,
        *,
        replace_existing: bool = False,
        generate_ssh_key: bool = False,
        ssh_passphrase: str | None = None,
    ) -> TunnelKey | None:
        """Save a credential with its secrets (a tunnel's key pair made when asked): ``credentials add``
        and the app's credential forms. See :func:`cdi_tui.credential_setup.save_credential`.

        Returns:
            The tunnel key's public half, for the bastion's ``authorized_keys`` (None without a
            tunnel, or when an earlier generated key is kept).

        Raises:
            CredentialSetupError: inconsistent settings; WarehouseError (``ssh_key``) when the key
                file cannot be read or the passphrase does not open it; SecretRefused: a secret
                with a control character (nothing is saved); WorkspaceError from saving.
        """
        from cdi_tui.credential_setup import save_credential

        return save_credential(
            self,
            self._secrets,
            credential,
            password,
            replace_existing=replace_existing,
            generate_ssh_key=generate_ssh_key,
            ssh_passphrase=ssh_passphrase,
        )

    def tunnel_key(self, credential: Credential) -> TunnelKey:
        """The public half of a tunnelled credential's key (generated or from its key file).

        Raises:
            CredentialSetupError: the credential uses no SSH tunnel.
            WarehouseError: kind ``ssh_key`` when the key is missing or cannot be read.
        """
        from cdi_tui.credential_setup import tunnel_key_of

        return tunnel_key_of(credential, self._secrets)

    def remove_credential(self, name: str) -> None:
        self._writable()

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

        self._store.update(change)
        for account in credential_secret_accounts(name):
            self._secrets.delete(account)

    # integrations -------------------------------------------------------------------------
    def add_integration(self, integration: Integration) -> None:
        self._writable()

        def change(config: Config) -> Config:
            if integration.name in config.integrations:
                raise WorkspaceError(f"an integration named '{integration.name}' already exists")
            if integration.credential not in config.credentials:
                raise WorkspaceError(f"no credential named '{integration.credential}' (add it with 'cdi-tui credentials add')")
            _check_place(config, integration)
            return with_integration(config, replace(integration, state=IntegrationState.DRAFT))

        self._store.update(change)

    def copy_integration(self, name: str, to_workspace: str, new_name: str | None = None) -> Integration:
        """Copy an integration to another Braze workspace (to promote it from development to
        production): every setting, as a draft that needs its own connection test there; no runs,
        no watermark, nothing delivered. A catalogs integration keeps writing to the same catalog.
        Its alerts come along (the webhooks' signing secret too); its ping URL does not, as a
        dead-man's switch watches one job: the copy gets its own with ``integrations set``.

        Args:
            new_name: the copy's name (default: the name with ``-<workspace>`` added).

        Raises:
            WorkspaceError: no such integration or workspace, or the name is taken.
        """
        from cdi_tui.secret_store import alert_secret_account

        self._writable()
        result: list[Integration] = []
        signing_secret = self._secrets.get(alert_secret_account(name)) if name in self.config().integrations else None

        def change(config: Config) -> Config:
            source = self.integration(name, config)
            if to_workspace not in config.workspaces:
                known = ", ".join(sorted(config.workspaces)) or "none"
                raise WorkspaceError(
                    f"no Braze workspace named '{to_workspace}' (workspaces: {known}; add it with 'cdi-tui braze set')"
                )
            copy_name = new_name or f"{name}-{to_workspace}"
            if copy_name in config.integrations:
                raise WorkspaceError(f"an integration named '{copy_name}' already exists; give the copy another with --name")
            catalog = source.catalog_name if source.data_type == DataType.CATALOGS else None
            copy = replace(
                source, name=copy_name, workspace=to_workspace, state=IntegrationState.DRAFT, catalog=catalog, ping_url=None
            )
            if catalog == copy_name:
                copy = replace(copy, catalog=None)  # named after its catalog already
            _check_place(config, copy)
            result.append(copy)
            return with_integration(config, copy)

        self._store.update(change)
        if signing_secret is not None:
            self._secrets.set(alert_secret_account(result[0].name), signing_secret)
        return result[0]

    def data_type_fixed_reason(self, name: str, config: Config | None = None) -> str | None:
        """Why the data type of an integration can no longer change, or None while it can.

        It can change while the integration is a draft that has never synced (dry runs do not
        count): once activated, or once rows were sent, it is fixed.
        """
        integration = self.integration(name, config)
        if integration.state != IntegrationState.DRAFT:
            return f"the data type of '{name}' is fixed: it was activated (a draft's data type can change until activation)"
        if self._runlog.last_run(name) is not None:
            return f"the data type of '{name}' is fixed: it has synced already"
        return None

    def update_integration(self, name: str, **changes: Unpack[IntegrationChanges]) -> Integration:
        """Change settings of an integration; its data type only while :meth:`data_type_fixed_reason` allows.

        A change to the credential, the table or the Braze workspace sends it back to draft until
        tested again (a new data type needs a new test too: the test checks the table against
        it). Any of these, or turning "send only changed" off, forgets what was delivered: while it
        is off nothing is remembered, so the values kept would go stale; and what one workspace
        holds is no guide to another's.
        """
        self._writable()
        if "data_type" in changes and changes["data_type"] != self.integration(name).data_type:
            reason = self.data_type_fixed_reason(name)
            if reason is not None:
                raise WorkspaceError(reason)
        result: list[Integration] = []

        def change(config: Config) -> Config:
            current = self.integration(name, config)
            updated = replace(current, **changes)
            if updated.data_type != current.data_type and updated.data_type not in CHANGED_ONLY_TYPES:
                updated = replace(updated, send_changed_only=None)  # an option of attributes and catalogs only
            if updated.data_type != current.data_type and updated.data_type != DataType.CATALOGS:
                updated = replace(updated, catalog=None)  # a catalogs-only option
            if updated.data_type != current.data_type and updated.data_type != DataType.DELETES:
                updated = replace(updated, delete_prioritization=None)  # a deletes-only option
            if (updated.credential, updated.table, updated.workspace) != (current.credential, current.table, current.workspace):
                updated = replace(updated, state=IntegrationState.DRAFT)
            _check_place(config, updated, except_name=name)
            result.append(updated)
            return with_integration(config, updated)

        before = self.integration(name)
        self._store.update(change)
        source = (before.credential, before.table, before.data_type, before.catalog_name, before.workspace)
        after = result[0]
        if (after.credential, after.table, after.data_type, after.catalog_name, after.workspace) != source:
            self._delivered.forget_integration(name)  # another source, catalog or workspace: what was delivered is no guide
        elif before.sends_changed_only and not result[0].sends_changed_only:
            self._delivered.forget_integration(name)  # turned on again later, every value is sent once more
        return result[0]

    def remove_integration(self, name: str) -> None:
        self._writable()

        def change(config: Config) -> Config:
            self.integration(name, config)
            return replace(config, integrations={key: value for key, value in config.integrations.items() if key != name})

        self._store.update(change)
        self._runlog.forget_integration(name)
        self._delivered.forget_integration(name)
        from cdi_tui.secret_store import alert_secret_account

        with contextlib.suppress(Exception):  # a keyring that cannot be reached keeps an orphan secret, no more
            self._secrets.delete(alert_secret_account(name))

    def test_integration(self, name: str, preview_rows: int = 100) -> ConnectionTestResult:
        """Run the connection test; a pass is remembered for this connection and table."""
        self._writable()
        config = self.config()
        integration = self.integration(name, config)
        credential = config.credentials[integration.credential]
        result = run_connection_test(credential, integration.table_name, integration.data_type, self._secrets, preview_rows)
        if result.ok and integration.data_type == DataType.CATALOGS:
            self._test_catalog(config, integration, result)
        if result.ok:
            self._runlog.record_test(name, integration_fingerprint(credential, integration))
        return result

    def _test_catalog(self, config: Config, integration: Integration, result: ConnectionTestResult) -> None:
        """A catalogs integration's test goes on in Braze: its catalog exists and has the preview rows' fields."""
        assert result.shape is not None and result.preview is not None
        bodies = [verdict.object.body for verdict in row_verdicts(result.shape, result.preview.rows, DataType.CATALOGS, False)
                  if verdict.object is not None]  # fmt: skip

        def list_catalogs() -> dict[str, Catalog]:
            from cdi_tui.braze.client import BrazeClient, BrazeError, RetryPolicy, TransientFailure

            braze = config.braze_of(integration)
            if braze is None:
                raise BrazeCheckError(
                    BRAZE_UNAVAILABLE,
                    f"Braze workspace '{integration.workspace}' is not set up, and a catalog sync's test checks its "
                    "catalog there",
                    f"Set it up first: cdi-tui braze set --workspace {integration.workspace} --endpoint INSTANCE "
                    "(the REST API key on stdin).",
                )
            try:
                api_key = self._secrets.require(braze_key_account(integration.workspace), braze_key_label(integration.workspace))
                with BrazeClient(braze.base_url, api_key, retry=RetryPolicy(max_attempts=3, backoff_base=0.2)) as client:
                    return client.list_catalogs()
            except SecretMissing as error:
                raise BrazeCheckError(BRAZE_UNAVAILABLE, str(error), "Save the Braze REST API key again.") from None
            except (BrazeError, TransientFailure) as error:
                raise BrazeCheckError(
                    BRAZE_UNAVAILABLE,
                    f"The catalogs could not be listed: {error}",
                    "Check the Braze endpoint and that the REST API key has the catalogs.get permission.",
                ) from None

        check_catalog(result, integration.catalog_name, list_catalogs, bodies)

    def preview_verdicts(
        self,
        result: ConnectionTestResult,
        data_type: DataType,
        update_existing_only: bool = False,
        delete_prioritization: tuple[str, ...] = DEFAULT_DELETE_PRIORITIZATION,
    ) -> list[RowVerdict]:
        """What a sync would make of each preview row of a connection test (the VALID? column); a
        catalog's rows are checked against its fields too."""
        if result.shape is None or result.preview is None:
            return []
        return row_verdicts(
            result.shape, result.preview.rows, data_type, update_existing_only, delete_prioritization, result.catalog
        )

    def preview_estimate(self, integration: Integration, shape: TableShape, rows: Sequence[Sequence[Any]]) -> tuple[int, int]:
        """(data points, unchanged rows) that sending these preview rows now would give."""
        verdicts = row_verdicts(shape, rows, integration.data_type, integration.update_existing_only, integration.prioritization)
        objects = [verdict.object for verdict in verdicts if verdict.object is not None]
        store = self._delivered if integration.sends_changed_only else None
        return estimate(objects, store, integration.name, whole_items=integration.data_type == DataType.CATALOGS)

    def data_points_since(self, name: str, days: int = 30, now: datetime | None = None) -> int:
        """Data points the runs of an integration spent in the ``days`` days before ``now`` (default: now)."""
        return self._runlog.data_points_since(name, (now or utc_now()) - timedelta(days=days))

    def accept_host_key(self, credential_name: str, shown_fingerprint: str) -> Credential:
        """Trust the SSH host key a connection test showed for a credential's bastion.

        Raises:
            WorkspaceError: no such credential.
            WarehouseError: the key shown is not the bastion's key now.
        """
        self._writable()
        credential = self.config().credentials.get(credential_name)
        if credential is None:
            raise WorkspaceError(f"no credential named '{credential_name}'")
        return accept_ssh_host_key(self._store, credential, shown_fingerprint)

    def is_tested(self, name: str, config: Config | None = None) -> bool:
        config = config or self.config()
        integration = self.integration(name, config)
        credential = config.credentials[integration.credential]
        return self._runlog.tested_fingerprint(name) == integration_fingerprint(credential, integration)

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
        settings = connection_settings(credential, self._secrets, password=password)
        with RedshiftSource(settings) as source:
            return source.list_tables()

    def check_braze_key(self, workspace: str | None = None) -> None:
        """Check a workspace's stored Braze key against its endpoint (default: the main workspace);
        spends no data points.

        Raises:
            WorkspaceError: that workspace is not set up, or its key is missing.
            BrazeError, TransientFailure: the key was refused, or Braze could not be reached.
        """
        from cdi_tui.braze.client import BrazeClient, RetryPolicy

        config = self.config()
        name = workspace or config.main_workspace
        settings = config.workspaces.get(name)
        if settings is None:
            raise WorkspaceError("Braze is not set up yet" if not config.workspaces else f"no Braze workspace named '{name}'")
        try:
            api_key = self._secrets.require(braze_key_account(name), braze_key_label(name))
        except SecretMissing as error:
            raise WorkspaceError(str(error)) from None
        with BrazeClient(settings.base_url, api_key, retry=RetryPolicy(max_attempts=3, backoff_base=0.2)) as client:
            client.check_key()

    # runs -------------------------------------------------------------------------------
    def runs(self, name: str, limit: int = 100) -> list[RunRecord]:
        """The newest runs of an integration, newest first."""
        return self._runlog.runs(name, limit)

    def run(self, run_id: int) -> RunRecord | None:
        return self._runlog.run(run_id)

    def last_run(self, name: str) -> RunRecord | None:
        return self._runlog.last_run(name)

    def row_errors(self, run_id: int, search: str | None = None, limit: int | None = None) -> list[RowErrorRecord]:
        """The failed rows of a run; ``search`` keeps those whose identifier contains it."""
        return self._runlog.row_errors(run_id, search=search, limit=limit)

    # syncs --------------------------------------------------------------------------------
    def _engine(self, config: Config | None = None) -> SyncEngine:
        return SyncEngine(
            config or self.config(), self._secrets, self._runlog, self.paths.data_dir / "locks", delivered=self._delivered
        )

    def check_can_sync(self, name: str, dry_run: bool = False) -> Integration:
        """The integration, when it may sync now (``dry_run``: when it may be estimated now).

        Raises:
            WorkspaceError: no such integration.
            SyncRefused: it may not sync yet (a draft, untested, Braze not set up), with the reason.
        """
        config = self.config()
        integration = self.integration(name, config)
        self._engine(config).ensure_can_sync(integration, dry_run=dry_run)
        return integration

    def is_syncing(self, name: str) -> bool:
        """A run of the integration is under way, in this process or another."""
        return RunLock(self.paths.data_dir / "locks", name).is_held()

    def due_runs(self, now: datetime) -> list[DueRun]:
        """The active integrations whose scheduled run is due at ``now``."""
        return due_runs(self.config(), self._runlog, now)

    def take_due_runs(self, now: datetime, running: Callable[[str], bool] | None = None) -> Iterator[DueDecision]:
        """The due runs, each claimed just before it is handed out, so a slot runs once.

        Whatever looks (the app, ``run-due``, ``serve``), a slot is claimed atomically in the
        run log. A due integration that is syncing now (``running``, or another process) is
        skipped without claiming its slot: it runs at the next look after the run ends.
        Claiming is lazy: a caller that stops iterating leaves the later slots unclaimed.
        """
        self._writable()
        for due in self.due_runs(now):
            if (running is not None and running(due.integration)) or self.is_syncing(due.integration):
                yield DueDecision(due, "busy")
            elif not claim(self._runlog, due):
                yield DueDecision(due, "taken")
            else:
                yield DueDecision(due)

    def sync(
        self,
        name: str,
        options: SyncOptions | None = None,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> RunRecord:
        self._writable()
        config = self.config()
        integration = self.integration(name, config)
        engine = self._engine(config)
        last_before = self._runlog.last_run(name)
        if integration.ping_url and not (options is not None and options.dry_run):
            progress = _ping_when_started(integration.ping_url, progress)
        try:
            record = engine.run(name, options, progress, cancel)
        except RunLogUnavailable as error:
            return self._close_unrecorded_run(engine.config, name, error)
        except Exception:
            # a bug (an exception nobody expected) ended the run: the engine recorded it as an error;
            # the contacts hear of it as of any failed run, then the error goes on to the caller
            self._notify_unexpected_end(engine.config, name, last_before.id if last_before else None)
            raise
        return self._notify(engine.config, name, record)

    def _notify_unexpected_end(self, config: Config, name: str, run_before: int | None) -> None:
        """Email about the run this call started, if it was recorded; never raises over the error being handled."""
        try:
            record = self._runlog.last_run(name)
            if record is not None and record.id != run_before:
                self._notify(config, name, record)
        except Exception:  # the original error matters more than this one
            log.exception("could not notify the contacts of %s about a run that ended unexpectedly", name)

    def estimate(
        self,
        name: str,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> RunRecord:
        """What a sync would spend now: a dry run over the whole pending range (it sends nothing).

        The run is recorded (as a dry run); its ``data_points`` and ``rows_unchanged`` are the
        estimate. Unlike a sync, a draft may be estimated once it has passed its connection test
        for its current connection and table (the setup's test step asks before activating).

        Raises:
            WorkspaceError: no such integration.
            SyncRefused: it may not run (untested, tested for another connection or table, Braze not set up).
            RunInProgress: a run of it is under way.
        """
        return self.sync(name, SyncOptions(trigger=Trigger.MANUAL, dry_run=True), progress, cancel)

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
            run_id = self._runlog.running_run_of(name, os.getpid())
            record = self._runlog.run(run_id) if run_id is not None else None
        if record is None:
            raise error
        ended = utc_now()
        with contextlib.suppress(RunLogUnavailable):
            self._runlog.update_run(record.id, status=RunStatus.ERROR, ended_at=ended, error=str(error))
        record = replace(record, status=RunStatus.ERROR, ended_at=ended, error=str(error))
        from cdi_tui.notify import notify_run

        with contextlib.suppress(RunLogUnavailable):
            notify_run(config.smtp, config.integrations[name], record, [], self._secrets)
        return record

    def _notify(self, config: Config, name: str, record: RunRecord) -> RunRecord:
        """Email the contacts when the run warrants it (the outcome is kept on the run); ping the
        integration's ping URL and check its alerts (never failing the run over either)."""
        from cdi_tui.notify import notify_run

        integration = config.integrations[name]
        if not record.dry_run:
            self._after_run(config, integration, record)
        try:
            failed_rows = self._runlog.row_errors(record.id, limit=5)
        except RunLogUnavailable:  # the run ended because its run log failed: notify without the rows
            failed_rows = []
        outcome = notify_run(config.smtp, integration, record, failed_rows, self._secrets)
        if outcome is None:
            return record
        try:
            self._runlog.update_run(record.id, notification=outcome)
            updated = self._runlog.run(record.id)
        except RunLogUnavailable:
            return replace(record, notification=outcome)
        return updated if updated is not None else record

    # alerts, pings and monitoring -----------------------------------------------------------
    def _after_run(self, config: Config, integration: Integration, record: RunRecord) -> None:
        from cdi_tui.alert_delivery import ping
        from cdi_tui.alerts import SUCCEEDED_STATUSES

        if integration.ping_url and record.status != RunStatus.CANCELLED:
            kind = "success" if record.status in SUCCEEDED_STATUSES else "fail"
            problem = ping(integration.ping_url, kind, _run_summary(record))
            if problem:
                log.error("ping of %s not delivered: %s", integration.name, problem, extra={"integration": integration.name})
        try:
            self.check_alerts(integration.name, config=config)
        except Exception:  # an alert never fails the run it is about
            log.exception("checking the alerts of %s failed", integration.name)

    def _alert_facts(self, name: str, now: datetime) -> AlertFacts:
        from cdi_tui.alerts import AlertFacts, AlertRule, failures_in_a_row

        integration = self.integration(name)
        wanted = max(50, (integration.pause_after_failures or 0) + 10)
        runs = [run for run in self._runlog.runs(name, wanted) if not run.dry_run]
        running = next((run for run in runs if run.status == RunStatus.RUNNING), None)
        if running is not None and not self.is_syncing(name):
            running = None  # its process died: the next run marks it interrupted
        last_finished = next((run for run in runs if run.status != RunStatus.RUNNING), None)
        success = self._runlog.last_success(name)
        paused = self._runlog.alert_states(name).get(AlertRule.AUTO_PAUSED)
        return AlertFacts(
            now=now,
            last_finished=last_finished,
            running=running,
            last_success_at=success.ended_at if success is not None else None,
            first_run_at=self._runlog.first_run_started(name),
            retry_rows=self._runlog.retry_row_counts().get(name, 0),
            failures_in_a_row=failures_in_a_row(runs, since=paused[1] if paused else None),
        )

    def check_alerts(self, name: str, now: datetime | None = None, config: Config | None = None) -> list[Transition]:
        """Evaluate an integration's alerts; send those whose state changed (and pause it if the
        auto-pause fired). Each change is announced once, whatever else looks at the same time.

        Returns:
            The transitions this call announced.
        """
        from cdi_tui.alert_delivery import deliver
        from cdi_tui.alerts import AlertRule, conditions, transitions

        if self.paths.read_only is not None:
            return []
        now = now or utc_now()
        config = config or self.config()
        integration = self.integration(name, config)
        if integration.state == IntegrationState.DRAFT:
            return []
        found = conditions(integration, self._alert_facts(name, now))
        announced = [
            change
            for change in transitions(name, found, self._runlog.alert_states(name), now)
            if self._runlog.move_alert(name, change.rule, change.firing, change.detail, now)
        ]
        if any(change.rule == AlertRule.AUTO_PAUSED and change.firing for change in announced):
            self.update_integration(name, state=IntegrationState.PAUSED)
            log.warning("%s paused after failed runs in a row", name, extra={"integration": name, "event": "auto_paused"})
        if announced:
            deliver(integration, announced, config.smtp, self._secrets)
        return announced

    def check_all_alerts(self, now: datetime | None = None) -> list[Transition]:
        """:meth:`check_alerts` for every integration that is not a draft (``serve`` and ``run-due`` call it)."""
        now = now or utc_now()
        config = self.config()
        announced: list[Transition] = []
        for name, integration in sorted(config.integrations.items()):
            if integration.state == IntegrationState.DRAFT:
                continue
            try:
                announced.extend(self.check_alerts(name, now, config))
            except RunLogUnavailable:
                raise
            except Exception:  # one integration's alerts never stop the others'
                log.exception("checking the alerts of %s failed", name)
        return announced

    def firing_alerts(self) -> list[tuple[str, str]]:
        """(integration, alert) of every alert firing now."""
        return self._runlog.firing_alerts()

    def set_alert_webhook_secret(self, name: str, secret: str | None) -> None:
        """Keep (or, with None, forget) the HMAC secret that signs an integration's JSON alerts."""
        self._writable()
        self.integration(name)
        from cdi_tui.secret_store import alert_secret_account

        if secret is None:
            self._secrets.delete(alert_secret_account(name))
        else:
            self._secrets.set(alert_secret_account(name), secret)

    def run_log_problem(self) -> str | None:
        """Why the run log cannot be written now (read-only, full, removed), or None when a write went through."""
        if self.paths.read_only is not None:
            return f"the home cannot be written ({self.paths.read_only})"
        try:
            self._runlog.probe_write()
        except RunLogUnavailable as error:
            return str(error)
        return None

    def monitor_snapshot(self, now: datetime | None = None) -> MonitorSnapshot:
        """What ``/metrics`` shows, read from the run log (every process's runs) and the config."""
        from cdi_tui.monitor import snapshot

        return snapshot(self.config(), self._runlog, now or utc_now(), self.is_syncing)

    def next_scheduled_run(self, name: str, now: datetime, config: Config | None = None) -> datetime | None:
        """When the integration's next scheduled run is due: ``now`` when it is due already, None
        when it runs on no schedule (paused, draft)."""
        from cdi_tui.schedule import ScheduleError, next_runs

        config = config or self.config()
        integration = self.integration(name, config)
        if integration.state != IntegrationState.ACTIVE:
            return None
        if any(due.integration == name for due in due_runs(config, self._runlog, now)):
            return now
        try:
            upcoming = next_runs(integration.frequency, config.zone_of(integration), now, 1)  # its workspace's zone
        except (ScheduleError, ValueError, OverflowError):
            return None
        return upcoming[0] if upcoming else None

    def set_smtp(self, settings: SmtpSettings, password: str | None) -> None:
        """Save the mail server; refused when a password would go to a host that is not loopback without TLS.

        Raises:
            WorkspaceError: that refusal (saying what to choose instead), or a read-only workspace.
        """
        self._writable()
        from cdi_tui.notify import plain_password_problem

        refused, _ = plain_password_problem(settings)
        if refused:
            raise WorkspaceError(refused)
        if password is not None:
            self._secrets.set(smtp_password_account(), password)
        self._store.update(lambda config: replace(config, smtp=settings))
