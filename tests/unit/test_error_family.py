"""One error family: every error the product expects is a ``CdiError``, and the command line
turns that one class into one line with exit 1, while any other exception is a bug that goes
on to the last line of defence (one line naming the log file that holds the traceback)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import cdi_tui
from cdi_tui.braze.client import BrazeAuthError, TransientFailure
from cdi_tui.cli.errors import CommandError, UsageError
from cdi_tui.config import ConfigError
from cdi_tui.errors import CdiError
from cdi_tui.table_export import ExportError
from cdi_tui.tables import TableNameError

# exceptions the package defines that are not errors a person puts right, each with the reason
NOT_IN_THE_FAMILY = {
    "cdi_tui.braze.client.SendCancelled": "a run is stopping: the engine raises it and catches it itself",
    "cdi_tui.runlog._NotMigrated": "private to the run log, which turns it into RunLogUnavailable",
}


def package_modules() -> Iterator[str]:
    for module in pkgutil.walk_packages(cdi_tui.__path__, prefix="cdi_tui."):
        if not module.name.endswith(".__main__"):  # running a module is not importing it
            yield module.name


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in the package (at module level or inside a class), by qualified name."""
    found: dict[str, type[BaseException]] = {}

    def collect(owner: object, module_name: str) -> None:
        for value in vars(owner).values():
            if not inspect.isclass(value) or value.__module__ != module_name:
                continue
            if issubclass(value, BaseException):
                found[f"{module_name}.{value.__qualname__}"] = value
            collect(value, module_name)

    for name in package_modules():
        collect(importlib.import_module(name), name)
    return found


def test_every_error_the_product_defines_is_a_cdi_error_or_named_as_not_one() -> None:
    classes = exception_classes()
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, CdiError) and name not in NOT_IN_THE_FAMILY)
    assert outside == [], f"derive these from cdi_tui.errors.CdiError (or say in NOT_IN_THE_FAMILY why not): {outside}"
    for name in NOT_IN_THE_FAMILY:  # the list names classes that exist and are indeed outside
        assert name in classes and not issubclass(classes[name], CdiError), name


def test_the_walk_finds_the_errors_of_every_layer() -> None:
    """The walk above is not vacuous: it finds the errors of the core, the engine, the front ends."""
    names = set(exception_classes())
    for expected in (
        "cdi_tui.config.ConfigError",
        "cdi_tui.workspace.WorkspaceError",
        "cdi_tui.warehouse.errors.WarehouseError",
        "cdi_tui.warehouse.tunnel.HostKeyError",
        "cdi_tui.braze.client.BrazeAuthError",
        "cdi_tui.engine.sync.SyncRefused",
        "cdi_tui.engine.lock.RunInProgress",
        "cdi_tui.runlog.RunLogUnavailable",
        "cdi_tui.secret_store.SecretRefused",
        "cdi_tui.cli.errors.UsageError",
        "cdi_tui.standins.postgres.StandInError",
    ):
        assert expected in names
    assert len(names) >= 25


def test_errors_of_a_standard_kind_stay_that_kind() -> None:
    """Code that catches ValueError, LookupError or RuntimeError still catches what it did."""
    from cdi_tui.fields import FieldError
    from cdi_tui.notify import PlainPasswordRefused
    from cdi_tui.runlog import RunLogUnavailable
    from cdi_tui.schedule import ScheduleError
    from cdi_tui.secret_store import SecretMissing, SecretRefused, SecretsUnavailable

    assert issubclass(FieldError, ValueError) and issubclass(ScheduleError, ValueError)
    assert issubclass(TableNameError, ValueError)
    assert issubclass(SecretMissing, LookupError) and issubclass(SecretRefused, SecretMissing)
    assert issubclass(SecretsUnavailable, RuntimeError) and issubclass(RunLogUnavailable, RuntimeError)
    import smtplib

    assert issubclass(PlainPasswordRefused, smtplib.SMTPException)


def test_the_fix_to_try_is_kept_apart_and_empty_when_the_message_says_it_all() -> None:
    from cdi_tui.warehouse.errors import AUTH, FIXES, WarehouseError

    refused = WarehouseError(AUTH, "Login refused for user 'braze'")
    assert refused.fix == FIXES[AUTH] and isinstance(refused, CdiError)
    assert CommandError("no credential named 'x'").fix == ""
    assert CommandError("the run log is full", fix="free some disk space").fix == "free some disk space"


# --- the command line: one line for the family, the log file for a bug --------------------------


class InventedError(CdiError):
    """An error a later change adds: it needs no list to be one line."""


@pytest.mark.parametrize(
    "error",
    [
        InventedError("a new kind of trouble; do this about it"),
        BrazeAuthError("Braze rejected the REST API key: 401 invalid key"),
        TransientFailure("Braze answered 503 Service Unavailable; gave up after 6 attempts"),
        ExportError("runs.csv is a symbolic link; give another file name"),
        TableNameError("expected SCHEMA.TABLE, got 'nothing'"),
        ConfigError("/home/config.toml", "braze.endpoint", "not a URL"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_an_error_of_the_family_is_one_line_and_exit_1(
    error: CdiError, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cdi_tui.cli import info
    from cdi_tui.cli.main import main

    def fails(_args: object) -> int:
        raise error

    monkeypatch.setattr(info, "paths_command", fails)
    monkeypatch.setenv("CDI_TUI_HOME", str(tmp_path / "home"))
    # CDI_TUI_DEBUG=1 (set for the tests) raises bugs as they are: an expected error is still one line
    assert main(["paths"]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"cdi-tui: error: {error}\n"
    assert captured.out == "" and "Traceback" not in captured.err


def test_a_usage_error_is_one_line_with_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cdi_tui.cli import info
    from cdi_tui.cli.main import main

    def fails(_args: object) -> int:
        raise UsageError("--count takes a number from 1 to 100")

    monkeypatch.setattr(info, "paths_command", fails)
    assert main(["paths"]) == 2
    assert capsys.readouterr().err == "cdi-tui: error: --count takes a number from 1 to 100\n"


@pytest.mark.parametrize("bug", [ValueError("too many values to unpack"), LookupError("no such key"), RuntimeError("a bug")])
def test_an_error_outside_the_family_is_a_bug_whose_line_names_the_log_file(
    bug: Exception, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plain ValueError (FieldError is one too) or LookupError (SecretMissing is one) is not expected."""
    from cdi_tui.cli import info
    from cdi_tui.cli.main import main

    def fails(_args: object) -> int:
        raise bug

    monkeypatch.setattr(info, "paths_command", fails)
    monkeypatch.setenv("CDI_TUI_HOME", str(tmp_path / "home"))
    with pytest.raises(type(bug)):  # under CDI_TUI_DEBUG=1 a bug is raised as it is
        main(["paths"])
    monkeypatch.delenv("CDI_TUI_DEBUG")
    assert main(["paths"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    log_file = tmp_path / "home" / "data" / "logs" / "cdi-tui.log"
    assert line == (
        f"cdi-tui: error: 'cdi-tui paths' failed unexpectedly ({type(bug).__name__}: {bug}); the traceback is in {log_file}"
    )
    assert "Traceback (most recent call last)" in log_file.read_text()
