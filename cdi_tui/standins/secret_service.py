"""A private Secret Service for keyring: D-Bus session bus + gnome-keyring, in a temp folder.

This is the same Secret Service a Linux desktop runs, started headless: a session
``dbus-daemon`` on a private socket, and ``gnome-keyring-daemon`` with a fresh ``login``
keyring unlocked with a throwaway password. Nothing touches the caller's own keyring:
HOME and the XDG folders point into the temporary folder.

Needs Debian's ``dbus-daemon`` and ``gnome-keyring`` packages (``.ci/run`` installs them).
"""

from __future__ import annotations

import contextlib
import os
import secrets as random_tokens
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cdi_tui.standins.postgres import StandInError


@dataclass
class SecretService:
    """A running private Secret Service; ``env`` holds the variables a client needs."""

    folder: Path
    env: dict[str, str]
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        self._processes.clear()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> SecretService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def secret_service_available() -> bool:
    return bool(shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon"))


def start_secret_service() -> SecretService:
    """Start ``dbus-daemon`` and an unlocked ``gnome-keyring-daemon``.

    Returns:
        The service; set ``service.env`` into ``os.environ`` (or a child's environment)
        so keyring's SecretService backend talks to it.

    Raises:
        StandInError: when the programs are missing or do not start.
    """
    dbus_daemon = shutil.which("dbus-daemon")
    keyring_daemon = shutil.which("gnome-keyring-daemon")
    if not dbus_daemon or not keyring_daemon:
        raise StandInError(
            "a Secret Service needs dbus-daemon and gnome-keyring-daemon (Debian: apt-get install dbus-daemon gnome-keyring)"
        )
    folder = Path(tempfile.mkdtemp(prefix="cdi-tui-secrets-"))
    runtime = folder / "run"
    runtime.mkdir(mode=0o700)
    env = {
        **os.environ,
        "HOME": str(folder),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_CACHE_HOME": str(folder / "cache"),
    }
    service = SecretService(folder, {})
    try:
        bus = subprocess.Popen(
            [dbus_daemon, "--session", "--nofork", "--print-address=1", f"--address=unix:path={folder / 'bus'}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        service._processes.append(bus)  # noqa: SLF001 - the factory of this class
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        if not address:
            raise StandInError("dbus-daemon did not start")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        keyring_process = subprocess.Popen(
            [keyring_daemon, "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        service._processes.append(keyring_process)  # noqa: SLF001 - the factory of this class
        assert keyring_process.stdin is not None
        keyring_process.stdin.write(random_tokens.token_urlsafe(12).encode())
        keyring_process.stdin.close()
        _wait_for_name(env, "org.freedesktop.secrets")
    except BaseException:
        service.stop()
        raise
    service.env = {
        key: env[key] for key in ("DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME")
    }
    return service


def _wait_for_name(env: dict[str, str], name: str, timeout: float = 15.0) -> None:
    """Wait until ``name`` is owned on the bus (gnome-keyring has registered)."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    deadline = time.monotonic() + timeout
    bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            connection = open_dbus_connection(bus=env["DBUS_SESSION_BUS_ADDRESS"])
            try:
                reply = connection.send_and_get_reply(new_method_call(bus, "NameHasOwner", "s", (name,)), timeout=2)
                if reply.body and reply.body[0]:
                    return
            finally:
                connection.close()
        time.sleep(0.1)
    raise StandInError(f"the Secret Service ({name}) did not appear on the session bus")
