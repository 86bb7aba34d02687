"""Messages that workers post; screens and the app turn them into widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from cdi_tui.checks import ConnectionTestResult
from cdi_tui.workspace import Progress, RunRecord


@dataclass
class SyncProgressed(Message):
    progress: Progress


@dataclass
class SyncFinished(Message):
    integration: str
    record: RunRecord


@dataclass
class SyncFailed(Message):
    """The sync could not start or broke outside the engine's own accounting."""

    integration: str
    message: str


@dataclass
class ConnectionTested(Message):
    integration: str | None
    result: ConnectionTestResult


class ConfigChanged(Message):
    """The config changed outside the screens (the demo's background work); thread-safe to post."""


@dataclass
class RangeEstimateProgressed(Message):
    """How far the setup's whole-range estimate (a dry run) has read."""

    progress: Progress


@dataclass
class RangeEstimated(Message):
    """The setup's whole-range estimate ended: its dry run's record, or why it could not run."""

    integration: str
    record: RunRecord | None
    error: str | None = None


@dataclass
class KeyChecked(Message):
    """A Braze workspace's key was checked: ``checked`` (it works) or ``failed`` (refused)."""

    state: str
    braze_workspace: str = "default"
