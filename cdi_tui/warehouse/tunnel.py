"""SSH tunnels to a private cluster through a bastion host, with asyncssh.

A tunnel opens for one warehouse connection and closes with it. The SSH connection runs in
an event loop of its own thread; it listens on a Unix socket in a private folder (0700) and
forwards each connection made there to the cluster's host and port through the bastion
(an SSH ``direct-tcpip`` channel). redshift-connector connects to that socket with
``unix_sock`` while keeping the cluster's real host name, so TLS still verifies the
cluster's certificate and name (``verify-full``) end to end, through the tunnel.

Host keys are checked before anything else is sent: the bastion's key must be the one the
credential accepted (its fingerprint seen and confirmed by the user) or be listed for the
host in ``~/.ssh/known_hosts``. An unknown key stops with its fingerprint; a key that
differs from the one trusted stops with both fingerprints.

Failures become :class:`~cdi_tui.warehouse.errors.WarehouseError` kinds that name the hop:
``ssh_unreachable``, ``ssh_auth``, ``ssh_key``, ``ssh_host_key_unknown``,
``ssh_host_key_changed``, ``ssh_forward_refused``; a tunnel cut while in use is the usual
``connection_lost``. No secret (key, passphrase) ever reaches a message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cdi_tui.warehouse.errors import (
    CONNECTION_LOST,
    SSH_AUTH,
    SSH_FORWARD_REFUSED,
    SSH_HOST_KEY_CHANGED,
    SSH_HOST_KEY_UNKNOWN,
    SSH_KEY,
    SSH_UNREACHABLE,
    WarehouseError,
)

T = TypeVar("T")
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class SshSettings:
    """How to reach the bastion. Secrets are kept out of ``repr``.

    Either ``private_key`` (the OpenSSH text of a key cdi-tui generated, from the keyring) or
    ``key_path`` (a key file of the user's, with ``passphrase`` when it is encrypted).
    """

    host: str
    user: str
    port: int = 22
    private_key: str | None = field(default=None, repr=False)
    key_path: str | None = None
    passphrase: str | None = field(default=None, repr=False)
    host_key: str | None = None
    known_hosts: str | None = DEFAULT_KNOWN_HOSTS
    connect_timeout: float = 15.0
    keepalive_seconds: float = 15.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


# keys -------------------------------------------------------------------------------------


def generate_key_pair(comment: str) -> tuple[str, str]:
    """A new Ed25519 key pair: (private key in OpenSSH format, public key line)."""
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    private = key.export_private_key("openssh").decode("ascii")
    public = key.export_public_key("openssh").decode("ascii").strip()
    return private, public


def fingerprint(public_key_line: str) -> str:
    """The OpenSSH SHA256 fingerprint of a public key line (``SHA256:...``)."""
    import asyncssh

    try:
        fingerprint_text: str = asyncssh.import_public_key(public_key_line).get_fingerprint("sha256")
    except (asyncssh.KeyImportError, ValueError):
        raise WarehouseError(SSH_KEY, "Not an SSH public key", "Expected a line such as 'ssh-ed25519 AAAA...'.") from None
    return fingerprint_text


# Where a ``-R`` listener would be allowed to listen: a privileged port of the bastion's
# loopback, which the (unprivileged) tunnel user cannot bind. OpenSSH has no per-key switch
# that keeps ``-L`` but drops ``-R`` (``port-forwarding`` turns both on), and ``permitlisten``
# wants a real port (1-65535): naming one that cannot be bound is how a key refuses ``-R``.
UNBINDABLE_LISTEN = "127.0.0.1:1"


def authorized_keys_line(public_key_line: str, target_host: str, target_port: int) -> str:
    """The line for the tunnel user's ``authorized_keys``: forwarding to the cluster, nothing else.

    ``restrict`` turns everything off (pty, agent and X11 forwarding, user rc); ``port-forwarding``
    turns forwarding back on, ``permitopen`` keeps ``-L`` to the cluster's host and port only,
    ``permitlisten`` keeps ``-R`` to a listener that cannot be bound, and ``command="/bin/false"``
    replaces any command or shell the key asks for (``ssh -i key bastion id`` runs /bin/false).
    """
    target = f"[{target_host}]" if ":" in target_host else target_host
    return (
        f'restrict,port-forwarding,permitopen="{target}:{target_port}",command="/bin/false",'
        f'permitlisten="{UNBINDABLE_LISTEN}" {public_key_line}'
    )


def check_key_file(path: str) -> None:
    """Refuse a private key file other users can read or change, as OpenSSH does ("UNPROTECTED
    PRIVATE KEY FILE"): it must be the user's own (or root's) with no group or other access.

    Raises:
        WarehouseError: kind ``ssh_key``, with the chmod that fixes it.
    """
    where = Path(path).expanduser()
    try:
        status = where.stat()
    except OSError as error:
        raise WarehouseError(SSH_KEY, f"Cannot read the SSH key file {path} ({error.strerror})") from None
    if status.st_mode & 0o077:
        raise WarehouseError(
            SSH_KEY,
            f"The SSH key file {path} can be read or changed by other users (mode {status.st_mode & 0o777:04o}); "
            "like OpenSSH, cdi-tui does not use it",
            f"Run 'chmod 600 {path}' (and check who may have copied it).",
        )
    if status.st_uid not in (os.geteuid(), 0):
        raise WarehouseError(
            SSH_KEY, f"The SSH key file {path} belongs to another user (uid {status.st_uid})", "Use a key file of your own."
        )


def key_file_is_encrypted(path: str) -> bool:
    """True when the private key file needs a passphrase.

    Raises:
        WarehouseError: kind ``ssh_key`` when the file cannot be read, is not a private key, or
            can be read by other users.
    """
    import asyncssh

    check_key_file(path)
    try:
        asyncssh.read_private_key(Path(path).expanduser())
    except asyncssh.KeyImportError as error:
        if "passphrase" in str(error).lower():
            return True
        raise WarehouseError(SSH_KEY, f"{path} is not an SSH private key this program can read") from None
    except OSError as error:
        raise WarehouseError(SSH_KEY, f"Cannot read the SSH key file {path} ({error.strerror})") from None
    return False


def public_key_of(settings: SshSettings) -> str:
    """The public key line of the settings' private key (to show for ``authorized_keys``)."""
    key = _load_private_key(settings)
    return str(key.export_public_key("openssh").decode("ascii").strip())


def _load_private_key(settings: SshSettings) -> Any:
    import asyncssh

    where = "the SSH key kept in the keyring" if settings.private_key else f"the SSH key file {settings.key_path}"
    try:
        if settings.private_key:
            return asyncssh.import_private_key(settings.private_key, settings.passphrase)
        if not settings.key_path:
            raise WarehouseError(SSH_KEY, "No SSH key is set for the tunnel")
        check_key_file(settings.key_path)
        return asyncssh.read_private_key(Path(settings.key_path).expanduser(), settings.passphrase)
    except asyncssh.KeyEncryptionError:
        raise WarehouseError(
            SSH_KEY,
            f"The passphrase kept for {where} does not open it",
            "Save the key's passphrase again (credentials add --replace).",
        ) from None
    except asyncssh.KeyImportError as error:
        if "passphrase" in str(error).lower():
            raise WarehouseError(
                SSH_KEY, f"{where} needs a passphrase and none is kept", "Save it with 'cdi-tui credentials add ... --replace'."
            ) from None
        raise WarehouseError(SSH_KEY, f"{where} is not an SSH private key this program can read") from None
    except OSError as error:
        raise WarehouseError(SSH_KEY, f"Cannot read {where} ({error.strerror})") from None


def _trusted_host_keys(settings: SshSettings) -> list[Any]:
    """The credential's accepted key, and the host's keys from the known_hosts file."""
    import asyncssh

    keys: list[Any] = []
    if settings.host_key:
        with contextlib.suppress(asyncssh.KeyImportError, ValueError):
            keys.append(asyncssh.import_public_key(settings.host_key))
    path = Path(settings.known_hosts).expanduser() if settings.known_hosts else None
    if path is not None and path.is_file():
        addr = settings.host if _is_ip(settings.host) else ""
        port = None if settings.port == 22 else settings.port
        with contextlib.suppress(OSError, ValueError, asyncssh.Error):
            host_keys = asyncssh.match_known_hosts(str(path), settings.host, addr, port)[0]
            keys.extend(key for key in host_keys if key not in keys)
    return keys


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _host_key_algorithms(trusted: list[Any]) -> Any:
    """Ask for the key types already trusted (as OpenSSH does), else the defaults."""
    algorithms: list[str] = []
    for key in trusted:
        for algorithm in key.sig_algorithms:
            name = algorithm.decode("ascii")
            if name not in algorithms:
                algorithms.append(name)
    return algorithms or "default"


def _host_key_error(settings: SshSettings, trusted: list[Any], shown: Any) -> WarehouseError:
    shown_fingerprint = shown.get_fingerprint("sha256")
    if not trusted:
        return HostKeyError(
            SSH_HOST_KEY_UNKNOWN,
            f"The SSH host key of {settings.where} is not known yet; the server shows {shown_fingerprint}",
            "Check this fingerprint with the bastion's administrator (on the bastion: ssh-keygen -lf "
            "/etc/ssh/ssh_host_ed25519_key.pub), then accept it in the app's connection test or with "
            f"'cdi-tui test INTEGRATION --accept-host-key {shown_fingerprint}'.",
            shown_fingerprint=shown_fingerprint,
        )
    expected = ", ".join(key.get_fingerprint("sha256") for key in trusted)
    return HostKeyError(
        SSH_HOST_KEY_CHANGED,
        f"The SSH host key of {settings.where} has CHANGED: expected {expected}, the server shows {shown_fingerprint}. "
        "Connection refused",
        "Someone may be intercepting the connection, or the bastion was rebuilt. Only if its administrator confirms "
        f"the new fingerprint, accept it with 'cdi-tui test INTEGRATION --accept-host-key {shown_fingerprint}' "
        "(or in the app's connection test); a key listed in ~/.ssh/known_hosts is fixed there (ssh-keygen -R HOST).",
        shown_fingerprint=shown_fingerprint,
        expected_fingerprints=tuple(key.get_fingerprint("sha256") for key in trusted),
    )


class HostKeyError(WarehouseError):
    """The bastion's host key is unknown or changed; carries the fingerprints for the user."""

    def __init__(
        self, kind: str, message: str, fix: str, *, shown_fingerprint: str, expected_fingerprints: tuple[str, ...] = ()
    ) -> None:
        super().__init__(kind, message, fix)
        self.shown_fingerprint = shown_fingerprint
        self.expected_fingerprints = expected_fingerprints


def _connect_error(settings: SshSettings, error: BaseException) -> WarehouseError:
    import asyncssh

    where = settings.where
    if isinstance(error, asyncssh.PermissionDenied):
        return WarehouseError(
            SSH_AUTH,
            f"The bastion {where} refused the SSH key for user '{settings.user}'",
            "Add the credential's public key to that user's ~/.ssh/authorized_keys on the bastion "
            "('cdi-tui credentials public-key NAME' prints the line), and check the SSH user name.",
        )
    if isinstance(error, socket.gaierror):
        return WarehouseError(SSH_UNREACHABLE, f"Cannot resolve the SSH host '{settings.host}'", _UNREACHABLE_FIX)
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return WarehouseError(SSH_UNREACHABLE, f"The SSH host {where} did not answer in time", _UNREACHABLE_FIX)
    if isinstance(error, ConnectionRefusedError):
        return WarehouseError(
            SSH_UNREACHABLE, f"The SSH host {where} refused the connection (no SSH server there)", _UNREACHABLE_FIX
        )
    if isinstance(error, OSError):
        return WarehouseError(
            SSH_UNREACHABLE, f"Cannot reach the SSH host {where} ({error.strerror or 'network error'})", _UNREACHABLE_FIX
        )
    if isinstance(error, asyncssh.Error):
        return WarehouseError(SSH_UNREACHABLE, f"The SSH connection to {where} failed: {error.reason}", _UNREACHABLE_FIX)
    return WarehouseError(SSH_UNREACHABLE, f"The SSH connection to {where} failed ({type(error).__name__})", _UNREACHABLE_FIX)


_UNREACHABLE_FIX = (
    "Check the SSH host and port, that the bastion is running, and that its security group or firewall lets "
    "this machine in on the SSH port."
)


def _client_options(settings: SshSettings, trusted: list[Any]) -> dict[str, Any]:
    """Options that make asyncssh use only what the credential says (no ~/.ssh/config, no agent)."""
    return {
        "port": settings.port,
        "config": None,
        "known_hosts": (trusted, [], []),
        "server_host_key_algs": _host_key_algorithms(trusted),
        "agent_path": None,
        "x509_trusted_certs": None,
        "gss_host": None,
        "connect_timeout": settings.connect_timeout,
        "encryption_algs": ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr"],
    }


# the tunnel -------------------------------------------------------------------------------


class _LoopThread:
    """An event loop in a daemon thread, for one tunnel."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


class SshTunnel:
    """One SSH connection to the bastion, forwarding a private Unix socket to the cluster.

    Use :meth:`open` (returns the socket's path) and :meth:`close`.
    """

    def __init__(self, settings: SshSettings, target_host: str, target_port: int) -> None:
        self.settings = settings
        self.target_host = target_host
        self.target_port = target_port
        self.forwards = 0  # connections forwarded, for tests and logs
        self._runner: _LoopThread | None = None
        self._conn: Any = None
        self._server: asyncio.AbstractServer | None = None
        self._folder: str | None = None
        self._writers: set[Any] = set()
        self._failure: WarehouseError | None = None
        self._closing = False

    def open(self) -> str:
        """Connect to the bastion, check its host key, sign in, and start forwarding.

        Returns:
            The path of the Unix socket that leads to the cluster.

        Raises:
            WarehouseError: ``ssh_unreachable``, ``ssh_auth``, ``ssh_key``,
                ``ssh_host_key_unknown`` or ``ssh_host_key_changed``.
        """
        key = _load_private_key(self.settings)
        self._runner = _LoopThread(f"ssh-tunnel-{self.settings.host}")
        try:
            return self._runner.run(self._open(key), self.settings.connect_timeout + 5)
        except concurrent.futures.TimeoutError:
            self.close()
            raise WarehouseError(
                SSH_UNREACHABLE, f"The SSH host {self.settings.where} did not answer in time", _UNREACHABLE_FIX
            ) from None
        except BaseException:
            self.close()
            raise

    async def _open(self, key: Any) -> str:
        import asyncssh

        settings = self.settings
        trusted = _trusted_host_keys(settings)
        shown: list[Any] = []

        class Client(asyncssh.SSHClient):
            def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
                shown.append(key)  # not trusted (asyncssh asks only about keys not in the trusted list)
                return False

        try:
            self._conn = await asyncio.wait_for(
                asyncssh.connect(
                    settings.host,
                    username=settings.user,
                    client_factory=Client,
                    client_keys=[key],
                    preferred_auth="publickey",
                    keepalive_interval=settings.keepalive_seconds,
                    keepalive_count_max=3,
                    **_client_options(settings, trusted),
                ),
                settings.connect_timeout,
            )
        except asyncssh.HostKeyNotVerifiable:
            if shown:
                raise _host_key_error(settings, trusted, shown[-1]) from None
            raise WarehouseError(SSH_HOST_KEY_UNKNOWN, f"The SSH host key of {settings.where} could not be verified") from None
        except Exception as error:
            raise _connect_error(settings, error) from None
        self._folder = tempfile.mkdtemp(prefix="cdi-tui-ssh-")
        path = os.path.join(self._folder, "redshift.sock")
        self._server = await asyncio.start_unix_server(self._forward, path)
        os.chmod(path, 0o600)
        asyncio.get_running_loop().create_task(self._watch())
        return path

    async def _watch(self) -> None:
        """When the SSH connection ends while in use, cut the forwarded connections at once."""
        await self._conn.wait_closed()
        if not self._closing:
            self._failure = self._failure or WarehouseError(
                CONNECTION_LOST, f"The SSH tunnel through {self.settings.where} was cut"
            )
            for writer in list(self._writers):
                writer.transport.abort()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # a forward cancelled by close() ends quietly (asyncio would log a cancelled handler)
        with contextlib.suppress(asyncio.CancelledError):
            await self._forward_one(reader, writer)

    async def _forward_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import asyncssh

        self.forwards += 1
        try:
            remote_reader, remote_writer = await self._conn.open_connection(self.target_host, self.target_port)
        except asyncssh.ChannelOpenError as error:
            self._failure = WarehouseError(
                SSH_FORWARD_REFUSED,
                f"The bastion {self.settings.where} refused to forward to {self.target_host}:{self.target_port} ({error.reason})",
                "Let the tunnel user forward to the cluster: in sshd_config 'AllowTcpForwarding yes' (or 'local'), and in "
                "authorized_keys a permitopen naming the cluster's host and port; check that the bastion can reach the "
                "cluster (its security group must allow the bastion on the cluster's port).",
            )
            writer.close()
            return
        except (asyncssh.Error, OSError):
            writer.close()
            return
        self._writers.add(writer)
        try:
            await asyncio.gather(self._pipe(reader, remote_writer), self._pipe(remote_reader, writer))
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
            with contextlib.suppress(Exception):
                remote_writer.close()

    @staticmethod
    async def _pipe(reader: Any, writer: Any) -> None:
        try:
            while True:
                chunk = await reader.read(_CHUNK)
                if not chunk:
                    break
                writer.write(chunk)
                await writer.drain()
            with contextlib.suppress(Exception):
                writer.write_eof()
        except Exception:
            with contextlib.suppress(Exception):
                writer.close()

    def failure(self) -> WarehouseError | None:
        """What went wrong in the tunnel, if anything: a refused forward or a cut."""
        if self._failure is None and self._conn is not None and not self._closing and self._conn.is_closed():
            return WarehouseError(CONNECTION_LOST, f"The SSH tunnel through {self.settings.where} was cut")
        return self._failure

    def close(self) -> None:
        """Stop forwarding and close the SSH connection (safe to call more than once)."""
        self._closing = True
        runner, self._runner = self._runner, None
        if runner is not None:
            with contextlib.suppress(Exception):
                runner.run(self._close(), 10)
            runner.stop()
        folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.close()
        if self._conn is not None:
            self._conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.wait_closed(), 5)
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.sleep(0.01)  # let the transports just closed release their sockets


def fetch_host_key(settings: SshSettings) -> str:
    """The host key the bastion shows (its key exchange only: nothing is signed or sent).

    Uses the same host key types a tunnel would ask for, so the key is the one a connection
    then checks.

    Returns:
        The public key line (``ssh-ed25519 AAAA...``).

    Raises:
        WarehouseError: kind ``ssh_unreachable``.
    """
    import asyncssh

    async def fetch() -> str:
        trusted = _trusted_host_keys(settings)
        options = _client_options(settings, trusted)
        for unused in ("known_hosts", "agent_path", "x509_trusted_certs", "gss_host", "connect_timeout", "encryption_algs"):
            options.pop(unused)
        try:
            key = await asyncio.wait_for(asyncssh.get_server_host_key(settings.host, **options), settings.connect_timeout)
        except Exception as error:
            raise _connect_error(settings, error) from None
        if key is None:
            raise WarehouseError(SSH_UNREACHABLE, f"The SSH host {settings.where} showed no host key")
        return " ".join(key.export_public_key("openssh").decode("ascii").split()[:2])

    runner = _LoopThread("ssh-host-key")
    try:
        return runner.run(fetch(), settings.connect_timeout + 5)
    except concurrent.futures.TimeoutError:
        raise WarehouseError(SSH_UNREACHABLE, f"The SSH host {settings.where} did not answer in time", _UNREACHABLE_FIX) from None
    finally:
        runner.stop()
