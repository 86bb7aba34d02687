"""A PostgreSQL wire-protocol proxy that makes stock PostgreSQL look like Redshift.

redshift-connector cannot talk to stock PostgreSQL for two reasons (see braze-facts.md):
it sends start-up parameters PostgreSQL rejects, and it cannot parse PostgreSQL's
``server_version``. This proxy sits on 127.0.0.1, removes the parameters PostgreSQL does
not know, reports ``server_version`` as ``8.0.2`` (what Redshift reports), and after the
start-up phase copies bytes both ways untouched.

It also answers an SSL request with ``N`` (no TLS), which lets tests exercise a TLS
failure, and it can cut every open connection on demand to simulate a network failure.

With a cursor cap (:attr:`RedshiftWireProxy.cursor_row_cap`), it plays a Redshift cluster's
limit on a cursor's result: Redshift builds a cursor's whole result on the leader node and
refuses one larger than the cluster allows. The proxy then reads what the client sends and
rewrites each ``DECLARE ... CURSOR FOR <select>`` so that PostgreSQL counts the whole result
at the first FETCH and fails past the cap (:data:`CAP_FUNCTION_SQL`, created in the database
by the stand-in); everything else is copied as it came.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
import threading
from dataclasses import dataclass

from cdi_tui.standins.loop_thread import LoopThread

SSL_REQUEST_CODE = 80877103
GSS_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
PROTOCOL_3 = 196608
REDSHIFT_SERVER_VERSION = b"8.0.2"

# Start-up parameters PostgreSQL understands; every other one is dropped.
_POSTGRES_STARTUP_KEYS = frozenset(
    {
        b"user",
        b"database",
        b"application_name",
        b"options",
        b"client_encoding",
        b"datestyle",
        b"timezone",
        b"extra_float_digits",
        b"search_path",
    }
)


def filter_startup_parameters(payload: bytes) -> bytes:
    """Return a start-up message body with only the parameters PostgreSQL accepts.

    Args:
        payload: the message body after the length word: protocol version, then
            NUL-terminated key/value pairs, then a final NUL.
    """
    (protocol,) = struct.unpack("!i", payload[:4])
    parts = payload[4:].split(b"\x00")
    kept: list[bytes] = []
    for index in range(0, len(parts) - 1, 2):
        key, value = parts[index], parts[index + 1]
        if not key:
            break
        if key.lower() in _POSTGRES_STARTUP_KEYS:
            kept.extend((key, value))
    body = struct.pack("!i", protocol) + b"".join(part + b"\x00" for part in kept) + b"\x00"
    return body


CAP_FUNCTION = "cdi_standin_cursor_cap"
CAP_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION public.{CAP_FUNCTION}(result_rows bigint, cap bigint) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF result_rows > cap THEN
    RAISE EXCEPTION 'cursor result of % rows exceeds the maximum cursor result set size of this cluster (% rows)',
      result_rows, cap USING ERRCODE = '54000';
  END IF;
  RETURN true;
END $$
"""
_DECLARE = re.compile(rb"^(\s*DECLARE\s+\S+\s+NO\s+SCROLL\s+CURSOR\s+FOR\s+)(SELECT\s.*)$", re.IGNORECASE | re.DOTALL)


def capped_declare(sql: bytes, cap: int) -> bytes:
    """A DECLARE whose result fails at the first FETCH when it holds more than ``cap`` rows (else unchanged)."""
    match = _DECLARE.match(sql)
    if match is None:
        return sql
    head, select = match.groups()
    return (
        head + b"SELECT (capped.q).* FROM (SELECT q, count(*) OVER () AS result_rows FROM (" + select + b") q) capped "
        b"WHERE public." + CAP_FUNCTION.encode() + b"(capped.result_rows, " + str(int(cap)).encode() + b")"
    )


def _rewrite_parse(body: bytes, cap: int) -> bytes:
    """A Parse message (statement name, query, parameter types) with its query capped."""
    name, _, rest = body.partition(b"\x00")
    query, _, tail = rest.partition(b"\x00")
    return name + b"\x00" + capped_declare(query, cap) + b"\x00" + tail


def _rewrite_query(body: bytes, cap: int) -> bytes:
    query, _, tail = body.partition(b"\x00")
    return capped_declare(query, cap) + b"\x00" + tail


def _rewrite_parameter_status(body: bytes) -> bytes:
    name, _, _rest = body.partition(b"\x00")
    if name == b"server_version":
        return name + b"\x00" + REDSHIFT_SERVER_VERSION + b"\x00"
    return body


