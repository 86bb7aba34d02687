"""Logging to a rotating file in the log folder, and JSON lines on stderr (``--log-format json``).
Secrets are never logged."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

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


# what a record may carry besides its message (``extra=`` of the engine, the scheduler, the alerts)
STRUCTURED_FIELDS = ("integration", "run_id", "event", "status", "trigger", "counts", "alert")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time``, ``level``, ``integration``, ``run_id``, ``event``,
    ``counts`` (null when a record has none), ``message``, and ``logger``; ``status``, ``trigger``,
    ``alert`` and ``error`` when present. ASCII only: control characters and every character
    beyond ASCII are escaped, so no value from outside can drive a terminal that shows the log."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "integration": None,
            "run_id": None,
            "event": None,
            "counts": None,
        }
        for key in STRUCTURED_FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                entry[key] = value
        entry["message"] = record.getMessage()
        entry["logger"] = record.name
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = "".join(traceback.format_exception(error))
        return json.dumps(entry, ensure_ascii=True, default=str)


_json_handler: logging.Handler | None = None


def log_json_to(stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """``--log-format json``: cdi-tui's records also go to ``stream`` (stderr), one JSON object a line."""
    global _json_handler
    root = logging.getLogger("cdi_tui")
    if _json_handler is not None:
        root.removeHandler(_json_handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(level)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("redshift_connector").setLevel(logging.ERROR)
    _json_handler = handler
    return handler
