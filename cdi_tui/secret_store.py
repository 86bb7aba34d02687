"""Secrets: warehouse passwords, the Braze REST API key, the SMTP password.

:class:`CredentialsService` is the interface the rest of the product uses.
:class:`KeyringCredentials` keeps secrets in the OS keyring (service ``cdi-tui``); keyring
is imported only when first needed, and its ``fail`` backend (what keyring falls back to
when no Secret Service is running) is treated as unusable, with an error that says what to
do. There is no plaintext fallback.

For unattended hosts a secret may come from an environment variable instead, read only:
``CDI_TUI_BRAZE_API_KEY``, ``CDI_TUI_SMTP_PASSWORD``, ``CDI_TUI_SERVE_TOKEN`` (the trigger
API's bearer token), per integration ``CDI_TUI_ALERT_SECRET_<NAME>`` (the HMAC secret of its
alert webhooks) and, per credential,
``CDI_TUI_PASSWORD_<NAME>`` (the credential name upper-cased, every character that is not
a letter or digit replaced by ``_``). An environment value wins over the keyring.

A credential that goes through an SSH tunnel may have two more secrets: the private key
cdi-tui generated for it (``ssh-key:<name>``, or ``CDI_TUI_SSH_KEY_<NAME>``), and the
passphrase of a key file the user gave (``ssh-passphrase:<name>``, or
``CDI_TUI_SSH_PASSPHRASE_<NAME>``). A credential signing in with AWS IAM has none: AWS keeps
its secrets where it always does.

Each home (``CDI_TUI_HOME``, or the platform's folders) has keyring items of its own: the
service name is ``cdi-tui:<home id>``, the id a hash of the home's config file path, so a
second home never reads (or sends) the first one's secrets. Items an older cdi-tui kept under
the bare ``cdi-tui`` service (one set per OS user) are moved into the default home (the
platform's folders) when it first asks for them, and removed there once the copy reads back;
another home does not take them (which home they belonged to is not known) and says so when
a secret it needs is missing.

A secret never holds a control character (a CR or LF would reach the HTTP, SMTP or database
layer as a header or command break): one given with such a character, typed or in an
environment variable, is refused in one line, naming where it came from, never the value.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdi_tui.display import first_control_character
from cdi_tui.errors import CdiError

if TYPE_CHECKING:
    from cdi_tui.paths import AppPaths

log = logging.getLogger("cdi_tui.secrets")

SERVICE_NAME = "cdi-tui"
"""The keyring service of older versions (one per OS user); each home now has ``cdi-tui:<id>``."""
BRAZE_KEY_ENV = "CDI_TUI_BRAZE_API_KEY"
SMTP_PASSWORD_ENV = "CDI_TUI_SMTP_PASSWORD"
PASSWORD_ENV_PREFIX = "CDI_TUI_PASSWORD_"
SSH_KEY_ENV_PREFIX = "CDI_TUI_SSH_KEY_"
SSH_PASSPHRASE_ENV_PREFIX = "CDI_TUI_SSH_PASSPHRASE_"
SERVE_TOKEN_ENV = "CDI_TUI_SERVE_TOKEN"
ALERT_SECRET_ENV_PREFIX = "CDI_TUI_ALERT_SECRET_"


class SecretsUnavailable(CdiError, RuntimeError):
    """No usable secret store; the message says how to get one."""


class SecretMissing(CdiError, LookupError):
    """A secret the work needs was never stored."""


class SecretRefused(SecretMissing):
    """A secret given holds a control character (CR, LF, ESC...): it is not stored or used."""


def home_keyring_service(paths: AppPaths) -> str:
    """The keyring service of one home: ``cdi-tui:`` and 16 hex digits of its config file's path."""
    where = str(Path(paths.config_file).expanduser().resolve())
    return f"{SERVICE_NAME}:{hashlib.sha256(where.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}"


def check_secret(account: str, secret: str, where: str = "the secret") -> None:
    """Refuse a secret with a control character; only a generated SSH key (OpenSSH text) has line breaks.

    Raises:
        SecretRefused: naming ``where`` it came from and the character, never the secret.
    """
    text = secret.replace("\n", "") if account.startswith("ssh-key:") else secret
    unsafe = first_control_character(text)
    if unsafe is not None:
        raise SecretRefused(
            f"{where} holds a control character ({unsafe}); give it without line breaks, escape sequences or other "
            "control characters"
        )


DEFAULT_WORKSPACE = "default"  # as :data:`cdi_tui.config.DEFAULT_WORKSPACE` (this module imports no config)


def braze_key_account(workspace: str = DEFAULT_WORKSPACE) -> str:
    """A Braze workspace's REST API key: ``braze:api-key`` for ``default`` (the one account an
    older cdi-tui kept), ``braze:api-key:<name>`` for each other workspace."""
    return "braze:api-key" if workspace == DEFAULT_WORKSPACE else f"braze:api-key:{workspace}"


