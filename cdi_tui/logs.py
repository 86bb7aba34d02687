"""Logging to a rotating file in the log folder. Secrets are never logged."""

from __future__ import annotations

import logging
import logging.handlers

from cdi_tui.paths import AppPaths

_configured = False


def setup_logging(paths: AppPaths, level: int = logging.INFO) -> None:
    """Send cdi-tui's log records to ``<log dir>/cdi-tui.log`` (1 MB x 5 files)."""
    global _configured
    if _configured:
        return
    paths.ensure()
    handler = logging.handlers.RotatingFileHandler(paths.log_file, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    paths.log_file.chmod(0o600)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("cdi_tui")
    root.setLevel(level)
    root.addHandler(handler)
    # httpx logs each request line at INFO; keep the log to what matters
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("redshift_connector").setLevel(logging.ERROR)
    _configured = True
