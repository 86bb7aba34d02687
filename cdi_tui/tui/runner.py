"""Starting syncs in thread workers; the app keeps their state (``running``, ``progress``) as reactives.

A sync worker never touches widgets: it calls the engine and posts messages
(:class:`~cdi_tui.tui.messages.SyncProgressed`, ``SyncFinished``, ``SyncFailed``) to the app.
Cancel reaches the engine through a ``threading.Event``. A sync that cannot run for a reason the
product expects (a :class:`~cdi_tui.errors.CdiError`) is ``SyncFailed``; any other error is a bug:
a run it ended is recorded as an error, then the worker fails and the app stops with its crash report.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from cdi_tui.enums import Trigger
from cdi_tui.errors import CdiError
from cdi_tui.tui.messages import SyncFailed, SyncFinished, SyncProgressed
from cdi_tui.workspace import Progress, SyncOptions

if TYPE_CHECKING:
    from cdi_tui.tui.app import CdiApp


class SyncRunner:
    def __init__(self, app: CdiApp) -> None:
        self.app = app
        self._cancel: dict[str, threading.Event] = {}

    def is_running(self, name: str) -> bool:
        return name in self._cancel

    @property
    def running(self) -> list[str]:
        return sorted(self._cancel)

    def start(self, name: str, options: SyncOptions | None = None) -> bool:
        """Start a sync of ``name`` unless one is under way here. Returns whether it started."""
        if name in self._cancel:
            return False
        cancel = threading.Event()
        self._cancel[name] = cancel
        options = options or SyncOptions(trigger=Trigger.MANUAL)

        app = self.app

        def report(progress: Progress) -> None:
            app.post_message(SyncProgressed(progress))

        def work() -> None:
            try:
                record = app.workspace.sync(name, options, report, cancel)
            except CdiError as error:  # expected: reported as a message (a bug fails the worker: the crash report)
                app.post_message(SyncFailed(name, str(error) or type(error).__name__))
            else:
                app.post_message(SyncFinished(name, record))

        app.sync_started(name)
        self.app.run_worker(work, name=f"sync {name}", group="sync", thread=True, exit_on_error=True)
        return True

    def cancel(self, name: str) -> bool:
        event = self._cancel.get(name)
        if event is None:
            return False
        event.set()
        return True

    def forget(self, name: str) -> None:
        self._cancel.pop(name, None)