def braze_key_label(workspace: str = DEFAULT_WORKSPACE) -> str:
    """A workspace's key as messages name it ("Braze REST API key", "... of workspace 'prod'")."""
    return "Braze REST API key" if workspace == DEFAULT_WORKSPACE else f"Braze REST API key of workspace '{workspace}'"


def braze_key_env_var(workspace: str = DEFAULT_WORKSPACE) -> str:
    """``CDI_TUI_BRAZE_API_KEY`` for ``default``; ``CDI_TUI_BRAZE_API_KEY_<NAME>`` for another workspace."""
    return BRAZE_KEY_ENV if workspace == DEFAULT_WORKSPACE else f"{BRAZE_KEY_ENV}_{_env_suffix(workspace)}"


def smtp_password_account() -> str:
    return "smtp:password"


def credential_account(credential_name: str) -> str:
    return f"credential:{credential_name}"


def ssh_key_account(credential_name: str) -> str:
    """The private key cdi-tui generated for a credential's SSH tunnel."""
    return f"ssh-key:{credential_name}"


def ssh_passphrase_account(credential_name: str) -> str:
    """The passphrase of the SSH key file a credential names."""
    return f"ssh-passphrase:{credential_name}"


def serve_token_account() -> str:
    """The bearer token of ``cdi-tui serve``'s trigger API (``cdi-tui serve token --new``)."""
    return "serve:api-token"


def alert_secret_account(integration_name: str) -> str:
    """The HMAC secret that signs an integration's generic JSON alerts."""
    return f"alert-secret:{integration_name}"


def credential_secret_accounts(credential_name: str) -> tuple[str, ...]:
    """Every secret a credential may have, for removing them all with it."""
    return (credential_account(credential_name), ssh_key_account(credential_name), ssh_passphrase_account(credential_name))


