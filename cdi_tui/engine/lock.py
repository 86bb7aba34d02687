"""One run per integration at a time, across processes: an flock on a file per integration.

The kernel drops the lock when the holder dies (even by SIGKILL), so a crashed run never
blocks the next one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from cdi_tui.errors import CdiError


class RunInProgress(CdiError):
    """Another run of the same integration holds the lock."""


class RunLock:
    def __init__(self, lock_dir: Path, integration: str) -> None:
        lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest = hashlib.sha256(integration.encode()).hexdigest()[:16]
        self.path = lock_dir / f"{digest}.lock"
        self.integration = integration
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`RunInProgress` at once (never waits)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunInProgress(f"another run is in progress for '{self.integration}'") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def is_held(self) -> bool:
        """True while another open file (this process or another) holds the lock; takes nothing."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops a lock this probe took
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()
