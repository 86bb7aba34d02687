"""Every user-facing option, declared once.

Each :class:`FieldSpec` names a setting, its label, its command-line flag, its default and
the function that validates (and normalises) a typed value. The config loader, the CLI
and the Textual forms all read these declarations, so a rule lives in one place.

Validators take a string (or a value already of the right type) and return the normalised
value, or raise :class:`FieldError` with a one-line reason a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cdi_tui.display import first_control_character
from cdi_tui.enums import DataType, IntegrationState
from cdi_tui.errors import CdiError
from cdi_tui.schedule import ScheduleError, parse_frequency
from cdi_tui.tables import TableNameError, parse_table_name


class FieldError(CdiError, ValueError):
    """A value the user gave is not acceptable; the message says why."""


DATA_TYPES = tuple(DataType)
DATA_TYPE_LABELS = {
    DataType.ATTRIBUTES: "Custom Attributes",
    DataType.EVENTS: "Custom Events",
    DataType.PURCHASES: "Purchase Events",
    DataType.DELETES: "Delete Users",
    DataType.CATALOGS: "Catalogs",
}
STATES = tuple(IntegrationState)
SSL_MODES = ("disable", "require", "verify-ca", "verify-full")
DEFAULT_PORT = 5439
SMTP_SECURITY = ("starttls", "ssl", "none")
DEFAULT_SSLMODE = "verify-full"
AUTH_KINDS = ("password", "iam")
AUTH_LABELS = {"password": "Database password", "iam": "AWS IAM (temporary credentials, no stored password)"}
DEFAULT_SSH_PORT = 22
DEFAULT_FREQUENCY = "daily at 02:00"  # the app's setup and the command line alike

BRAZE_INSTANCES = {
    "US-01": "https://rest.iad-01.braze.com",
    "US-02": "https://rest.iad-02.braze.com",
    "US-03": "https://rest.iad-03.braze.com",
    "US-04": "https://rest.iad-04.braze.com",
    "US-05": "https://rest.iad-05.braze.com",
    "US-06": "https://rest.iad-06.braze.com",
    "US-07": "https://rest.iad-07.braze.com",
    "US-08": "https://rest.iad-08.braze.com",
    "US-10": "https://rest.us-10.braze.com",
    "EU-01": "https://rest.fra-01.braze.eu",
    "EU-02": "https://rest.fra-02.braze.eu",
    "AU-01": "https://rest.au-01.braze.com",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")
_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_CLUSTER_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_WORKGROUP = re.compile(r"^[a-z0-9-]{3,64}$")
_SSH_PUBLIC_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh.com) [A-Za-z0-9+/]+={0,3}$"
)
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
_URL_WITH_QUERY = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?(\?[^\s#]*)?$")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and for an IP address in the loopback range (127.0.0.0/8, ::1).

    Decided by :mod:`ipaddress`, never by how the text starts: ``127.attacker.example`` is a
    name anyone can point anywhere, not loopback.
    """
    import ipaddress

    text = host.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text == "localhost":
        return True
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def plain_text(value: Any) -> str:
    """``str(value)`` stripped; control characters (escape sequences, newlines, ...) are refused.

    Raises:
        FieldError: naming the first control character.
    """
    text = str(value).strip()
    unsafe = first_control_character(text)
    if unsafe is not None:
        raise FieldError(f"control characters are not allowed (found {unsafe})")
    return text