def _env_suffix(credential_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", credential_name).upper()


def credential_env_var(credential_name: str) -> str:
    return PASSWORD_ENV_PREFIX + _env_suffix(credential_name)


def _env_var_for(account: str) -> str | None:
    if account == braze_key_account():
        return BRAZE_KEY_ENV
    if account.startswith("braze:api-key:"):
        return braze_key_env_var(account.removeprefix("braze:api-key:"))
    if account == smtp_password_account():
        return SMTP_PASSWORD_ENV
    if account == serve_token_account():
        return SERVE_TOKEN_ENV
    kind, _, name = account.partition(":")
    prefix = {
        "credential": PASSWORD_ENV_PREFIX,
        "ssh-key": SSH_KEY_ENV_PREFIX,
        "ssh-passphrase": SSH_PASSPHRASE_ENV_PREFIX,
        "alert-secret": ALERT_SECRET_ENV_PREFIX,
    }.get(kind)
    return prefix + _env_suffix(name) if prefix and name else None


class CredentialsService(ABC):
    """Where secrets are kept. Accounts are strings such as ``credential:prod``."""

    @abstractmethod
    def _get(self, account: str) -> str | None: ...

    @abstractmethod
    def _set(self, account: str, secret: str) -> None: ...

    @abstractmethod
    def _delete(self, account: str) -> None: ...

    def describe(self) -> str:
        return type(self).__name__

    def bind_home(self, paths: AppPaths) -> None:  # noqa: B027 (a store of one home's secrets has nothing to do)
        """Keep the secrets of the home ``paths`` apart (a store shared by homes names its items per home)."""

    def get(self, account: str) -> str | None:
        """The secret for ``account``: the environment variable when set, else the store.

        Raises:
            SecretRefused: the environment variable holds a control character.
        """
        env_var = _env_var_for(account)
        if env_var and os.environ.get(env_var):
            value = os.environ[env_var]
            check_secret(account, value, f"the environment variable {env_var}")
            return value
        return self._get(account)

    def _missing_hint(self, account: str) -> str:
        """More to say when ``account`` is not stored (a store may know where an old copy is)."""
        return ""

    def require(self, account: str, what: str) -> str:
        """Like :meth:`get`, but a missing secret is an error that names what to do.

        Raises:
            SecretMissing: when neither the environment nor the store has it.
        """
        secret = self.get(account)
        if secret is None:
            env_var = _env_var_for(account)
            hint = f" or set {env_var}" if env_var else ""
            raise SecretMissing(f"no {what} is stored; save it again{hint}{self._missing_hint(account)}")
        return secret

    def set(self, account: str, secret: str) -> None:
        """Store a secret.

        Raises:
            ValueError: it is empty.
            SecretRefused: it holds a control character (nothing is stored).
        """
        if not secret:
            raise ValueError("an empty secret cannot be stored")
        check_secret(account, secret)
        self._set(account, secret)

    def delete(self, account: str) -> None:
        self._delete(account)


class KeyringCredentials(CredentialsService):
    """Secrets in the OS keyring through the ``keyring`` library (imported lazily), per home.

    Built for a home with :meth:`for_home`; one built bare takes the home a :class:`Workspace`
    binds it to (:meth:`bind_home`), else the home of ``CDI_TUI_HOME`` (or the platform's) when
    first used.
    """

    def __init__(self, service: str | None = None, *, legacy_service: str | None = None) -> None:
        self._service = service
        self.legacy_service = legacy_service
        self._keyring: Any = None

    @classmethod
    def for_home(cls, paths: AppPaths) -> KeyringCredentials:
        store = cls()
        store.bind_home(paths)
        return store

    def bind_home(self, paths: AppPaths) -> None:
        """Keep this home's secrets under its own service; the default home adopts the old shared items."""
        if self._service is not None:
            return
        from cdi_tui.paths import is_default_home

        self._service = home_keyring_service(paths)
        self.legacy_service = SERVICE_NAME if is_default_home(paths) else None

    @property
    def service(self) -> str:
        if self._service is None:
            from cdi_tui.paths import app_paths

            self.bind_home(app_paths())
        assert self._service is not None
        return self._service

    def _backend(self) -> Any:
        if self._keyring is None:
            import keyring

            backend = keyring.get_keyring()
            if _is_unusable(backend):
                raise SecretsUnavailable(
                    "no usable OS keyring: keyring found only its 'fail' backend. Start a Secret "
                    "Service (for example gnome-keyring-daemon inside a D-Bus session), or choose a "
                    "backend explicitly with keyring's own PYTHON_KEYRING_BACKEND variable. "
                    "Secrets may also come from environment variables (see the README)."
                )
            self._keyring = keyring
        return self._keyring

    def describe(self) -> str:
        try:
            backend = self._backend().get_keyring()
        except SecretsUnavailable:
            return "no usable keyring"
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def probe(self) -> None:
        """Check the keyring answers; raises :class:`SecretsUnavailable` with the fix if not."""
        keyring = self._backend()
        try:
            keyring.get_password(self.service, "probe")
        except Exception as error:
            raise SecretsUnavailable(f"the keyring did not answer: {type(error).__name__}: {error}") from None

    def _read(self, service: str, account: str) -> str | None:
        keyring = self._backend()
        try:
            value = keyring.get_password(service, account)
        except Exception as error:
            raise SecretsUnavailable(f"the keyring did not answer: {type(error).__name__}") from None
        return value if value is None else str(value)

    def _get(self, account: str) -> str | None:
        value = self._read(self.service, account)
        if value is None and self.legacy_service is not None:
            value = self._adopt_legacy(account)
        return value

    def _adopt_legacy(self, account: str) -> str | None:
        """Move an item an older version kept under the shared service into this home's service.

        The old item is removed only once the new one reads back the same; if the keyring
        refuses the copy, the old item stays and is used as it is.
        """
        assert self.legacy_service is not None
        old = self._read(self.legacy_service, account)
        if old is None:
            return None
        try:
            self._write(self.service, account, old)
            moved = self._read(self.service, account) == old
        except SecretsUnavailable:
            moved = False
        if moved:
            self._remove(self.legacy_service, account)
            log.info("moved the keyring item %s from service %s to %s", account, self.legacy_service, self.service)
        return old

    def _missing_hint(self, account: str) -> str:
        if self.legacy_service is not None or self._read(SERVICE_NAME, account) is None:
            return ""
        return (
            f" (an older cdi-tui kept one under the keyring service '{SERVICE_NAME}', shared by every home; it is moved "
            "only into the default home, so save it again for this one)"
        )

    def _write(self, service: str, account: str, secret: str) -> None:
        keyring = self._backend()
        try:
            keyring.set_password(service, account, secret)
        except Exception as error:
            raise SecretsUnavailable(f"the keyring refused to store a secret: {type(error).__name__}") from None

    def _set(self, account: str, secret: str) -> None:
        self._write(self.service, account, secret)
        if self.legacy_service is not None:
            self._remove(self.legacy_service, account)  # an old copy would outlive the new secret

    def _remove(self, service: str, account: str) -> None:
        backend = self._backend()
        from keyring.errors import PasswordDeleteError

        try:
            backend.delete_password(service, account)
        except PasswordDeleteError:
            pass
        except Exception as error:
            raise SecretsUnavailable(f"the keyring did not answer: {type(error).__name__}") from None

    def _delete(self, account: str) -> None:
        self._remove(self.service, account)
        if self.legacy_service is not None:
            self._remove(self.legacy_service, account)


def _is_unusable(backend: Any) -> bool:
    """keyring's ``fail`` backend, or a chainer whose every member is it, stores nothing."""
    from keyring.backends import chainer, fail

    if isinstance(backend, fail.Keyring):
        return True
    if isinstance(backend, chainer.ChainerBackend):
        return all(isinstance(member, fail.Keyring) for member in backend.backends) or not backend.backends
    return False


class MemoryCredentials(CredentialsService):
    """Secrets held in this process only: for ``cdi-tui demo``'s throwaway stand-ins.

    Nothing is written anywhere; everything is gone when the process ends.
    """

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}

    def describe(self) -> str:
        return "memory (demo only; nothing is saved)"

    def _get(self, account: str) -> str | None:
        return self._secrets.get(account)

    def _set(self, account: str, secret: str) -> None:
        self._secrets[account] = secret

    def _delete(self, account: str) -> None:
        self._secrets.pop(account, None)
