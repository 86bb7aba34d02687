"""The closed sets of words the config file and the run log store, as :class:`~enum.StrEnum`\\ s.

A member *is* its spelling (``DataType.EVENTS == "events"``), so TOML, SQLite and JSON
write exactly the words they always did; code passes and compares members, and mypy checks
that nothing else goes where one is expected. Words read from a file become members where
they are read: the config loader (an unknown word is a ``ConfigError``, see
:mod:`cdi_tui.fields`) and the run log (:mod:`cdi_tui.runlog`).
"""

from __future__ import annotations

from enum import StrEnum


class DataType(StrEnum):
    """What an integration sends to Braze; fixed when the integration is created."""

    ATTRIBUTES = "attributes"  # custom attributes
    EVENTS = "events"  # custom events
    PURCHASES = "purchases"  # purchase events
    DELETES = "deletes"  # users to delete
    CATALOGS = "catalogs"  # items of a Braze catalog (written or deleted)


class IntegrationState(StrEnum):
    """Where an integration stands (the ``state`` key of an integration in the config file)."""

    DRAFT = "draft"  # not tested for its current connection and table: never syncs
    ACTIVE = "active"  # syncs on its schedule, and when asked
    PAUSED = "paused"  # syncs only when asked


class RunStatus(StrEnum):
    """How a run stands or ended (the ``status`` column of the run log's ``runs``)."""

    RUNNING = "running"  # under way (or its process died: the next run marks it interrupted)
    SUCCESS = "success"  # every row read was delivered
    PARTIAL = "partial"  # ended, some rows failed (each one recorded)
    ERROR = "error"  # stopped by an error of the sync itself (connection, key, table, ...)
    CANCELLED = "cancelled"  # stopped by the user
    LIMIT_EXCEEDED = "limit_exceeded"  # stopped at the most rows a run may read
    INTERRUPTED = "interrupted"  # its process stopped before it finished


class Trigger(StrEnum):
    """What started a run (the ``trigger`` column of the run log's ``runs``)."""

    MANUAL = "manual"  # Sync Now, ``cdi-tui sync``
    SCHEDULED = "scheduled"  # its schedule (the app, ``run-due``, ``serve``)
    FULL_RESYNC = "full_resync"  # a full resync asked for (every row sent again)
    API = "api"  # ``POST /cdi/integrations/{name}/sync`` on ``cdi-tui serve --listen``
