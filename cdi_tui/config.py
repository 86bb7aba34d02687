"""The config file: Braze workspaces, warehouse credentials and integrations.

Braze workspaces are ``[braze.NAME]`` tables, one per workspace; every integration names its
own (``workspace``, ``default`` unless it says otherwise). A file written by an older cdi-tui
has a single ``[braze]`` table of settings: it is read as the workspace ``default``, with
nothing lost, and written back in the newer form the next time the file is saved.

Read with :mod:`tomllib`, written with :mod:`tomli_w` atomically (temporary file in the same
folder, fsync, rename) with mode 0600. Secrets are never stored here: passwords and the
Braze API key live in the keyring (see :mod:`cdi_tui.secrets`). Sync state (watermarks,
runs) lives in the run log, not here.

A broken file raises :class:`ConfigError`, naming the file, the line or key, and what is
wrong. Nothing ever overwrites a file that did not load.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from cdi_tui.braze.rules import CATALOG_REQUESTS_PER_MINUTE, DEFAULT_DELETE_PRIORITIZATION
from cdi_tui.display import first_control_character
from cdi_tui.enums import DataType, IntegrationState
from cdi_tui.errors import CdiError
from cdi_tui.fields import (
    BRAZE_FIELDS,
    BRAZE_INSTANCES,
    DEFAULT_FREQUENCY,
    DEFAULT_MAX_ROWS_PER_QUERY,
    DEFAULT_SSH_PORT,
    INTEGRATION_FIELDS,
    SERVE_FIELDS,
    SMTP_FIELDS,
    FieldError,
    FieldSpec,
    credential_field_specs,
    credential_problems,
    validate_name,
)
from cdi_tui.tables import TableName, parse_table_name

T = TypeVar("T")


class ConfigError(CdiError):
    """The config file cannot be used; the message names the file, the place and the fault."""

    def __init__(self, path: Path | str, where: str, problem: str) -> None:
        self.path = Path(path)
        self.where = where
        self.problem = problem
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


DEFAULT_MAX_IN_FLIGHT = 256  # most requests under way to Braze at once, per run
DEFAULT_WORKSPACE = "default"  # the Braze workspace of an integration that names none (an older config's only one)
CHANGED_ONLY_TYPES = frozenset({DataType.ATTRIBUTES, DataType.CATALOGS})  # "send only changed" applies, on by default


@dataclass(frozen=True)
class BrazeSettings:
    endpoint: str
    time_zone: str = "UTC"
    requests_per_window: int = 3000
    window_seconds: float = 3.0
    combined_batch_limit: bool = False
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    catalog_requests_per_minute: int = CATALOG_REQUESTS_PER_MINUTE  # the catalog item endpoints' own budget

    @property
    def base_url(self) -> str:
        """The REST endpoint URL for an instance name, or the custom URL itself."""
        return BRAZE_INSTANCES.get(self.endpoint, self.endpoint)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    sender: str
    port: int = 587
    security: str = "starttls"
    user: str | None = None


@dataclass(frozen=True)
class ServeSettings:
    """``[serve]``: what ``cdi-tui serve`` listens on for /metrics, /healthz and the trigger API."""

    listen: str | None = None


@dataclass(frozen=True)
class Credential:
    """A warehouse connection. Secrets (password, SSH key, passphrase) live in the keyring.

    ``auth`` is ``password`` or ``iam``: with IAM, temporary database credentials come from
    AWS at each connection (``cluster_id`` or ``workgroup``, ``region``, ``aws_profile``,
    ``db_user``). With ``ssh_host`` the connection goes through an SSH tunnel.
    """

    name: str
    host: str
    database: str
    user: str = ""
    port: int = 5439
    sslmode: str = "verify-full"
    auth: str = "password"
    aws_profile: str | None = None
    region: str | None = None
    cluster_id: str | None = None
    workgroup: str | None = None
    db_user: str | None = None
    ssh_host: str | None = None
    ssh_port: int = DEFAULT_SSH_PORT
    ssh_user: str | None = None
    ssh_key_path: str | None = None
    ssh_host_key: str | None = None
    max_rows_per_query: int = DEFAULT_MAX_ROWS_PER_QUERY  # a run reads in chunks no larger (a cluster caps a cursor)

    @property
    def uses_iam(self) -> bool:
        return self.auth == "iam"

    @property
    def uses_ssh(self) -> bool:
        return bool(self.ssh_host)

    @property
    def login(self) -> str:
        """Who signs in, for messages: the database user, or the IAM sign-in."""
        if not self.uses_iam:
            return self.user
        if self.workgroup:
            return f"IAM identity (workgroup {self.workgroup})"
        return f"IAM:{self.db_user}" if self.db_user else "IAM identity"


def credential_to_dict(credential: Credential) -> dict[str, Any]:
    """A credential's settings as written to the file: unset and default sign-in/SSH fields left out."""
    values: dict[str, Any] = {}
    for key, value in vars(credential).items():
        if key == "name" or value is None or (key == "user" and not value):
            continue
        if (key == "auth" and value == "password") or (key == "ssh_port" and not credential.ssh_host):
            continue
        if key == "max_rows_per_query" and value == DEFAULT_MAX_ROWS_PER_QUERY:
            continue
        values[key] = value
    return values


