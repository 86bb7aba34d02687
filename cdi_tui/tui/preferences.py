"""Preferences of the app itself (theme, the credential used last), beside the config file.

Kept apart from ``config.toml`` so that the headless core never reads them; written
atomically with mode 0600 like the config.
"""

from __future__ import annotations

import contextlib
import tomllib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import tomli_w

from cdi_tui.config import atomic_write


@dataclass(frozen=True)
class Preferences:
    theme: str = ""
    last_credential: str = ""


class PreferencesStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Preferences:
        try:
            document = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            return Preferences()
        values = document.get("app", {})
        known = {key: str(value) for key, value in values.items() if key in Preferences.__dataclass_fields__}
        return Preferences(**known)

    def update(self, **changes: Any) -> Preferences:
        preferences = replace(self.load(), **changes)
        with contextlib.suppress(OSError):  # a preference not kept is no reason to stop the app
            atomic_write(self.path, tomli_w.dumps({"app": asdict(preferences)}).encode())
        return preferences
