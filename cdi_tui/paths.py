"""Where cdi-tui keeps its files.

By default the per-user folders of platformdirs: a config folder for ``config.toml`` and a
data folder for the run log and, in ``logs/`` inside it, the rotating log files.
``CDI_TUI_HOME`` moves everything under one folder: ``$CDI_TUI_HOME/config.toml`` and
``$CDI_TUI_HOME/data`` (run log, ``logs/``). Folders are created with mode 0700.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "cdi-tui"
HOME_ENV = "CDI_TUI_HOME"


@dataclass(frozen=True)
class AppPaths:
    config_file: Path
    data_dir: Path
    log_dir: Path

    @property
    def config_dir(self) -> Path:
        return self.config_file.parent

    @property
    def run_log(self) -> Path:
        return self.data_dir / "runs.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "cdi-tui.log"

    def ensure(self) -> AppPaths:
        """Create the folders (mode 0700) and return self."""
        for folder in (self.config_dir, self.data_dir, self.log_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)
        return self


def app_paths(home: str | Path | None = None) -> AppPaths:
    """Resolve the paths: an explicit home, else ``$CDI_TUI_HOME``, else platformdirs."""
    chosen = home if home is not None else os.environ.get(HOME_ENV) or None
    if chosen:
        root = Path(chosen).expanduser().resolve()
        return AppPaths(root / "config.toml", root / "data", root / "data" / "logs")
    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    data = Path(dirs.user_data_dir)
    return AppPaths(Path(dirs.user_config_dir) / "config.toml", data, data / "logs")