@dataclass(frozen=True)
class Integration:
    name: str
    credential: str
    table: str
    data_type: DataType
    frequency: str = DEFAULT_FREQUENCY
    contact_emails: tuple[str, ...] = ()
    state: IntegrationState = IntegrationState.DRAFT
    update_existing_only: bool = False
    notify_row_error_percent: float | None = None
    notify_success: bool = False
    notify_no_rows: bool = False
    send_changed_only: bool | None = None  # None: on for custom attributes
    delete_prioritization: tuple[str, ...] | None = None  # None: Braze's usual identified, most_recently_updated
    catalog: str | None = None  # catalogs: the Braze catalog; None: the integration's name (as Braze's CDI has it)
    workspace: str = DEFAULT_WORKSPACE  # the Braze workspace it syncs to (a [braze.NAME] of the config)
    # alerts on transitions (None: that alert is off), their webhooks, the dead-man's switch, the auto-pause
    alert_no_success_hours: float | None = None
    alert_run_minutes: float | None = None
    alert_row_error_percent: float | None = None
    alert_retry_rows: int | None = None
    alert_rate_limited_percent: float | None = None
    alert_webhooks: tuple[str, ...] = ()
    alert_webhook_format: str | None = None  # None: slack
    ping_url: str | None = None
    pause_after_failures: int | None = None

    @property
    def sends_changed_only(self) -> bool:
        """Only changed attribute values (custom attributes) or changed items (catalogs) are sent."""
        return self.data_type in CHANGED_ONLY_TYPES and self.send_changed_only is not False

    @property
    def catalog_name(self) -> str:
        """The Braze catalog a catalogs integration writes to: its own name unless it names another."""
        return self.catalog or self.name

    @property
    def prioritization(self) -> tuple[str, ...]:
        """Deletes by email or phone: which user Braze deletes when several share the address."""
        return self.delete_prioritization or DEFAULT_DELETE_PRIORITIZATION

    @property
    def table_name(self) -> TableName:
        return parse_table_name(self.table)