@dataclass
class ProxyStats:
    """Counters the tests read to see what went through."""

    connections: int = 0


class RedshiftWireProxy(LoopThread):
    """Loopback proxy in its own thread and event loop.

    Use ``start()`` to bind (an ephemeral port by default) and ``stop()`` to close.
    """

    thread_name = "pg-proxy"

    def __init__(self, upstream_host: str, upstream_port: int, listen_port: int = 0) -> None:
        super().__init__()
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self._requested_port = listen_port
        self.port = 0
        self.stats = ProxyStats()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._clients: set[asyncio.StreamWriter] = set()
        self.cursor_row_cap: int | None = None  # rows a cursor's result may hold (None: no cap, bytes copied untouched)
        # a test's pause: the statement holding these bytes, the Nth time, waits until released
        self._hold: tuple[bytes, int] | None = None
        self._hold_seen = 0
        self.held = threading.Event()  # set while a statement is held
        self._release = threading.Event()

    def hold_at(self, statement_part: bytes, occurrence: int = 1) -> None:
        """Hold the ``occurrence``-th statement (of new connections) holding ``statement_part``: it
        reaches PostgreSQL only after :meth:`release` (a client stopped there, as between two queries)."""
        self._hold_seen = 0
        self.held.clear()
        self._release.clear()
        self._hold = (statement_part, occurrence)

    def release(self) -> None:
        self._hold = None
        self._release.set()

    def cut_connections(self) -> int:
        """Abort every open client connection (simulates a network cut). Returns how many."""
        if self._loop is None:
            return 0
        return self.call(self._abort_all())

    # internals -----------------------------------------------------------------
    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self._requested_port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._abort_all()

    async def _abort_all(self) -> int:
        clients = list(self._clients)
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._clients.clear()
        return len(clients)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        self._writers.add(client_writer)
        self._clients.add(client_writer)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            startup = await self._read_startup(client_reader, client_writer)
            if startup is None:
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
            self._writers.add(upstream_writer)
            upstream_writer.write(startup)
            await upstream_writer.drain()
            await asyncio.gather(
                self._server_to_client(upstream_reader, client_writer),
                self._client_to_server(client_reader, upstream_writer),
            )
        except (ConnectionError, asyncio.IncompleteReadError, OSError, asyncio.CancelledError):
            pass
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    self._writers.discard(writer)
                    self._clients.discard(writer)
                    with contextlib.suppress(Exception):
                        writer.close()

    async def _read_startup(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes | None:
        while True:
            header = await reader.readexactly(4)
            (length,) = struct.unpack("!i", header)
            body = await reader.readexactly(length - 4)
            (code,) = struct.unpack("!i", body[:4])
            if code in (SSL_REQUEST_CODE, GSS_REQUEST_CODE):
                writer.write(b"N")
                await writer.drain()
                continue
            if code == CANCEL_REQUEST_CODE:
                return header + body
            filtered = filter_startup_parameters(body)
            return struct.pack("!i", len(filtered) + 4) + filtered

    async def _server_to_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Parse messages until the first ReadyForQuery, rewriting server_version on the way.
        while True:
            message_type = await reader.readexactly(1)
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            body = await reader.readexactly(length - 4)
            if message_type == b"S":
                body = _rewrite_parameter_status(body)
            writer.write(message_type + struct.pack("!i", len(body) + 4) + body)
            if message_type in (b"Z", b"E"):
                await writer.drain()
                break
        await self._pipe(reader, writer)

    async def _client_to_server(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy what the client sends; with a cursor cap, message by message, capping each DECLARE."""
        if self.cursor_row_cap is None and self._hold is None:
            await self._pipe(reader, writer)
            return
        try:
            while True:
                message_type = await reader.readexactly(1)
                (length,) = struct.unpack("!i", await reader.readexactly(4))
                body = await reader.readexactly(length - 4)
                hold = self._hold
                if hold is not None and message_type in (b"P", b"Q") and hold[0] in body:
                    self._hold_seen += 1
                    if self._hold_seen == hold[1]:
                        self.held.set()
                        await asyncio.get_running_loop().run_in_executor(None, self._release.wait)
                cap = self.cursor_row_cap
                if cap is not None and message_type == b"P":
                    body = _rewrite_parse(body, cap)
                elif cap is not None and message_type == b"Q":
                    body = _rewrite_query(body, cap)
                writer.write(message_type + struct.pack("!i", len(body) + 4) + body)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            with contextlib.suppress(Exception):
                if writer.can_write_eof():
                    writer.write_eof()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                writer.write(chunk)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                if writer.can_write_eof():
                    writer.write_eof()
