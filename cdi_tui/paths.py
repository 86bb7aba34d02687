"""Where cdi-tui keeps its files.

By default the per-user folders of platformdirs: a config folder for ``config.toml`` and a
data folder for the run log and, in ``logs/`` inside it, the rotating log files.
``CDI_TUI_HOME`` moves everything under one folder: ``$CDI_TUI_HOME/config.toml`` and
``$CDI_TUI_HOME/data`` (run log, ``logs/``). Folders are created with mode 0700.

A folder that is a file (or lies inside one) is refused with :class:`HomeError`. A folder on
a read-only file system (or one this user may not write) is not an error by itself: the
paths are marked read-only, reading commands still work, and saving is refused.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

from cdi_tui.errors import CdiError

APP_NAME = "cdi-tui"
HOME_ENV = "CDI_TUI_HOME"

_CANNOT_WRITE = (errno.EROFS, errno.EACCES, errno.EPERM)


class HomeError(CdiError):
    """The folders cdi-tui keeps its files in cannot be used; the message says which and what to do."""


@dataclass(frozen=True)
class AppPaths:
    config_file: Path
    data_dir: Path
    log_dir: Path
    # why nothing can be saved (a read-only file system, no write permission), or None
    read_only: str | None = None

    @property
    def config_dir(self) -> Path:
        return self.config_file.parent

    @property
    def run_log(self) -> Path:
        return self.data_dir / "runs.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "cdi-tui.log"

    @property
    def keyring_service(self) -> str:
        """The keyring service that holds this home's secrets, apart from every other home's."""
        from cdi_tui.secret_store import home_keyring_service

        return home_keyring_service(self)

    @property
    def folders(self) -> tuple[Path, ...]:
        return (self.config_dir, self.data_dir, self.log_dir)

    def check(self) -> AppPaths:
        """Refuse folders that are files or lie inside one; returns self.

        Raises:
            HomeError: naming the file in the way and what to do.
        """
        for folder in self.folders:
            _check_folder(folder)
        return self

    def ensure(self) -> AppPaths:
        """Create the folders (mode 0700).

        Returns:
            self, or on a file system that refuses writes a copy whose ``read_only`` says why.

        Raises:
            HomeError: a folder is a file, lies inside one, or cannot be created for another reason.
        """
        self.check()
        problem: str | None = None
        for folder in self.folders:
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                if folder.stat().st_mode & 0o777 != 0o700:
                    folder.chmod(0o700)
            except OSError as error:
                if error.errno in _CANNOT_WRITE:
                    problem = problem or f"{error.filename or folder}: {error.strerror}"
                    continue
                raise HomeError(_folder_problem(folder, error)) from None
        if problem is None and not os.access(self.config_dir, os.W_OK):
            problem = f"{self.config_dir}: {_why_not_writable(self.config_dir)}"
        return replace(self, read_only=problem) if problem else self


def _why_not_writable(folder: Path) -> str:
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return os.strerror(errno.EROFS)
    except OSError:
        pass
    return os.strerror(errno.EACCES)


def _folder_problem(folder: Path, error: OSError) -> str:
    return f"cannot use the folder {folder}: {error.strerror or error}; {_FIX}"


_FIX = f"set {HOME_ENV} to a folder you can write, or unset it"


def _check_folder(folder: Path) -> None:
    """The folder exists as a folder, or its nearest existing parent is a folder."""
    for candidate in (folder, *folder.parents):
        try:
            is_dir = candidate.is_dir()
            exists = is_dir or candidate.exists()
        except OSError as error:
            raise HomeError(_folder_problem(candidate, error)) from None
        if not exists:
            continue
        if not is_dir:
            where = "is" if candidate == folder else f"would lie inside {candidate}, which is"
            raise HomeError(f"{folder} {where} not a folder (a file or a device); {_FIX}")
        return


def default_paths() -> AppPaths:
    """The platform's folders (platformdirs), whatever ``CDI_TUI_HOME`` says."""
    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    data = Path(dirs.user_data_dir)
    return AppPaths(Path(dirs.user_config_dir) / "config.toml", data, data / "logs")


def is_default_home(paths: AppPaths) -> bool:
    """True for the platform's folders: the home older versions' shared keyring items belong to."""
    try:
        return paths.config_file.resolve() == default_paths().config_file.resolve()
    except (OSError, RuntimeError):
        return False


def app_paths(home: str | Path | None = None) -> AppPaths:
    """Resolve the paths: an explicit home, else ``$CDI_TUI_HOME``, else platformdirs.

    Raises:
        HomeError: when a folder is a file or lies inside one.
    """
    chosen = home if home is not None else os.environ.get(HOME_ENV) or None
    if chosen:
        try:
            root = Path(chosen).expanduser().resolve()
        except (OSError, RuntimeError, ValueError) as error:
            raise HomeError(f"{HOME_ENV}={chosen!r} is not a usable path ({error}); {_FIX}") from None
        return AppPaths(root / "config.toml", root / "data", root / "data" / "logs").check()
    return default_paths().check()