@dataclass(frozen=True)
class Config:
    workspaces: dict[str, BrazeSettings] = field(default_factory=dict)
    """The Braze workspaces by name (``[braze.NAME]``), each with its endpoint, limits and time zone."""
    smtp: SmtpSettings | None = None
    credentials: dict[str, Credential] = field(default_factory=dict)
    integrations: dict[str, Integration] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    """The app's keymap: a binding's id -> its keys (``sync = "S"``, ``filter = "ctrl+f,slash"``)."""
    serve: ServeSettings | None = None

    def integrations_using(self, credential_name: str) -> list[Integration]:
        return [item for item in self.integrations.values() if item.credential == credential_name]

    def integrations_in(self, workspace: str) -> list[Integration]:
        """The integrations that sync to a Braze workspace, by name."""
        return sorted((item for item in self.integrations.values() if item.workspace == workspace), key=lambda item: item.name)

    @property
    def braze(self) -> BrazeSettings | None:
        """The workspace ``default`` (an older config's only one), or None."""
        return self.workspaces.get(DEFAULT_WORKSPACE)

    def braze_of(self, integration: Integration) -> BrazeSettings | None:
        """The Braze workspace an integration syncs to, or None when it is not set up."""
        return self.workspaces.get(integration.workspace)

    @property
    def main_workspace(self) -> str:
        """The workspace meant when none is named: ``default`` when there is one (or none at all), else the only one,
        else the first by name."""
        if DEFAULT_WORKSPACE in self.workspaces or not self.workspaces:
            return DEFAULT_WORKSPACE
        return sorted(self.workspaces)[0]

    @property
    def time_zone(self) -> str:
        """The zone of the main workspace (:attr:`main_workspace`; UTC until Braze is set up)."""
        settings = self.workspaces.get(self.main_workspace)
        return settings.time_zone if settings is not None else "UTC"

    def zone_of(self, integration: Integration | None) -> str:
        """The zone an integration's schedule runs in and its times are shown in: its workspace's."""
        settings = self.braze_of(integration) if integration is not None else None
        return settings.time_zone if settings is not None else self.time_zone


# --- validation -------------------------------------------------------------------