def validate_name(value: Any) -> str:
    text = plain_text(value)
    if not _NAME.match(text):
        raise FieldError("use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return text


def validate_host(value: Any) -> str:
    text = plain_text(value)
    if not text:
        raise FieldError("a host name or IP address is required")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:  # IPv6 literal
        import ipaddress

        try:
            return str(ipaddress.IPv6Address(text))
        except ValueError:
            raise FieldError(f"'{text}' is not a valid IPv6 address") from None
    if not _HOST.match(text):
        raise FieldError(f"'{text}' is not a valid host name")
    return text


def validate_port(value: Any) -> int:
    if isinstance(value, bool):
        raise FieldError("a port is a whole number from 1 to 65535")
    try:
        port = int(str(value).strip())
    except ValueError:
        raise FieldError("a port is a whole number from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise FieldError("a port is a whole number from 1 to 65535")
    return port


def validate_required_text(value: Any) -> str:
    text = plain_text(value)
    if not text:
        raise FieldError("required")
    if len(text) > 127:
        raise FieldError("at most 127 characters")
    return text


def validate_sslmode(value: Any) -> str:
    text = plain_text(value).lower()
    if text not in SSL_MODES:
        raise FieldError(f"SSL mode must be one of {', '.join(SSL_MODES)}")
    return text


def validate_auth(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in AUTH_KINDS:
        raise FieldError(f"sign-in must be one of {', '.join(AUTH_KINDS)}")
    return text


def validate_region(value: Any) -> str:
    text = str(value).strip().lower()
    if not _REGION.match(text):
        raise FieldError(f"'{text}' is not an AWS region name (such as us-west-2)")
    return text


def validate_cluster_id(value: Any) -> str:
    text = str(value).strip().lower()
    if not 1 <= len(text) <= 63 or not _CLUSTER_ID.match(text):
        raise FieldError("a cluster identifier is 1-63 lower-case letters, digits and single hyphens, starting with a letter")
    return text


def validate_workgroup(value: Any) -> str:
    text = str(value).strip().lower()
    if not _WORKGROUP.match(text):
        raise FieldError("a workgroup name is 3-64 lower-case letters, digits and hyphens")
    return text


def validate_path(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise FieldError("required")
    if len(text) > 4096 or any(ord(char) < 32 for char in text):
        raise FieldError("not a usable file path")
    return text


def validate_ssh_public_key(value: Any) -> str:
    """An OpenSSH public key line, ``TYPE BASE64`` (a trailing comment is dropped)."""
    parts = str(value).strip().split()
    text = " ".join(parts[:2])
    if not _SSH_PUBLIC_KEY.match(text):
        raise FieldError("expected an OpenSSH public key such as 'ssh-ed25519 AAAA...'")
    return text


def validate_data_type(value: Any) -> DataType:
    text = plain_text(value).lower()
    if text not in DATA_TYPES:
        raise FieldError(f"unknown data type '{value}' (expected one of {', '.join(DATA_TYPES)})")
    return DataType(text)


def validate_catalog_name(value: Any) -> str:
    """A Braze catalog's name: letters, digits, ``-`` and ``_`` (at most 250)."""
    from cdi_tui.braze.rules import catalog_name_problem

    text = plain_text(value)
    problem = catalog_name_problem(text)
    if problem is not None:
        raise FieldError(problem)
    return text


def validate_state(value: Any) -> IntegrationState:
    text = plain_text(value).lower()
    if text not in STATES:
        raise FieldError(f"unknown state '{value}' (expected one of {', '.join(STATES)})")
    return IntegrationState(text)


def validate_table(value: Any) -> str:
    text = plain_text(value)
    try:
        parse_table_name(text)
    except TableNameError as error:
        raise FieldError(str(error)) from None
    return text


def validate_email(value: Any) -> str:
    text = plain_text(value)
    if not _EMAIL.match(text) or len(text) > 254:
        raise FieldError(f"'{text}' is not an email address")
    return text


def validate_emails(value: Any) -> list[str]:
    """A list, or a comma-separated string, of email addresses (may be empty)."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    result: list[str] = []
    for item in items:
        if str(item).strip():
            email = validate_email(item)
            if email not in result:
                result.append(email)
    return result


def validate_frequency(value: Any) -> str:
    text = " ".join(plain_text(value).split())
    try:
        parse_frequency(text)
    except ScheduleError as error:
        raise FieldError(str(error)) from None
    return text


@cache
def _time_zone_names() -> frozenset[str]:
    """The IANA names this machine knows: read from disk once (a walk of the tz database, ~30 ms)."""
    return frozenset(available_timezones())


def validate_time_zone(value: Any) -> str:
    text = plain_text(value)
    if not text or (text not in _time_zone_names() and text != "UTC"):
        raise FieldError(f"unknown time zone '{text}' (use an IANA name such as America/New_York)")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldError(f"unknown time zone '{text}'") from None
    return text


def validate_endpoint(value: Any) -> str:
    """A Braze instance name (US-01 ... AU-01) or an http(s) URL; plain http only to loopback."""
    text = plain_text(value)
    upper = text.upper()
    if upper in BRAZE_INSTANCES:
        return upper
    if not _URL.match(text):
        raise FieldError(f"'{text}' is neither a Braze instance ({', '.join(BRAZE_INSTANCES)}) nor an http(s) URL")
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
        raise FieldError("plain http:// is allowed only to a loopback address; use https://")
    return text.rstrip("/")


MAX_REQUESTS_PER_WINDOW = 1_000_000  # far above any Braze rate limit; stops typos such as 20 nines
WINDOW_SECONDS_RANGE = (0.1, 3600.0)


def validate_positive_int(value: Any) -> int:
    """A whole number from 1 to 1,000,000 (requests a rate-limit window)."""
    problem = f"a whole number from 1 to {MAX_REQUESTS_PER_WINDOW:,} is required"
    if isinstance(value, bool):
        raise FieldError(problem)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise FieldError(problem) from None
    if not 1 <= number <= MAX_REQUESTS_PER_WINDOW:
        raise FieldError(problem)
    return number


MAX_IN_FLIGHT_BOUND = 1024


def validate_max_in_flight(value: Any) -> int:
    problem = f"the most requests in flight is a whole number from 1 to {MAX_IN_FLIGHT_BOUND}"
    try:
        number = validate_positive_int(value)
    except FieldError:
        raise FieldError(problem) from None
    if number > MAX_IN_FLIGHT_BOUND:
        raise FieldError(problem)
    return number


def validate_requests_per_window(value: Any) -> int:
    number = validate_positive_int(value)
    if number > MAX_REQUESTS_PER_WINDOW:
        raise FieldError(f"at most {MAX_REQUESTS_PER_WINDOW:,} requests per window")
    return number


def validate_positive_float(value: Any) -> float:
    """A number of seconds from 0.1 to 3600 (a rate-limit window)."""
    low, high = WINDOW_SECONDS_RANGE
    problem = f"a number from {low:g} to {high:g} is required"
    if isinstance(value, bool):
        raise FieldError(problem)
    try:
        number = float(str(value).strip())
    except ValueError:
        raise FieldError(problem) from None
    if not low <= number <= high:  # NaN fails this too
        raise FieldError(problem)
    return number


def validate_percent(value: Any) -> float:
    if isinstance(value, bool):
        raise FieldError("a percentage from 0 to 100 is required")
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        raise FieldError("a percentage from 0 to 100 is required") from None
    if not 0 <= number <= 100:
        raise FieldError("a percentage from 0 to 100 is required")
    return number


def validate_security(value: Any) -> str:
    text = plain_text(value).lower()
    if text not in SMTP_SECURITY:
        raise FieldError(f"SMTP security must be one of {', '.join(SMTP_SECURITY)}")
    return text


def validate_prioritization(value: Any) -> tuple[str, ...]:
    """Deletes by email or phone: ``identified,most_recently_updated`` (a list, or comma-separated)."""
    from cdi_tui.braze.rules import prioritization_problem

    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    words = tuple(plain_text(item).lower() for item in items if plain_text(item))
    problem = prioritization_problem(words)
    if problem is not None:
        raise FieldError(problem)
    return words


DEFAULT_MAX_ROWS_PER_QUERY = 1_000_000
MAX_ROWS_PER_QUERY_BOUNDS = (1_000, 2_000_000_000)


def validate_rows_per_query(value: Any) -> int:
    low, high = MAX_ROWS_PER_QUERY_BOUNDS
    problem = f"the most rows a query is a whole number from {low:,} to {high:,}"
    try:
        number = validate_positive_int(value)
    except FieldError:
        raise FieldError(problem) from None
    if not low <= number <= high:
        raise FieldError(problem)
    return number


def validate_alert_url(value: Any) -> str:
    """An alert webhook or ping URL: https, or plain http to a loopback address only (tests, a local relay)."""
    from urllib.parse import urlsplit

    text = plain_text(value)
    if len(text) > 2048 or not _URL_WITH_QUERY.match(text):
        raise FieldError("expected an https:// URL (plain http:// only to a loopback address)")
    parts = urlsplit(text)
    if parts.username or parts.password:
        raise FieldError("a URL with a user or password in it is not taken; use a URL whose path holds its token")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
        raise FieldError("plain http:// is allowed only to a loopback address; use https://")
    return text


def validate_alert_urls(value: Any) -> list[str]:
    """A list (or comma-separated text) of alert webhook URLs; may be empty."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    result: list[str] = []
    for item in items:
        if str(item).strip():
            url = validate_alert_url(item)
            if url not in result:
                result.append(url)
    return result


WEBHOOK_FORMATS = ("slack", "json")


def validate_webhook_format(value: Any) -> str:
    text = plain_text(value).lower()
    if text not in WEBHOOK_FORMATS:
        raise FieldError("the webhook format is slack (Slack-compatible JSON) or json (a generic JSON POST)")
    return text


def _bounded_number(low: float, high: float, what: str, whole: bool = False) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        kind = "a whole number" if whole else "a number"
        problem = f"{what} is {kind} from {low:,g} to {high:,g}"
        if isinstance(value, bool):
            raise FieldError(problem)
        text = str(value).strip()
        try:
            number: float = int(text) if whole else float(text)
        except ValueError:
            raise FieldError(problem) from None
        if not low <= number <= high:  # NaN fails this too
            raise FieldError(problem)
        return number

    validate.__name__ = f"validate_{what.replace(' ', '_')}"
    return validate


validate_alert_hours = _bounded_number(0.1, 8760, "hours without a success")
validate_alert_minutes = _bounded_number(1, 10080, "minutes a run may take")
validate_alert_rows = _bounded_number(1, 2_000_000_000, "rows on the retry list", whole=True)
validate_failures_to_pause = _bounded_number(1, 1000, "failed runs in a row", whole=True)


def validate_listen(value: Any) -> str:
    """``HOST:PORT`` for ``cdi-tui serve``'s listener: an IP address (IPv6 in brackets) or ``localhost``."""
    import ipaddress

    text = plain_text(value)
    problem = "expected HOST:PORT with an IP address or localhost, e.g. 127.0.0.1:9464 or [::1]:9464"
    host, colon, port_text = text.rpartition(":")
    if not colon or not host:
        raise FieldError(problem)
    if host.startswith("[") and host.endswith("]"):
        try:
            address = str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            raise FieldError(problem) from None
        host = f"[{address}]"
    elif host.lower() == "localhost":
        host = "localhost"
    else:
        try:
            host = str(ipaddress.IPv4Address(host))
        except ValueError:
            raise FieldError(problem) from None
    if not re.fullmatch(r"[0-9]{1,5}", port_text):
        raise FieldError(problem)
    try:
        port = validate_port(port_text)
    except FieldError:
        raise FieldError(f"{problem} (a port is 1 to 65535)") from None
    return f"{host}:{port}"


def validate_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise FieldError("expected true or false")


@dataclass(frozen=True)
class FieldSpec:
    """One option: its key in config, its label in forms, its CLI flag, and its rule."""

    key: str
    label: str
    validate: Callable[[Any], Any]
    help: str = ""
    flag: str | None = None
    default: Any = None
    required: bool = True
    secret: bool = False
    choices: tuple[str, ...] = ()
    off_flag: str | None = None  # a yes/no option's flag for "no" (its default then depends on other values)
    each: Callable[[Any], Any] | None = None  # a list option: the rule for one item (its flag is given once an item)
    example: str = ""  # a short example a form shows in an empty field (the help stays whole in its tooltip)

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.key.replace("_", "-")

    def check(self, value: Any) -> Any:
        """Validate one value; a missing required value is an error, a missing optional one the default."""
        if value is None or (isinstance(value, str) and not value.strip()):
            if self.required and self.default is None:
                raise FieldError("required")
            return self.default
        return self.validate(value)


CREDENTIAL_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "host",
        "Host",
        validate_host,
        "Redshift cluster endpoint, e.g. examplecluster.abc123.us-west-2.redshift.amazonaws.com",
        example="examplecluster.abc123.us-west-2.redshift.amazonaws.com",
    ),
    FieldSpec("port", "Port", validate_port, "Redshift port", default=DEFAULT_PORT),
    FieldSpec("database", "Database", validate_required_text, "database to connect to", example="dev"),
    FieldSpec(
        "user",
        "User",
        validate_required_text,
        "database user with USAGE on the schema and SELECT on the table",
        example="braze_user",
    ),
    FieldSpec(
        "sslmode",
        "SSL mode",
        validate_sslmode,
        "TLS: verify-full (default), verify-ca, require, or disable",
        default=DEFAULT_SSLMODE,
        choices=SSL_MODES,
    ),
    FieldSpec(
        "max_rows_per_query",
        "Most rows a query",
        validate_rows_per_query,
        "a run reads in chunks of at most this many rows: a Redshift cluster caps a cursor's result by its size",
        default=DEFAULT_MAX_ROWS_PER_QUERY,
    ),
)

# How a credential signs in (password or AWS IAM); declared apart from CREDENTIAL_FIELDS so
# the forms can show them as their own group.
SIGN_IN_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "auth",
        "Sign-in",
        validate_auth,
        "password (kept in the keyring) or iam (temporary credentials from AWS; nothing stored)",
        default="password",
        choices=AUTH_KINDS,
    ),
    FieldSpec(
        "aws_profile",
        "AWS profile",
        validate_required_text,
        "IAM: a profile of ~/.aws/config (default: the standard AWS credential chain)",
        example="data-eng",
        required=False,
    ),
    FieldSpec(
        "region",
        "AWS region",
        validate_region,
        "IAM: the cluster's or workgroup's region, e.g. us-west-2",
        example="us-west-2",
        required=False,
    ),
    FieldSpec(
        "cluster_id",
        "Cluster identifier",
        validate_cluster_id,
        "IAM, provisioned cluster: its identifier",
        example="examplecluster",
        required=False,
    ),
    FieldSpec(
        "workgroup",
        "Serverless workgroup",
        validate_workgroup,
        "IAM, Redshift Serverless: the workgroup",
        example="default-wg",
        required=False,
    ),
    FieldSpec(
        "db_user",
        "Database user (IAM)",
        validate_required_text,
        "IAM, provisioned cluster: the database user to get credentials for (default: your IAM identity)",
        required=False,
    ),
)

