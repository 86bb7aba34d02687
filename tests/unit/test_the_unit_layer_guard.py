"""The unit layer's promise holds: a test that opens a socket, starts a thread or a process fails."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest
from pytest_socket import SocketBlockedError


@pytest.mark.filterwarnings("ignore:A test tried to use socket.socket")
def test_opening_a_socket_fails_the_test() -> None:
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_starting_a_thread_fails_the_test() -> None:
    with pytest.raises(RuntimeError, match=r"a unit test (started|called)"):
        threading.Thread(target=lambda: None).start()


def test_starting_a_process_fails_the_test() -> None:
    with pytest.raises(RuntimeError, match=r"a unit test (started|called)"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)
    with pytest.raises(RuntimeError, match=r"a unit test (started|called)"):
        os.system("true")
