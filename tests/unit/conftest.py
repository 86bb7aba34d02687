"""The unit layer: the product's rules with fakes at the seams, in seconds.

No test here may open a socket, start a thread or start a process: pytest-socket refuses
sockets (its ``socket_disabled`` fixture), and the guard below refuses threads and
processes started by the test. A test that needs one belongs with the real-stack tests.
Every test here carries the ``unit`` marker (``pytest -m unit``, or ``pytest tests/unit``).
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

UNIT_FOLDER = Path(__file__).resolve().parent


class StartedInAUnitTest(RuntimeError):
    """A unit test started a thread or a process."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if UNIT_FOLDER in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def no_socket_thread_or_process(socket_disabled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test that starts a thread or a process (pytest-socket refuses sockets).

    Threads started by threads of other tests' stand-ins are left alone: only the test's own
    thread is watched."""
    test_thread = threading.get_ident()
    start_thread = threading.Thread.start

    def guarded_start(self: threading.Thread) -> None:
        if threading.get_ident() == test_thread:
            raise StartedInAUnitTest(f"a unit test started a thread ({self.name}); it belongs with the real-stack tests")
        start_thread(self)

    popen_init = subprocess.Popen.__init__

    def guarded_popen(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        if threading.get_ident() == test_thread:
            raise StartedInAUnitTest(f"a unit test started a process ({args[0] if args else kwargs.get('args')!r})")
        popen_init(self, *args, **kwargs)

    monkeypatch.setattr(threading.Thread, "start", guarded_start)
    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_popen)
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        original = getattr(os, name, None)
        if original is not None:
            monkeypatch.setattr(os, name, _guarded(original, test_thread))


def _guarded(original: Any, test_thread: int) -> Any:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == test_thread:
            raise StartedInAUnitTest(f"a unit test called os.{original.__name__}; it belongs with the real-stack tests")
        return original(*args, **kwargs)

    return guarded
