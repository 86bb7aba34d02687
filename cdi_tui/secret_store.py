"""Secrets: warehouse passwords, the Braze REST API key, the SMTP password.

:class:`CredentialsService` is the interface the rest of the product uses.
:class:`KeyringCredentials` keeps secrets in the OS keyring (service ``cdi-tui``); keyring
is imported only when first needed, and its ``fail`` backend (what keyring falls back to
when no Secret Service is running) is treated as unusable, with an error that says what to
do. There is no plaintext fallback.

For unattended hosts a secret may come from an environment variable instead, read only:
``CDI_TUI_BRAZE_API_KEY``, ``CDI_TUI_SMTP_PASSWORD`` and, per credential,
``CDI_TUI_PASSWORD_<NAME>`` (the credential name upper-cased, every character that is not
a letter or digit replaced by ``_``). An environment value wins over the keyring.

A credential that goes through an SSH tunnel may have two more secrets: the private key
cdi-tui generated for it (``ssh-key:<name>``, or ``CDI_TUI_SSH_KEY_<NAME>``), and the
passphrase of a key file the user gave (``ssh-passphrase:<name>``, or
``CDI_TUI_SSH_PASSPHRASE_<NAME>``). A credential signing in with AWS IAM has none: AWS keeps
its secrets where it always does.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from typing import Any

SERVICE_NAME = "cdi-tui"
BRAZE_KEY_ENV = "CDI_TUI_BRAZE_API_KEY"
SMTP_PASSWORD_ENV = "CDI_TUI_SMTP_PASSWORD"
PASSWORD_ENV_PREFIX = "CDI_TUI_PASSWORD_"
SSH_KEY_ENV_PREFIX = "CDI_TUI_SSH_KEY_"
SSH_PASSPHRASE_ENV_PREFIX = "CDI_TUI_SSH_PASSPHRASE_"


class SecretsUnavailable(RuntimeError):
    """No usable secret store; the message says how to get one."""


class SecretMissing(LookupError):
    """A secret the work needs was never stored."""


def braze_key_account() -> str:
    return "braze:api-key"


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
    if account == smtp_password_account():
        return SMTP_PASSWORD_ENV
    kind, _, name = account.partition(":")
    prefix = {
        "credential": PASSWORD_ENV_PREFIX,
        "ssh-key": SSH_KEY_ENV_PREFIX,
        "ssh-passphrase": SSH_PASSPHRASE_ENV_PREFIX,
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

    def get(self, account: str) -> str | None:
        """The secret for ``account``: the environment variable when set, else the store."""
        env_var = _env_var_for(account)
        if env_var and os.environ.get(env_var):
            return os.environ[env_var]
        return self._get(account)

    def require(self, account: str, what: str) -> str:
        """Like :meth:`get`, but a missing secret is an error that names what to do.

        Raises:
            SecretMissing: when neither the environment nor the store has it.
        """
        secret = self.get(account)
        if secret is None:
            env_var = _env_var_for(account)
            hint = f" or set {env_var}" if env_var else ""
            raise SecretMissing(f"no {what} is stored; save it again{hint}")
        return secret

    def set(self, account: str, secret: str) -> None:
        if not secret:
            raise ValueError("an empty secret cannot be stored")
        self._set(account, secret)

    def delete(self, account: str) -> None:
        self._delete(account)


class KeyringCredentials(CredentialsService):
    """Secrets in the OS keyring through the ``keyring`` library (imported lazily)."""

    def __init__(self, service: str = SERVICE_NAME) -> None:
        self.service = service
        self._keyring: Any = None

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

    def _get(self, account: str) -> str | None:
        keyring = self._backend()
        try:
            value = keyring.get_password(self.service, account)
        except Exception as error:
            raise SecretsUnavailable(f"the keyring did not answer: {type(error).__name__}") from None
        return value if value is None else str(value)

    def _set(self, account: str, secret: str) -> None:
        keyring = self._backend()
        try:
            keyring.set_password(self.service, account, secret)
        except Exception as error:
            raise SecretsUnavailable(f"the keyring refused to store a secret: {type(error).__name__}") from None

    def _delete(self, account: str) -> None:
        backend = self._backend()
        from keyring.errors import PasswordDeleteError

        try:
            backend.delete_password(self.service, account)
        except PasswordDeleteError:
            pass
        except Exception as error:
            raise SecretsUnavailable(f"the keyring did not answer: {type(error).__name__}") from None


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
