"""Logging to a rotating file in the log folder. Secrets are never logged."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from cdi_tui.paths import AppPaths


class _RotatingFile(logging.handlers.RotatingFileHandler):
    """A log file that drops a record it cannot write (a full disk) instead of printing a traceback."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


_configured: Path | None = None
_handler: logging.Handler | None = None


def setup_logging(paths: AppPaths, level: int = logging.INFO) -> Path | None:
    """Send cdi-tui's log records to ``<log dir>/cdi-tui.log`` (1 MB x 5 files).

    Returns:
        The log file, or None when it cannot be written (a read-only home): then nothing is
        logged to a file, and the commands still run. Called again for another home, the
        records go there instead.
    """
    global _configured, _handler
    if _configured == paths.log_file:
        return _configured
    try:
        handler = _RotatingFile(paths.log_file, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    except OSError:
        return None
    try:
        paths.log_file.chmod(0o600)
    except OSError:
        handler.close()
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("cdi_tui")
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    root.setLevel(level)
    root.addHandler(handler)
    # httpx logs each request line at INFO; keep the log to what matters
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("redshift_connector").setLevel(logging.ERROR)
    _configured, _handler = paths.log_file, handler
    return _configured


def log_file() -> Path | None:
    """The log file records go to, once :func:`setup_logging` succeeded."""
    return _configured