SSH_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "ssh_host",
        "SSH bastion host",
        validate_host,
        "connect through an SSH tunnel via this host",
        example="bastion.example.com",
        required=False,
    ),
    FieldSpec("ssh_port", "SSH port", validate_port, "the bastion's SSH port", default=DEFAULT_SSH_PORT, required=False),
    FieldSpec("ssh_user", "SSH user", validate_required_text, "the tunnel user on the bastion", example="tunnel", required=False),
    FieldSpec(
        "ssh_key_path",
        "SSH private key file",
        validate_path,
        "a private key file (its passphrase goes to the keyring); default: a key cdi-tui made, kept in the keyring",
        flag="--ssh-key",
        required=False,
    ),
    FieldSpec(
        "ssh_host_key",
        "Accepted SSH host key",
        validate_ssh_public_key,
        "the bastion's host key, accepted after checking its fingerprint",
        required=False,
    ),
)

ALL_CREDENTIAL_FIELDS: tuple[FieldSpec, ...] = CREDENTIAL_FIELDS + SIGN_IN_FIELDS + SSH_FIELDS


def credential_field_specs(auth: str) -> tuple[FieldSpec, ...]:
    """Every credential field, with ``user`` optional for IAM sign-in (AWS names the user)."""
    from dataclasses import replace

    if auth != "iam":
        return ALL_CREDENTIAL_FIELDS
    return tuple(replace(spec, required=False, default=None) if spec.key == "user" else spec for spec in ALL_CREDENTIAL_FIELDS)


