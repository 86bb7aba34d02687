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
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cdi_tui.display import first_control_character
from cdi_tui.schedule import ScheduleError, parse_frequency
from cdi_tui.tables import TableNameError, parse_table_name


class FieldError(ValueError):
    """A value the user gave is not acceptable; the message says why."""


DATA_TYPES = ("attributes", "events", "purchases", "deletes")
DATA_TYPE_LABELS = {
    "attributes": "Custom Attributes",
    "events": "Custom Events",
    "purchases": "Purchase Events",
    "deletes": "Delete Users",
}
STATES = ("draft", "active", "paused")
SSL_MODES = ("disable", "require", "verify-ca", "verify-full")
DEFAULT_PORT = 5439
SMTP_SECURITY = ("starttls", "ssl", "none")
DEFAULT_SSLMODE = "verify-full"

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
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "[::1]"})


def is_loopback_host(host: str) -> bool:
    return host.lower() in LOOPBACK_HOSTS or host.startswith("127.")


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


def validate_data_type(value: Any) -> str:
    text = plain_text(value).lower()
    if text not in DATA_TYPES:
        raise FieldError(f"unknown data type '{value}' (expected one of {', '.join(DATA_TYPES)})")
    return text


def validate_state(value: Any) -> str:
    text = plain_text(value).lower()
    if text not in STATES:
        raise FieldError(f"unknown state '{value}' (expected one of {', '.join(STATES)})")
    return text


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


def validate_time_zone(value: Any) -> str:
    text = plain_text(value)
    if not text or (text not in available_timezones() and text != "UTC"):
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


MAX_REQUESTS_PER_WINDOW = 1_000_000
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
    ),
    FieldSpec("port", "Port", validate_port, "Redshift port", default=DEFAULT_PORT),
    FieldSpec("database", "Database", validate_required_text, "database to connect to"),
    FieldSpec("user", "User", validate_required_text, "database user with USAGE on the schema and SELECT on the table"),
    FieldSpec(
        "sslmode",
        "SSL mode",
        validate_sslmode,
        "TLS: verify-full (default), verify-ca, require, or disable",
        default=DEFAULT_SSLMODE,
        choices=SSL_MODES,
    ),
)

INTEGRATION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("credential", "Credential", validate_name, "name of a saved warehouse credential"),
    FieldSpec("table", "Source table", validate_table, "[DATABASE.]SCHEMA.TABLE"),
    FieldSpec("data_type", "Data type", validate_data_type, "fixed once created", choices=DATA_TYPES),
    FieldSpec("frequency", "Frequency", validate_frequency, "sync schedule", default="daily at 00:00"),
    FieldSpec(
        "contact_emails",
        "Contact emails",
        validate_emails,
        "who is told about sync errors",
        flag="--contact-email",
        default=[],
        required=False,
    ),
    FieldSpec("state", "State", validate_state, "draft, active or paused", default="draft", choices=STATES),
    FieldSpec(
        "update_existing_only",
        "Update existing users only",
        validate_bool,
        "only update users that already exist in Braze",
        default=False,
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

SMTP_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("host", "SMTP host", validate_host, "mail server host"),
    FieldSpec("port", "SMTP port", validate_port, "mail server port", default=587),
    FieldSpec("sender", "From", validate_email, "the sender address", flag="--from"),
    FieldSpec("security", "Security", validate_security, "starttls, ssl or none", default="starttls", choices=SMTP_SECURITY),
    FieldSpec("user", "SMTP user", validate_required_text, "login user (the password is kept in the keyring)", required=False),
)

BRAZE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("endpoint", "Instance or URL", validate_endpoint, "Braze instance (US-01 ... AU-01) or REST URL"),
    FieldSpec("time_zone", "Time zone", validate_time_zone, "workspace time zone (IANA name)", default="UTC"),
    FieldSpec(
        "requests_per_window",
        "Requests per window",
        validate_positive_int,
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
)


def field_by_key(fields: tuple[FieldSpec, ...], key: str) -> FieldSpec:
    for spec in fields:
        if spec.key == key:
            return spec
    raise KeyError(key)
