"""Shared fixtures: real stand-ins (PostgreSQL behind the Redshift proxy, the Braze HTTP
stand-in, a private Secret Service) and an isolated home for config and data.

Under ``CI=true`` a skipped test counts as a failure: a real-component test must not pass
by not running.
"""

from __future__ import annotations

import gc
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdi_tui.paths import HOME_ENV, AppPaths, app_paths
from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.postgres import RedshiftStandIn, StandInError, find_postgres_bin
from cdi_tui.standins.secret_service import SecretService, secret_service_available, start_secret_service

# tests are laid out by kind (unit/, app/, real/); their shared modules (helpers, tui_world,
# test modules other tests import from) are importable from any of them
TESTS = Path(__file__).resolve().parent
for folder in (TESTS / "real", TESTS / "app", TESTS):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from helpers import SyncEnv  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# With PYTHONDONTWRITEBYTECODE set (this machine's shell sets it), every `cdi-tui` process the
# tests start would compile the product from source again, and pytest would rewrite every test
# module's asserts again in each worker: the tests write bytecode (``__pycache__``, ignored by git).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# Python's cyclic garbage collector ran about every 700 new objects and went through every live
# object again and again: Textual builds and drops many thousands of objects a test (widgets,
# styles, strips), so the collector took about a fifth of the app tests' CPU. In the test
# processes it runs less often, and the objects of the imports and collection, which live to the
# end, are left out of its walks (gc.freeze in pytest_collection_finish below). Memory: about 60
# MiB more a worker. Collection is not switched off: cycles are still freed.
gc.set_threshold(50_000, 20, 10)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()


# an unexpected exception in a command raises with its traceback instead of being turned into
# one line for people: a bug fails the test that meets it (commands run in subprocesses inherit this)
os.environ["CDI_TUI_DEBUG"] = "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped under CI=true counts as a failure: {reason}"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppPaths:
    """An isolated CDI_TUI_HOME for one test."""
    folder = tmp_path / "home"
    monkeypatch.setenv(HOME_ENV, str(folder))
    return app_paths().ensure()


@pytest.fixture(scope="session")
def redshift() -> Iterator[RedshiftStandIn]:
    """One PostgreSQL + Redshift proxy for the whole session (tests use their own schemas)."""
    try:
        find_postgres_bin()
    except StandInError as error:
        pytest.skip(str(error))
    standin = RedshiftStandIn().start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def braze() -> Iterator[BrazeStandIn]:
    standin = BrazeStandIn(api_keys=("test-key",), forbidden_keys=("no-permission-key",)).start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture(scope="session")
def secret_service() -> Iterator[SecretService]:
    """A real Secret Service (dbus-daemon + gnome-keyring) for keyring, for the session."""
    if not secret_service_available():
        pytest.skip("dbus-daemon and gnome-keyring-daemon are not installed")
    service = start_secret_service()
    saved = {key: os.environ.get(key) for key in service.env}
    os.environ.update(service.env)
    try:
        yield service
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        service.stop()


@pytest.fixture
def unique_name() -> str:
    return "t" + secrets.token_hex(4)


@pytest.fixture
def env(redshift: RedshiftStandIn, braze: BrazeStandIn, tmp_path: Path, unique_name: str) -> Iterator[SyncEnv]:
    sync_env = SyncEnv(redshift, braze, app_paths(tmp_path / "home"), unique_name, f"{unique_name}_u", f"pw-{unique_name}")
    sync_env.setup()
    yield sync_env
    sync_env.teardown()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs of its own (4 MB): a disk that fills, or that can be made read-only."""
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (the tests run as root): {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def env_on_small_disk(redshift: RedshiftStandIn, braze: BrazeStandIn, tmpfs: Path, unique_name: str) -> Iterator[SyncEnv]:
    sync_env = SyncEnv(redshift, braze, app_paths(tmpfs / "home"), unique_name, f"{unique_name}_u", f"pw-{unique_name}")
    sync_env.setup()
    yield sync_env
    sync_env.teardown()
