"""Help: the keys of the screen it is opened from (built from its bindings) and what it does.

Only the app's own actions are listed (bindings with an id), once each with all their keys,
and the command palette; keys the user's keymap changed are marked. Descriptions wrap to the
dialog's width, so nothing is cut at 80x24.
"""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Static

from cdi_tui.tui.base import StyledOnMount

ABOUT = (
    "cdi-tui syncs user data from Amazon Redshift tables to Braze: each row's UPDATED_AT tells which rows "
    "changed since the last sync; each row becomes one Braze object."
)
PALETTE = "Command palette"


def key_rows(screen: Screen[object]) -> list[tuple[str, str, str]]:
    """(keys, action, what it does) of the app's own bindings active on ``screen``: the screen's,
    its focused widget's and the app's, each action once; keys the keymap changed end in ``*``."""
    rows: dict[str, tuple[str, str, str]] = {}
    app = screen.app
    keymap = getattr(app, "_keymap", {})

    def rank(active: ActiveBinding) -> int:
        return 0 if active.node is not app else 1  # the screen's actions, then the app's

    for active in sorted(screen.active_bindings.values(), key=rank):
        binding = active.binding
        if binding.id is None or not binding.description or binding.system:
            continue  # Textual's own keys (a table's cursor keys, ...) are not the app's actions
        display = app.get_key_display(binding) + ("*" if binding.id in keymap else "")
        known = rows.get(binding.description)
        if known is not None:  # one row per action, its keys together
            if display not in known[0].split(" / "):
                rows[binding.description] = (f"{known[0]} / {display}", known[1], known[2])
            continue
        rows[binding.description] = (display, binding.description, active.tooltip or binding.tooltip or "")
    palette_key = app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, "command_palette", PALETTE))
    rows.setdefault(PALETTE, (palette_key, PALETTE, "Open an integration, sync one, the theme, by name"))
    return list(rows.values())


class HelpScreen(StyledOnMount, ModalScreen[None]):
    """Centred; the key table has the focus and scrolls with the keyboard (arrows, Page Up/Down)."""

    DEFAULT_CSS = """
    HelpScreen {
        #keys { height: auto; max-height: 50vh; }
        #about { margin: 1 0; color: $foreground-muted; }
        #keymap-note { color: $foreground-muted; }
    }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__(classes="modal")
        self.screen_title = screen.sub_title or "Dashboard"
        self.about = getattr(screen, "HELP", "") or ABOUT
        self.rows = key_rows(screen)
        self._width = 0

    def compose(self) -> ComposeResult:
        dialog = Vertical(classes="dialog help-dialog")
        dialog.border_title = f"Help: {self.screen_title}"
        with dialog:
            yield Static(self.about, id="about", markup=False)
            table: DataTable[Text] = DataTable(id="keys", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static("* changed by your keymap ([keys] in the config file)", id="keymap-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", variant="primary", id="close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#keymap-note").display = any(row[0].endswith("*") or "* /" in row[0] for row in self.rows)
        self.query_one("#keys", DataTable).focus()

    def on_resize(self) -> None:
        self._fill()

    def _fill(self) -> None:
        """The rows, each description wrapped to the room left by the key and action columns."""
        table = self.query_one("#keys", DataTable)
        width = table.size.width
        if width == self._width or width <= 0:
            return
        self._width = width
        key_width = max(len("Key"), *(len(row[0]) for row in self.rows))
        action_width = max(len("Action"), *(len(row[1]) for row in self.rows))
        text_width = max(width - key_width - action_width - 2 * 3 - 2, 12)
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_column("Key", width=key_width)
        table.add_column("Action", width=action_width)
        table.add_column("What it does", width=text_width)
        for keys, action, tooltip in self.rows:
            lines = textwrap.wrap(tooltip, text_width) or [""]
            table.add_row(Text(keys), Text(action), Text("\n".join(lines)), height=len(lines))
        if self.rows:
            table.move_cursor(row=min(max(cursor, 0), len(self.rows) - 1), animate=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
