"""The headless core never imports Textual: each module is imported alone in a fresh
interpreter, and ``textual`` must not appear in ``sys.modules`` afterwards."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import cdi_tui


def headless_modules() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(cdi_tui.__path__, prefix="cdi_tui."):
        if module.name == "cdi_tui.tui" or module.name.startswith("cdi_tui.tui."):
            continue
        if module.name == "cdi_tui.__main__":
            continue
        names.append(module.name)
    return sorted(names)


def test_the_package_has_a_headless_core_worth_checking() -> None:
    modules = headless_modules()
    for expected in ("cdi_tui.config", "cdi_tui.secret_store", "cdi_tui.warehouse.source", "cdi_tui.standins.braze"):
        assert expected in modules


@pytest.mark.parametrize("module", headless_modules())
def test_headless_module_does_not_import_textual(module: str) -> None:
    code = f"import sys, {module}; sys.exit(1 if any(m == 'textual' or m.startswith('textual.') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{module} pulls in textual (or failed to import): {result.stderr[-500:]}"
