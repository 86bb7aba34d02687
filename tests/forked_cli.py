"""Run ``cdi-tui`` commands as real processes without paying for a new interpreter each time.

Most real-stack tests drive the command line: hundreds of ``python -m cdi_tui ...`` processes,
each of which spends about 0.3 s of CPU starting Python and importing the product before the
command does anything. Here one warm process per test process (the *zygote*) imports the
product once; each command is a process forked from it that gets the test's argv, environment,
working folder, stdin, stdout and stderr, runs the product's own ``cdi_tui.cli.main``, and exits
with its exit code, exactly as ``python -m cdi_tui`` does (``raise SystemExit(main())``). The
command still runs in a process of its own: globals, signal handlers, open files and exit codes
are its own, and a test can kill it.

What a fork cannot change after the interpreter started (``PYTHON*`` variables, the locale
variables) is compared with the zygote's: a call that sets them differently runs as a fresh
``python -m cdi_tui`` instead, as does every call when ``CDI_TUI_TESTS_FRESH_PROCESSES=1``
(the whole suite can be run that way to compare). ``FORKED_CLI_DEBUG=1`` lets the warm
process's own stderr through (a fault of this harness, not of a command, shows there).

:func:`run_cdi` mirrors ``subprocess.run([sys.executable, "-m", "cdi_tui", *args],
capture_output=True, text=True, ...)``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

FRESH_ENV = "CDI_TUI_TESTS_FRESH_PROCESSES"
# read by the interpreter at start-up: a fork cannot take a different value of these
_START_UP_PREFIXES = ("PYTHON", "LC_", "LANG")
_START_UP_KEYS = ("LANGUAGE",)


def _start_up_env(env: Mapping[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in env.items()
        if (key.startswith(_START_UP_PREFIXES) or key in _START_UP_KEYS) and not key.startswith("PYTHON_KEYRING")
    }


def _command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "cdi_tui", *args]


# --- the test side ----------------------------------------------------------------------------


class _Zygote:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cdi-cli-zygote-"))
        self.address = str(self.folder / "zygote.sock")
        self.start_env = dict(os.environ)
        # its stdin is a pipe from this process: when this process ends, the zygote sees EOF and ends too
        self.process = subprocess.Popen(
            [sys.executable, __file__, self.address],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if os.environ.get("FORKED_CLI_DEBUG") else subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()
        if ready.strip() != b"ready":
            raise RuntimeError(f"the command-line zygote did not start: {ready!r}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for leftover in self.folder.iterdir():
            leftover.unlink()
        self.folder.rmdir()


_zygote: _Zygote | None = None
_zygote_lock = threading.Lock()


def _get_zygote() -> _Zygote:
    global _zygote
    with _zygote_lock:
        if _zygote is None or not _zygote.alive():
            _zygote = _Zygote()
            atexit.register(_zygote.stop)
        return _zygote


def _send_message(connection: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    data = json.dumps(message).encode()
    payload = struct.pack("!I", len(data)) + data
    if fds:
        socket.send_fds(connection, [payload], list(fds))
    else:
        connection.sendall(payload)


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    chunks = b""
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        if not chunk:
            raise EOFError("the zygote closed the connection")
        chunks += chunk
    return chunks


def _receive_message(connection: socket.socket) -> dict[str, Any]:
    (size,) = struct.unpack("!I", _receive_exactly(connection, 4))
    return dict(json.loads(_receive_exactly(connection, size)))


def _text(data: bytes) -> str:
    # what subprocess's text mode gives: the locale's encoding, universal newlines
    return data.decode().replace("\r\n", "\n").replace("\r", "\n")


def run_cdi(
    args: Sequence[str],
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``cdi-tui *args`` in a process of its own, its output captured as text."""
    command = _command(args)
    environment = dict(os.environ if env is None else env)
    if os.environ.get(FRESH_ENV) == "1" or _start_up_env(environment) != _start_up_env(_get_zygote().start_env):
        return subprocess.run(
            command,
            input=input,
            capture_output=True,
            text=True,
            env=environment,
            timeout=timeout,
            cwd=cwd,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    zygote = _get_zygote()
    stdin_read, stdin_write = os.pipe()
    stdout_read, stdout_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    outputs: dict[int, bytes] = {}

    def drain(fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            outputs[fd] = stream.read()

    def feed() -> None:
        with os.fdopen(stdin_write, "wb") as stream:
            if input:
                with contextlib.suppress(BrokenPipeError):
                    stream.write(input.encode())

    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    pid: int | None = None
    try:
        connection.connect(zygote.address)
        message = {"argv": list(args), "env": environment, "cwd": str(cwd if cwd is not None else os.getcwd())}
        _send_message(connection, message, [stdin_read, stdout_write, stderr_write])
    finally:
        for fd in (stdin_read, stdout_write, stderr_write):
            os.close(fd)
    helpers = [threading.Thread(target=drain, args=(fd,), daemon=True) for fd in (stdout_read, stderr_read)]
    helpers.append(threading.Thread(target=feed, daemon=True))
    for helper in helpers:
        helper.start()
    try:
        connection.settimeout(timeout)
        pid = int(_receive_message(connection)["pid"])
        status = int(_receive_message(connection)["status"])
    except TimeoutError:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for helper in helpers:
            helper.join(timeout=10)
        raise subprocess.TimeoutExpired(
            command, timeout or 0, _text(outputs.get(stdout_read, b"")), _text(outputs.get(stderr_read, b""))
        ) from None
    finally:
        connection.close()
    for helper in helpers:
        helper.join()
    returncode = os.waitstatus_to_exitcode(status)
    return subprocess.CompletedProcess(command, returncode, _text(outputs[stdout_read]), _text(outputs[stderr_read]))


# --- the zygote -------------------------------------------------------------------------------


def _warm_up() -> None:
    """Import what commands use, so that a forked command imports (almost) nothing."""
    import importlib
    import pkgutil

    import cdi_tui

    importlib.import_module("cdi_tui.cli.main")
    for module in pkgutil.walk_packages(cdi_tui.__path__, "cdi_tui."):
        # not the app (textual: commands that start it are rare) nor modules that run on import
        if module.name.startswith("cdi_tui.tui") or module.name.endswith("__main__"):
            continue
        importlib.import_module(module.name)
    # keyring's backends and asyncssh look for native libraries as they are imported
    # (ctypes.util.find_library runs ldconfig and gcc: about 45 ms a command); import them here,
    # as keyring's own discovery would, without running that discovery (it depends on the
    # command's environment)
    from importlib import metadata

    for entry_point in metadata.entry_points(group="keyring.backends"):
        with contextlib.suppress(Exception):
            importlib.import_module(entry_point.module)
    importlib.import_module("asyncssh")


def _run_command(argv: list[str], env: dict[str, str], cwd: str) -> int:
    """In the forked process: become ``python -m cdi_tui *argv`` and run it."""
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    tempfile.tempdir = None  # found again from TMPDIR and friends, as a new process would
    os.chdir(cwd)
    sys.path[0] = cwd  # as ``python -m`` has it
    sys.argv = [str(Path(sys.modules["cdi_tui"].__file__ or "").parent / "__main__.py"), *argv]
    # the function ``cdi_tui.cli.main`` calls (the name is the submodule's once that is imported)
    from cdi_tui.cli.main import main

    try:
        code: Any = main()
    except SystemExit as exit_:
        code = exit_.code
    except BaseException:  # what an uncaught exception does in a fresh interpreter
        sys.excepthook(*sys.exc_info())
        code = 1
    # a normal interpreter exit: wait for the threads that are not daemons, run atexit, flush
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    import atexit as atexit_module

    atexit_module._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code & 0xFF
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    return status


def _serve_one(connection: socket.socket, listener: socket.socket) -> None:
    """In the first fork: start the command in a fork of its own, report its pid and how it ended."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    listener.close()
    # the descriptors come with the first bytes: read those with recvmsg, the rest as plain bytes
    header, fds, _flags, _address = socket.recv_fds(connection, 4, 3)
    while len(header) < 4:
        chunk = connection.recv(4 - len(header))
        if not chunk:
            os._exit(1)
        header += chunk
    (size,) = struct.unpack("!I", header)
    data = _receive_exactly(connection, size)
    message = json.loads(data)
    pid = os.fork()
    if pid == 0:
        try:
            connection.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            for fd in fds:
                if fd > 2:
                    os.close(fd)
            status = _run_command(message["argv"], message["env"], message["cwd"])
        except BaseException:  # a fault of this harness, not of the command: say it where the test sees it
            import traceback

            os.write(2, f"forked_cli: {traceback.format_exc()}".encode())
            status = 1
        os._exit(status)
    for fd in fds:
        os.close(fd)
    _send_message(connection, {"pid": pid})
    _pid, status = os.waitpid(pid, 0)
    _send_message(connection, {"status": status})
    os._exit(0)


def serve(address: str) -> None:
    import selectors

    _warm_up()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the first forks are reaped by the kernel
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin.buffer, selectors.EVENT_READ)
    while True:
        for key, _events in selector.select():
            if key.fileobj is not listener:  # the test process ended (or closed our stdin)
                return
            connection, _ = listener.accept()
            sys.stdout.flush()
            sys.stderr.flush()
            if os.fork() == 0:
                selector.close()
                try:
                    _serve_one(connection, listener)
                finally:
                    os._exit(1)
            connection.close()


if __name__ == "__main__":
    serve(sys.argv[1])
