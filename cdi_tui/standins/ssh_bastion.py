"""An SSH bastion on 127.0.0.1: asyncssh's SSH server, forwarding like OpenSSH's sshd.

It signs users in with public keys from an ``authorized_keys`` text (its options, such as
``restrict,port-forwarding,permitopen="host:port",command="/bin/false",permitlisten=...``,
are honoured as sshd honours them) and forwards ``direct-tcpip`` channels to where the client
asks, when the key's options allow it. It offers no shell and runs no command (a session is
refused, as ``command="/bin/false"`` ends one), and opens no ``-R`` listener (the line's
``permitlisten`` names a port the tunnel user cannot bind). Tests use it as the bastion in
front of the Redshift stand-in; they can cut every connection, or stop it and start it again
on the same port with the same host key.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from cdi_tui.standins.loop_thread import LoopThread


@dataclass
class BastionStats:
    connections: int = 0
    signed_in: int = 0
    forwards: int = 0


class SshBastion(LoopThread):
    thread_name = "ssh-bastion"

    def __init__(self, authorized_keys: str = "", *, user: str = "tunnel", host_key: Any = None, port: int = 0) -> None:
        import asyncssh

        super().__init__()
        self.user = user
        self.authorized_keys = authorized_keys
        self.host_key = host_key if host_key is not None else asyncssh.generate_private_key("ssh-ed25519")
        self.port = port
        self.stats = BastionStats()
        self._server: Any = None
        self._connections: set[Any] = set()

    @property
    def host_key_line(self) -> str:
        return " ".join(self.host_key.export_public_key("openssh").decode("ascii").split()[:2])

    @property
    def fingerprint(self) -> str:
        return str(self.host_key.get_fingerprint("sha256"))

    def cut_connections(self) -> int:
        """Abort every SSH connection (a network cut). Returns how many."""
        if self._loop is None:
            return 0
        return self.call(self._abort_all())

    async def _abort_all(self) -> int:
        connections = list(self._connections)
        for connection in connections:
            connection.abort()
        self._connections.clear()
        # asyncssh closes the sockets a few loop turns later: let that happen before the loop stops
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*(connection.wait_closed() for connection in connections)), 2)
        await asyncio.sleep(0.05)
        return len(connections)

    async def _serve(self) -> None:
        import asyncssh

        bastion = self

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn: Any) -> None:
                self._conn = conn
                bastion.stats.connections += 1
                bastion._connections.add(conn)

            def connection_lost(self, exc: Exception | None) -> None:
                bastion._connections.discard(self._conn)

            def begin_auth(self, username: str) -> bool:
                if username == bastion.user and bastion.authorized_keys.strip():
                    self._conn.set_authorized_keys(asyncssh.import_authorized_keys(bastion.authorized_keys))
                return True

            def public_key_auth_supported(self) -> bool:
                return True

            def auth_completed(self) -> None:
                bastion.stats.signed_in += 1

            def server_requested(self, listen_host: str, listen_port: int) -> bool:
                return False  # no -R listener: what permitlisten="127.0.0.1:1" leaves an unprivileged user

            def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
                bastion.stats.forwards += 1
                return True

        self._server = await asyncssh.create_server(
            Server,
            "127.0.0.1",
            self.port,
            server_host_keys=[self.host_key],
            process_factory=None,
            session_factory=None,
            allow_scp=False,
            config=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._abort_all()
