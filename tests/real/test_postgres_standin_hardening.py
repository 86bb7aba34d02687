"""The demo's and the tests' PostgreSQL stand-in is never open: no moment without a password (a
local process racing its start never signs in as superuser), and as root it runs as ``nobody``
with no root group and none of the caller's environment (CDI_TUI_* secrets)."""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cdi_tui.standins.postgres import RedshiftStandIn, StandInError, find_postgres_bin

pytestmark = pytest.mark.real

CALLER_SECRET = "BRAZEKEY-in-the-callers-environment"
AUTH_OK, AUTH_MD5 = 0, 5


def first_auth_request(port: int) -> int | None:
    """Start a session as the superuser with no password; the server's first answer (0: signed in)."""
    startup = struct.pack("!I", 196608) + b"user\0postgres\0database\0postgres\0\0"
    with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
        connection.sendall(struct.pack("!I", len(startup) + 4) + startup)
        header = b""
        while len(header) < 9:
            chunk = connection.recv(9 - len(header))
            if not chunk:
                return None
            header += chunk
    kind, _, code = header[:1], header[1:5], struct.unpack("!I", header[5:9])[0]
    return int(code) if kind == b"R" else None


@dataclass
class Race:
    """A local process trying to sign in as superuser, without a password, from the moment the port is known."""

    answers: list[int] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def run(self, standin: RedshiftStandIn) -> None:
        while not self.done.is_set():
            port = standin.postgres_port
            if port:
                try:
                    answer = first_auth_request(port)
                except OSError:
                    answer = None
                if answer is not None:
                    self.answers.append(answer)
                    if answer == AUTH_OK or len(self.answers) > 200:
                        return


@pytest.fixture(scope="module")
def raced() -> Iterator[tuple[RedshiftStandIn, Race]]:
    try:
        find_postgres_bin()
    except StandInError as error:
        pytest.skip(str(error))
    os.environ["CDI_TUI_BRAZE_API_KEY"] = CALLER_SECRET
    standin = RedshiftStandIn()
    race = Race()
    prober = threading.Thread(target=race.run, args=(standin,), daemon=True)
    prober.start()
    try:
        standin.start()
        for _ in range(50):  # and a while after the start, too
            if len(race.answers) > 20:
                break
            threading.Event().wait(0.02)
        race.done.set()
        prober.join(10)
        yield standin, race
    finally:
        os.environ.pop("CDI_TUI_BRAZE_API_KEY", None)
        race.done.set()
        standin.stop()


def test_a_process_racing_the_start_never_signs_in_as_superuser_without_a_password(
    raced: tuple[RedshiftStandIn, Race],
) -> None:
    standin, race = raced
    assert race.answers, "the prober never reached the server"
    assert AUTH_OK not in race.answers  # never signed in without a password
    assert set(race.answers) == {AUTH_MD5}
    assert "trust" not in (standin.data_dir / "pg_hba.conf").read_text()
    assert standin.admin_query("SELECT 1") == [(1,)]  # the stand-in itself signs in with its password


def status_of(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_the_server_runs_as_nobody_without_roots_groups(raced: tuple[RedshiftStandIn, Race]) -> None:
    if os.geteuid() != 0:
        pytest.skip("the server changes user only when started by root")
    standin, _ = raced
    assert standin._process is not None
    status = status_of(standin._process.pid)
    uids, gids, groups = status["Uid"].split(), status["Gid"].split(), status["Groups"].split()
    assert set(uids) == {"65534"}
    assert "0" not in gids and "0" not in groups
    assert groups in ([], [gids[0]])  # no supplementary group of root's


def test_the_server_gets_none_of_the_callers_environment(raced: tuple[RedshiftStandIn, Race]) -> None:
    standin, _ = raced
    assert standin._process is not None
    environment = Path(f"/proc/{standin._process.pid}/environ").read_bytes()
    assert CALLER_SECRET.encode() not in environment
    assert b"CDI_TUI_" not in environment