def _section(path: Path, where: str, raw: Any, specs: tuple[FieldSpec, ...], allow_missing: bool = False) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(path, where, "expected a table of settings")
    known = {spec.key for spec in specs}
    for key in raw:
        if key not in known:
            raise ConfigError(path, f"{where}.{key}", f"unknown setting (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for spec in specs:
        value = raw.get(spec.key)
        if value is None and allow_missing:
            continue
        try:
            values[spec.key] = spec.check(value)
        except FieldError as error:
            raise ConfigError(path, f"{where}.{spec.key}", str(error)) from None
    return values


def _validated_name(path: Path, where: str, name: str) -> str:
    try:
        return validate_name(name)
    except FieldError as error:
        raise ConfigError(path, where, f"bad name '{name}': {error}") from None


def config_from_dict(path: Path, document: dict[str, Any]) -> Config:
    """Build and check a :class:`Config` from a parsed TOML document.

    Raises:
        ConfigError: naming the key that is wrong and why.
    """
    for key in document:
        if key not in ("braze", "smtp", "serve", "credentials", "integrations", "keys"):
            raise ConfigError(path, key, "unknown section (known: braze, smtp, serve, credentials, integrations, keys)")
    workspaces = _workspaces(path, document.get("braze"))
    smtp = None
    if "smtp" in document:
        raw_smtp = document["smtp"]
        if isinstance(raw_smtp, dict) and "password" in raw_smtp:
            raise ConfigError(path, "smtp.password", "passwords are not kept in this file; use the keyring")
        smtp = SmtpSettings(**_section(path, "smtp", raw_smtp, SMTP_FIELDS))
    serve = ServeSettings(**_section(path, "serve", document["serve"], SERVE_FIELDS)) if "serve" in document else None
    credentials: dict[str, Credential] = {}
    raw_credentials = document.get("credentials", {})
    if not isinstance(raw_credentials, dict):
        raise ConfigError(path, "credentials", "expected a table of credentials")
    for name, raw in raw_credentials.items():
        where = f"credentials.{name}"
        _validated_name(path, where, name)
        if isinstance(raw, dict) and "password" in raw:
            raise ConfigError(path, f"{where}.password", "passwords are not kept in this file; use the keyring")
        auth = raw.get("auth") if isinstance(raw, dict) else None
        values = _section(path, where, raw, credential_field_specs(str(auth or "").strip().lower()))
        for key, problem in credential_problems(values):
            raise ConfigError(path, f"{where}.{key}", problem)
        credentials[name] = Credential(name=name, **{key: value for key, value in values.items() if value is not None})
    clash = env_var_clash(list(credentials))
    if clash is not None:
        raise ConfigError(path, f"credentials.{clash[1]}", clash[2])
    integrations: dict[str, Integration] = {}
    raw_integrations = document.get("integrations", {})
    if not isinstance(raw_integrations, dict):
        raise ConfigError(path, "integrations", "expected a table of integrations")
    seen_tables: dict[tuple[str, str, str, str, str], str] = {}
    for name, raw in raw_integrations.items():
        where = f"integrations.{name}"
        _validated_name(path, where, name)
        values = _section(path, where, raw, INTEGRATION_FIELDS)
        values["contact_emails"] = tuple(values["contact_emails"])
        values["alert_webhooks"] = tuple(values["alert_webhooks"])
        values["workspace"] = values.get("workspace") or DEFAULT_WORKSPACE
        if workspaces and values["workspace"] not in workspaces:
            raise ConfigError(
                path,
                f"{where}.workspace",
                f"no Braze workspace named '{values['workspace']}' in [braze] (workspaces: {', '.join(sorted(workspaces))})",
            )
        if values.get("delete_prioritization") is not None and values["data_type"] != DataType.DELETES:
            raise ConfigError(path, f"{where}.delete_prioritization", "applies to delete users integrations only")
        if values.get("catalog") is not None and values["data_type"] != DataType.CATALOGS:
            raise ConfigError(path, f"{where}.catalog", "applies to catalogs integrations only")
        integration = Integration(name=name, **values)
        if integration.data_type == DataType.CATALOGS:
            _check_catalog(path, where, integration, integrations)
        credential = credentials.get(integration.credential)
        if credential is None:
            raise ConfigError(path, f"{where}.credential", f"no credential named '{integration.credential}' in [credentials]")
        table = integration.table_name
        # one integration per table in a workspace: a development and a production workspace may share one
        identity = (
            credential.host.lower(), str(credential.port), table.database or credential.database, table.sql, integration.workspace
        )  # fmt: skip
        if identity in seen_tables:
            raise ConfigError(
                path,
                f"{where}.table",
                f"table {table} is already synced by '{seen_tables[identity]}' to workspace '{integration.workspace}' "
                "(one integration per table in a workspace)",
            )
        seen_tables[identity] = name
        integrations[name] = integration
    return Config(workspaces, smtp, credentials, integrations, _keymap(path, document.get("keys", {})), serve)


def _workspaces(path: Path, raw: Any) -> dict[str, BrazeSettings]:
    """``[braze.NAME]`` tables, one per workspace; an older file's single ``[braze]`` table of
    settings is the workspace ``default``.

    Raises:
        ConfigError: a bad name or setting, the two forms mixed, or two workspaces whose API key
            variables would be the same.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(path, "braze", "expected a table of Braze workspaces ([braze.NAME])")
    tables = [name for name, value in raw.items() if isinstance(value, dict)]
    if tables and len(tables) != len(raw):
        settings = next(name for name, value in raw.items() if not isinstance(value, dict))
        raise ConfigError(
            path,
            f"braze.{settings}",
            "a setting beside workspace tables: put each workspace's settings in its own [braze.NAME] table",
        )
    if not tables:  # the older form: one workspace's settings, which become the workspace "default"
        return {DEFAULT_WORKSPACE: BrazeSettings(**_section(path, "braze", raw, BRAZE_FIELDS))} if raw else {}
    workspaces: dict[str, BrazeSettings] = {}
    for name, settings in raw.items():
        where = f"braze.{name}"
        _validated_name(path, where, name)
        workspaces[name] = BrazeSettings(**_section(path, where, settings, BRAZE_FIELDS))
    clash = workspace_env_var_clash(list(workspaces))
    if clash is not None:
        raise ConfigError(path, f"braze.{clash[1]}", clash[2])
    return workspaces


def _check_catalog(path: Path, where: str, integration: Integration, integrations: dict[str, Integration]) -> None:
    """A catalogs integration's catalog name is one Braze takes, and no other integration writes that catalog."""
    from cdi_tui.braze.rules import catalog_name_problem

    problem = catalog_name_problem(integration.catalog_name)
    if problem is not None:
        if integration.catalog:
            raise ConfigError(path, f"{where}.catalog", problem)
        raise ConfigError(path, where, f"the name is the catalog's unless 'catalog' names it, and {problem}: give catalog")
    for other in integrations.values():
        same_catalog = other.data_type == DataType.CATALOGS and other.catalog_name == integration.catalog_name
        if same_catalog and other.workspace == integration.workspace:
            raise ConfigError(
                path, f"{where}.catalog",
                f"catalog '{integration.catalog_name}' of workspace '{integration.workspace}' is already synced by "
                f"'{other.name}' (one integration per catalog)",
            )  # fmt: skip


_BINDING_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_KEY_SPEC = re.compile(r"^[^\s,]+(,[^\s,]+)*$")


def _keymap(path: Path, raw: Any) -> dict[str, str]:
    """The ``[keys]`` section's shape: binding ids to key lists. Whether each id and key exists is
    the app's to check (it knows its bindings); the command line only carries the section."""
    if not isinstance(raw, dict):
        raise ConfigError(path, "keys", 'expected a table of binding ids and keys, e.g. sync = "S"')
    keys: dict[str, str] = {}
    for binding_id, value in raw.items():
        if not _BINDING_ID.match(binding_id):
            raise ConfigError(path, f"keys.{binding_id}", "not a binding id (lower-case letters, digits and '-'; '?' lists them)")
        if not isinstance(value, str) or not _KEY_SPEC.match(value.strip()) or first_control_character(value):
            raise ConfigError(path, f"keys.{binding_id}", 'expected keys as text, comma-separated, e.g. "S" or "ctrl+y,f5"')
        keys[binding_id] = value.strip()
    return keys


def _variable_clash(names: list[str], variable_of: Callable[[str], str], kind: str, what: str) -> tuple[str, str, str] | None:
    """Two names of ``kind`` whose environment variables (``variable_of``) would be the same:
    (first name, second name, a message naming both and the variable), or None."""
    seen: dict[str, str] = {}
    for name in names:
        variable = variable_of(name)
        other = seen.setdefault(variable, name)
        if other != name:
            return (
                other,
                name,
                f"{kind} '{other}' and '{name}' would share the {what} variable {variable}; "
                "rename one of them (names differing only in case or in '-', '_', '.' collide)",
            )
    return None


def workspace_env_var_clash(names: list[str]) -> tuple[str, str, str] | None:
    """Two workspace names whose API key variables (``CDI_TUI_BRAZE_API_KEY_<NAME>``) would be the same."""
    from cdi_tui.secret_store import braze_key_env_var

    return _variable_clash(names, braze_key_env_var, "workspaces", "API key")


def env_var_clash(names: list[str]) -> tuple[str, str, str] | None:
    """Two credential names whose password variables (``CDI_TUI_PASSWORD_<NAME>``) would be the same."""
    from cdi_tui.secret_store import credential_env_var

    return _variable_clash(names, credential_env_var, "credentials", "password")


def _settings_dict(settings: Any) -> dict[str, Any]:
    values = {item.name: getattr(settings, item.name) for item in fields(settings)}
    return {key: value for key, value in values.items() if value is not None}


def config_to_dict(config: Config) -> dict[str, Any]:
    """The document the file is written from; Braze workspaces always as ``[braze.NAME]`` tables."""
    document: dict[str, Any] = {}
    if config.workspaces:
        document["braze"] = {name: _settings_dict(settings) for name, settings in sorted(config.workspaces.items())}
    for section in ("smtp", "serve"):
        settings = getattr(config, section)
        if settings is not None:
            document[section] = _settings_dict(settings)
    document["credentials"] = {name: credential_to_dict(cred) for name, cred in sorted(config.credentials.items())}
    if config.keys:
        document["keys"] = dict(sorted(config.keys.items()))
    document["integrations"] = {}
    for name, integration in sorted(config.integrations.items()):
        values = {key: value for key, value in vars(integration).items() if key != "name" and value is not None}
        values["contact_emails"] = list(integration.contact_emails)
        if integration.alert_webhooks:
            values["alert_webhooks"] = list(integration.alert_webhooks)
        else:
            values.pop("alert_webhooks", None)
        if integration.delete_prioritization is not None:
            values["delete_prioritization"] = list(integration.delete_prioritization)
        document["integrations"][name] = values
    return document


# --- file I/O ---------------------------------------------------------------------


def load_config(path: Path) -> Config:
    """Read and check the config file; a missing file is an empty config.

    Raises:
        ConfigError: for unreadable files, bad TOML (with its line) and bad values.
    """
    try:
        with open(path, "rb") as stream:
            check_trusted_file(path, os.fstat(stream.fileno()))
            raw = stream.read()
    except FileNotFoundError:
        return Config()
    except OSError as error:
        raise ConfigError(path, "", f"cannot read: {error.strerror}") from None
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, "", f"invalid TOML: {error}") from None
    return config_from_dict(path, document)


