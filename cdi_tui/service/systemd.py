"""systemd's notify protocol (``Type=notify``, ``WatchdogSec=``) through ``cysystemd``.

``cysystemd`` (maintained; a wheel with libsystemd's ``sd_notify`` inside) sends READY, STATUS,
WATCHDOG and STOPPING to the socket systemd names in ``NOTIFY_SOCKET``. Without that variable
(not started by systemd) nothing is sent. WATCHDOG pings go out every half of
``WATCHDOG_USEC`` (as sd_watchdog_enabled(3) advises) and only while the service is healthy,
so systemd restarts a service whose loop is stuck or whose run log cannot be written.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("cdi_tui.serve")


class SystemdNotifier:
    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notify: Any = None
        self._kinds: Any = None
        if self.enabled:
            try:
                from cysystemd.daemon import Notification, notify
            except ImportError as error:  # a wheel that does not load here: say so once, carry on
                log.warning("systemd notifications are off: cysystemd cannot be loaded (%s)", error)
                self.enabled = False
            else:
                self._notify, self._kinds = notify, Notification

    @property
    def watchdog_seconds(self) -> float | None:
        """Half of systemd's ``WATCHDOG_USEC`` (meant for this process), or None when there is no watchdog."""
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        if not self.enabled or not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
            return None
        return int(usec) / 2_000_000

    def _send(self, kind: str, value: str | None = None) -> None:
        if not self.enabled:
            return
        try:
            notification = getattr(self._kinds, kind)
            self._notify(notification) if value is None else self._notify(notification, value)
        except Exception as error:  # systemd going away never stops the service
            log.warning("systemd notification %s failed: %s", kind, error)

    def ready(self) -> None:
        self._send("READY")

    def status(self, text: str) -> None:
        self._send("STATUS", text.replace("\n", " ")[:200])

    def watchdog(self) -> None:
        self._send("WATCHDOG")

    def stopping(self) -> None:
        self._send("STOPPING")

    def start_watchdog(self, healthy: Callable[[], bool], stop: threading.Event) -> threading.Thread | None:
        """Ping WATCHDOG every half ``WATCHDOG_USEC`` while ``healthy()``, until ``stop``."""
        every = self.watchdog_seconds
        if every is None:
            return None

        def loop() -> None:
            while not stop.wait(every):
                try:
                    ok = healthy()
                except Exception:  # a failing check is not healthy
                    ok = False
                if ok:
                    self.watchdog()
                else:
                    log.warning("unhealthy: no WATCHDOG ping to systemd", extra={"event": "watchdog_skipped"})

        thread = threading.Thread(target=loop, name="cdi-tui-watchdog", daemon=True)
        thread.start()
        return thread
