"""A real OpenSSH ``sshd`` on 127.0.0.1 with its own config, host key and authorized_keys in a
temporary folder: the bastion as production has it, for checking what the printed
``authorized_keys`` line allows.

It signs in as root (the tests run as root; root has a real shell, so a forced command, not a
missing shell, is what must stop ``ssh bastion id``), by public key only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SSH = shutil.which("ssh") or "/usr/bin/ssh"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


def sshd_unavailable() -> str | None:
    """Why a real sshd cannot run here, or None."""
    for program in (SSHD, SSH, SSH_KEYGEN):
        if not os.access(program, os.X_OK):
            return f"{program} is not installed (Debian: apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "a real sshd signing in a user needs root"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RealSshd:
    def __init__(self, folder: Path, authorized_keys: str) -> None:
        self.folder = folder
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.port = _free_port()
        self.host_key_file = folder / "ssh_host_ed25519_key"
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key_file)], check=True)
        self.authorized_keys = folder / "authorized_keys"
        self.authorized_keys.write_text(authorized_keys + "\n", encoding="utf-8")
        self.authorized_keys.chmod(0o600)
        self.log = folder / "sshd.log"
        self.config = folder / "sshd_config"
        self.config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key_file}",
                    f"PidFile {folder / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    "AuthenticationMethods publickey",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    "StrictModes no",
                    "AllowTcpForwarding yes",
                    "GatewayPorts no",
                    "PermitTunnel no",
                    "X11Forwarding no",
                    "LogLevel VERBOSE",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host_key_line(self) -> str:
        text = (self.folder / "ssh_host_ed25519_key.pub").read_text(encoding="ascii")
        return " ".join(text.split()[:2])

    def start(self) -> RealSshd:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        with open(self.log, "wb") as log:
            self._process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"sshd stopped at start: {self.log.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not listen within 10 s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)

    def ssh(self, key_file: Path, *arguments: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        """The OpenSSH client against this server with ``key_file`` only, host key checked."""
        known_hosts = self.folder / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{self.port} {self.host_key_line}\n", encoding="ascii")
        command = [
            SSH,
            "-F",
            "/dev/null",
            "-i",
            str(key_file),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=10",
            "-p",
            str(self.port),
            *arguments,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