def credential_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Rules across a credential's fields, as (key, problem) pairs; empty when it is consistent.

    Args:
        values: the credential's validated fields by key (missing optional ones as None).
    """
    problems: list[tuple[str, str]] = []
    auth = values.get("auth") or "password"
    iam_keys = ("aws_profile", "region", "cluster_id", "workgroup", "db_user")
    if auth == "password":
        if not values.get("user"):
            problems.append(("user", "required for password sign-in"))
        for key in iam_keys:
            if values.get(key):
                problems.append((key, 'only for IAM sign-in (auth = "iam")'))
    else:
        if not values.get("region"):
            problems.append(("region", "required for IAM sign-in"))
        if bool(values.get("cluster_id")) == bool(values.get("workgroup")):
            problems.append(
                ("cluster_id", "IAM sign-in needs either a cluster identifier (provisioned) or a workgroup (Serverless)")
            )
        if values.get("workgroup") and values.get("db_user"):
            problems.append(
                ("db_user", "Redshift Serverless signs in as your IAM identity; a database user applies only to a cluster")
            )
    if values.get("ssh_host"):
        if not values.get("ssh_user"):
            problems.append(("ssh_user", "required with an SSH bastion host"))
    else:
        for key in ("ssh_user", "ssh_key_path", "ssh_host_key"):
            if values.get(key):
                problems.append((key, "only with an SSH bastion host (ssh_host)"))
    return problems


INTEGRATION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "workspace",
        "Braze workspace",
        validate_name,
        "the Braze workspace it syncs to (default: 'default', or the only one there is)",
        required=False,
    ),
    FieldSpec("credential", "Credential", validate_name, "name of a saved warehouse credential"),
    FieldSpec(
        "table", "Source table", validate_table, "[DATABASE.]SCHEMA.TABLE", example="SCHEMA.TABLE or DATABASE.SCHEMA.TABLE"
    ),
    FieldSpec("data_type", "Data type", validate_data_type, "fixed once created", choices=DATA_TYPES),
    FieldSpec(
        "catalog",
        "Catalog",
        validate_catalog_name,
        "catalogs: the Braze catalog the items go to (default: the integration's name, as Braze's CDI requires; "
        "the catalog and its fields are made in Braze first)",
        example="products",
        required=False,
    ),
    FieldSpec("frequency", "Frequency", validate_frequency, "sync schedule", default=DEFAULT_FREQUENCY),
    FieldSpec(
        "contact_emails",
        "Contact emails",
        validate_emails,
        "who is told about sync errors",
        flag="--contact-email",
        default=[],
        required=False,
        each=validate_email,
    ),
    FieldSpec("state", "State", validate_state, "draft, active or paused", default=IntegrationState.DRAFT, choices=STATES),
    FieldSpec(
        "send_changed_only",
        "Send only changed attributes",
        validate_bool,
        "custom attributes and catalogs: send only values (items) that changed since they were delivered (the default; "
        "assumes nothing else writes them in Braze)",
        default=None,
        required=False,
        off_flag="--send-all",
    ),
    FieldSpec(
        "update_existing_only",
        "Update existing users only",
        validate_bool,
        "only update users that already exist in Braze",
        default=False,
        required=False,
    ),
    FieldSpec(
        "delete_prioritization",
        "Delete prioritization",
        validate_prioritization,
        "delete users by email or phone: which user Braze deletes when several share it, in order "
        "(identified, unidentified, most_recently_updated; default identified,most_recently_updated); "
        "when several still match, Braze deletes none",
        required=False,
    ),
    FieldSpec(
        "notify_row_error_percent",
        "Row-error alert above (%)",
        validate_percent,
        "email the contacts when more than this share of a run's rows fail",
        required=False,
    ),
    FieldSpec(
        "notify_success",
        "Email on success",
        validate_bool,
        "email the contacts after every successful run",
        default=False,
        required=False,
    ),
    FieldSpec(
        "notify_no_rows",
        "Email when nothing changed",
        validate_bool,
        "email the contacts when a run found no new rows",
        default=False,
        required=False,
    ),
)

# Alerts that notice decay (sent on transitions only: when a condition starts and when it ends),
# the dead-man's switch pings and the auto-pause; part of each integration's settings.
ALERT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "alert_no_success_hours",
        "Alert: no success in (hours)",
        validate_alert_hours,
        "alert when an active integration has had no successful run for this many hours",
        required=False,
    ),
    FieldSpec(
        "alert_run_minutes",
        "Alert: run longer than (minutes)",
        validate_alert_minutes,
        "alert when a run takes longer than this many minutes (noticed while it runs)",
        required=False,
    ),
    FieldSpec(
        "alert_row_error_percent",
        "Alert: row errors above (%)",
        validate_percent,
        "alert when more than this share of a run's rows fail, until a run is below it again",
        required=False,
    ),
    FieldSpec(
        "alert_retry_rows",
        "Alert: retry list above (rows)",
        validate_alert_rows,
        "alert when more than this many rows wait on the retry list",
        required=False,
    ),
    FieldSpec(
        "alert_rate_limited_percent",
        "Alert: Braze 429s above (%)",
        validate_percent,
        "alert when more than this share of a run's requests were answered 429 (rate limited)",
        required=False,
    ),
    FieldSpec(
        "alert_webhooks",
        "Alert webhooks",
        validate_alert_urls,
        "where alerts are POSTed (https; http only to loopback)",
        flag="--alert-webhook",
        default=[],
        required=False,
        each=validate_alert_url,
    ),
    FieldSpec(
        "alert_webhook_format",
        "Alert webhook format",
        validate_webhook_format,
        "slack (Slack-compatible JSON, the default) or json (a generic JSON POST, signed when a secret is set)",
        required=False,
        choices=WEBHOOK_FORMATS,
    ),
    FieldSpec(
        "ping_url",
        "Ping URL (healthchecks)",
        validate_alert_url,
        "a healthchecks.io-style check: URL/start when a run starts, URL on success, URL/fail on failure",
        required=False,
    ),
    FieldSpec(
        "pause_after_failures",
        "Pause after failed runs",
        validate_failures_to_pause,
        "pause the integration after this many failed runs in a row (with an alert)",
        required=False,
    ),
)

INTEGRATION_FIELDS = INTEGRATION_FIELDS + ALERT_FIELDS

SERVE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "listen",
        "Listen on",
        validate_listen,
        "HOST:PORT for /metrics, /healthz and the trigger API (loopback unless named explicitly)",
        required=False,
    ),
)

SMTP_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("host", "SMTP host", validate_host, "mail server host", example="smtp.example.com"),
    FieldSpec("port", "SMTP port", validate_port, "mail server port", default=587),
    FieldSpec("sender", "From", validate_email, "the sender address", flag="--from", example="cdi@example.com"),
    FieldSpec("security", "Security", validate_security, "starttls, ssl or none", default="starttls", choices=SMTP_SECURITY),
    FieldSpec("user", "SMTP user", validate_required_text, "login user (the password is kept in the keyring)", required=False),
)

BRAZE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("endpoint", "Instance or URL", validate_endpoint, "Braze instance (US-01 ... AU-01) or REST URL"),
    FieldSpec(
        "time_zone", "Time zone", validate_time_zone, "workspace time zone (IANA name)", default="UTC", example="America/New_York"
    ),
    FieldSpec(
        "requests_per_window",
        "Requests per window",
        validate_requests_per_window,
        "rate limit shared by all syncs of this workspace",
        default=3000,
    ),
    FieldSpec("window_seconds", "Window (seconds)", validate_positive_float, "rate-limit window", default=3.0),
    FieldSpec(
        "combined_batch_limit",
        "50 objects per request (MAU plan)",
        validate_bool,
        "accounts on the Monthly Active Users plan: 50 objects combined a request",
        default=False,
        required=False,
    ),
    FieldSpec(
        "max_in_flight",
        "Most requests in flight",
        validate_max_in_flight,
        "most requests under way to Braze at once, per sync (a distant Braze needs many; 1-1024)",
        default=256,
        required=False,
    ),
    FieldSpec(
        "catalog_requests_per_minute",
        "Catalog requests a minute",
        validate_requests_per_window,
        "rate limit of the catalog item endpoints, shared by every catalog sync of this workspace (Braze: 16,000)",
        default=16_000,
        required=False,
    ),
)


def field_by_key(fields: tuple[FieldSpec, ...], key: str) -> FieldSpec:
    for spec in fields:
        if spec.key == key:
            return spec
    raise KeyError(key)
