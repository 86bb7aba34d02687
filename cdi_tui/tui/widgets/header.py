"""A one-line header: the app, the screen, and the Braze workspace of the screen in view.

A screen says which workspace it shows with a ``braze_workspace`` attribute (an integration's
screen, its own; the setup, the one chosen; the dashboard, its filter); None means all of them.
With a single workspace the header names its instance alone, as before there were several.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from cdi_tui.config import DEFAULT_WORKSPACE
from cdi_tui.errors import CdiError
from cdi_tui.tui.base import CdiMixin
from cdi_tui.tui.looks import palette
from cdi_tui.workspace import Workspace

KEY_WORDS = {"checked": "key ✓ checked", "failed": "key ✗ refused", "stored": "key not checked", "missing": "no Braze key"}


class WorkspaceHeader(CdiMixin, Widget):
    """Instance, Braze key, time zone, syncs running and "demo"; redrawn when the app's state changes."""

    DEFAULT_CSS = """
    WorkspaceHeader {
        dock: top;
        height: 1;
        width: 1fr;
        background: $panel;
        color: $foreground;
    }
    """

    def on_mount(self) -> None:
        app = self.cdi
        self.watch(app, "running", self._changed, init=False)
        self.watch(app, "config_version", self._changed, init=False)
        self.watch(app, "key_states", self._changed, init=False)
        self.watch(self.screen, "sub_title", self._changed, init=False)
        self.watch(app, "theme", self._changed, init=False)

    def _changed(self, *_args: object) -> None:
        self.refresh()

    def _braze_parts(self) -> list[str]:
        """The Braze workspace of the screen in view: its instance (named, when there are several),
        its key and its time zone; or, for a screen of every workspace, how many there are."""
        app = self.cdi
        summaries = app.workspace_summaries
        chosen = getattr(self.screen, "braze_workspace", None)
        if chosen is None and len(summaries) == 1:
            chosen = next(iter(summaries))
        if not summaries:
            return ["Braze not set up", KEY_WORDS["missing"], "UTC"]
        if chosen is None:
            refused = sum(1 for state in app.key_states.values() if state in ("failed", "missing"))
            return [f"{len(summaries)} Braze workspaces"] + ([f"{refused} without a working key"] if refused else [])
        info = summaries.get(chosen)
        if info is None:
            return [f"workspace {chosen} not set up"]
        state = app.key_states.get(chosen, "missing")
        instance = info.instance if len(summaries) == 1 else f"{chosen}: {info.instance}"
        return [instance, KEY_WORDS.get(state, state), info.time_zone]

    def render(self) -> Text:
        app = self.cdi
        variables = palette(app)
        accent = variables.get("accent", "default")
        muted = variables.get("foreground-muted", "default")
        parts = self._braze_parts()
        if app.running:
            parts.append(f"{len(app.running)} sync{'s' if len(app.running) > 1 else ''} running")
        if app.read_only is not None:
            parts.append("read-only")
        if app.demo:
            parts.append("demo")
        title = self.screen.sub_title or ""
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" ◆ cdi-tui ", style=f"bold {accent}")
        # the screen's title whole; the workspace's parts give way from the right when narrow
        room = self.size.width - text.cell_len - len(title) - 4
        while parts and len(" · ".join(parts)) > room and len(parts) > 1:
            parts.pop(-2 if parts[-1] in ("demo", "read-only") else -1)
        workspace = " · ".join(parts)
        if len(workspace) > room:
            workspace = workspace[: max(room - 1, 0)] + "…" if room > 1 else ""
        text.append(f" {title}", style="bold")
        text.append(" " * max(self.size.width - text.cell_len - len(workspace) - 1, 2))
        if app.demo and workspace.endswith("demo"):
            text.append(workspace[: -len("demo")], style=muted)
            text.append("demo", style=f"bold {accent}")
        else:
            text.append(workspace, style=muted)
        text.append(" ")
        return text


def key_state(workspace: Workspace, braze_workspace: str = DEFAULT_WORKSPACE) -> str:
    """Whether a Braze workspace's key is stored (checked or not is learnt by a check)."""
    try:
        stored = workspace.has_braze_key(braze_workspace)
    except CdiError:  # a keyring that cannot be read: reported where a secret is needed
        return "missing"
    return "stored" if stored else "missing"


def show_braze_workspace(screen: object, braze_workspace: str | None) -> None:
    """A screen now shows ``braze_workspace`` (None: every one): its header says so at once."""
    if getattr(screen, "braze_workspace", None) == braze_workspace:
        return
    screen.braze_workspace = braze_workspace  # type: ignore[attr-defined]
    query = getattr(screen, "query", None)
    if query is not None:
        for header in query(WorkspaceHeader):
            header.refresh()