def check_trusted_file(path: Path, status: os.stat_result) -> None:
    """Refuse a config file another user could have written: it names hosts, endpoints and
    credentials that secrets are sent to, so only its owner may change it (as ssh does with its
    config): owned by this user (or root), not writable by group or others. (Its folder is
    made 0700 each time a home is opened, :meth:`AppPaths.ensure`.)

    Raises:
        ConfigError: saying who could change it and the command that fixes it.
    """
    if status.st_mode & 0o022:
        raise ConfigError(
            path,
            "",
            f"can be changed by other users (mode {status.st_mode & 0o777:04o}), so it is not trusted; run 'chmod 600 {path}'",
        )
    if status.st_uid not in (os.geteuid(), 0):
        raise ConfigError(
            path, "", f"belongs to another user (uid {status.st_uid}), so it is not trusted; it must be your own file"
        )


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file so that a crash leaves either the old or the new content, never half.

    The data goes to a temporary file in the same folder (mode 0600), is flushed with
    fsync, and replaces the target with ``os.replace``; the folder is then fsynced.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def save_config(path: Path, config: Config) -> None:
    atomic_write(path, tomli_w.dumps(config_to_dict(config)).encode("utf-8"))


class ConfigStore:
    """The config file with a lock around read-modify-write, shared by the app and the CLI."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Config:
        return load_config(self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)

    def update(self, change: Callable[[Config], Config]) -> Config:
        """Load, apply ``change`` (which may raise to abort), check, and save atomically.

        Raises:
            ConfigError: when the current file is broken (it is left untouched) or the
                changed config breaks a rule.
        """
        try:
            with self._locked():
                current = load_config(self.path)
                changed = change(current)
                # re-check the whole result with the same rules as a hand-edited file
                checked = config_from_dict(self.path, config_to_dict(changed))
                save_config(self.path, checked)
                return checked
        except OSError as error:  # the old file stays as it was (atomic_write)
            raise ConfigError(self.path, "", f"cannot save: {error.strerror or error}; nothing was changed") from None


def with_integration(config: Config, integration: Integration) -> Config:
    return replace(config, integrations={**config.integrations, integration.name: integration})


def with_workspace(config: Config, name: str, settings: BrazeSettings) -> Config:
    return replace(config, workspaces={**config.workspaces, name: settings})


def with_credential(config: Config, credential: Credential) -> Config:
    return replace(config, credentials={**config.credentials, credential.name: credential})
