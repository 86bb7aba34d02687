"""Tests through the real components (PostgreSQL behind the Redshift proxy, the Secret Service,
HTTP, SMTP and SSH servers, the AWS stand-in, the command line as a process): ``real`` marker;
``pytest tests/real``."""

from __future__ import annotations

from pathlib import Path

import pytest

REAL_FOLDER = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_FOLDER in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.real)
