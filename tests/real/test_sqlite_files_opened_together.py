"""Two syncs starting at once open the same new SQLite files together (the delivered store, the
run log): neither may fail with "database is locked". SQLite answers that at once, without its
busy timeout, to a second connection setting up a new file while the first switches it to WAL;
this failed a run of two integrations started together about one time in six."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cdi_tui.engine.changes import DeliveredStore, _pack
from cdi_tui.runlog import RunLog

pytestmark = pytest.mark.real

OPEN_AND_WRITE = """
import sys, time
from pathlib import Path
from cdi_tui.engine.changes import DeliveredStore, _pack
from cdi_tui.runlog import RunLog
folder, name = Path(sys.argv[1]), sys.argv[2]
while not (folder / "go").exists():
    time.sleep(0.0005)
store = DeliveredStore(folder / "delivered.sqlite3")
store.save_packed(name, [(f"user-{n}", 1, _pack({1: 2})) for n in range(75)])
RunLog(folder / "runs.sqlite3").close()
print(len(store.lookup(name, [f"user-{n}" for n in range(75)])))
"""


def open_together_in_threads(folder: Path) -> list[str]:
    barrier = threading.Barrier(2)
    failures: list[str] = []

    def work(name: str) -> None:
        try:
            barrier.wait()
            store = DeliveredStore(folder / "delivered.sqlite3")
            runs = RunLog(folder / "runs.sqlite3")
            store.save_packed(name, [(f"user-{n}", 1, _pack({1: 2})) for n in range(75)])
            assert len(store.lookup(name, [f"user-{n}" for n in range(75)])) == 75
            runs.close()
            store.close()
        except Exception as error:
            failures.append(f"{name}: {error}")

    threads = [threading.Thread(target=work, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return failures


def test_two_syncs_of_one_process_open_new_files_together_without_a_lock_error(tmp_path: Path) -> None:
    failures = []
    for trial in range(30):  # before the fix: more than half of the trials failed
        folder = tmp_path / str(trial)
        folder.mkdir()
        failures += open_together_in_threads(folder)
    assert failures == []


def test_two_processes_open_new_files_together_without_a_lock_error(tmp_path: Path) -> None:
    failures: list[Any] = []
    for trial in range(8):
        folder = tmp_path / str(trial)
        folder.mkdir()
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AND_WRITE, str(folder), name],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("first", "second")
        ]
        time.sleep(1.5)  # both are waiting for the file before it appears (imports done): they open at once
        (folder / "go").touch()
        for process in processes:
            out, err = process.communicate(timeout=60)
            if process.returncode != 0 or out.strip() != "75":
                failures.append((trial, process.returncode, err.strip().splitlines()[-1:] if err else out))
    assert failures == []
