"""Help: the keys of the screen it is opened from (built from its bindings) and what it does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Static

ABOUT = (
    "cdi-tui syncs user data from Amazon Redshift tables to Braze: each row's UPDATED_AT tells which rows "
    "changed since the last sync; each row becomes one Braze object."
)


def key_rows(screen: Screen[object]) -> list[tuple[str, str, str]]:
    """(key, action, tooltip) of every binding active on ``screen``, its focused widget and the app."""
    rows: dict[str, tuple[str, str, str]] = {}
    app = screen.app

    def rank(active: ActiveBinding) -> int:
        if active.binding.id is not None:  # the app's own actions: the screen's, then the app's
            return 0 if active.node is not app else 1
        return 2  # Textual's keys of the focused widget and the screen

    for active in sorted(screen.active_bindings.values(), key=rank):
        binding = active.binding
        if not binding.description or binding.system:
            continue
        display = screen.app.get_key_display(binding)
        label = rows.get(binding.description)
        if label is not None:  # one row per action, its keys together
            rows[binding.description] = (f"{label[0]} / {display}", label[1], label[2])
            continue
        rows[binding.description] = (display, binding.description, active.tooltip or binding.tooltip or "")
    rows.setdefault("Command palette", (screen.app.get_key_display(Binding("ctrl+p", "", "")), "Command palette", ""))
    return list(rows.values())


class HelpScreen(ModalScreen[None]):
    """Centred; the key table has the focus and scrolls with the keyboard (arrows, Page Up/Down)."""

    DEFAULT_CSS = """
    HelpScreen {
        #keys { height: auto; max-height: 65vh; }
        #about { margin: 1 0; color: $foreground-muted; }
    }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__(classes="modal")
        self.screen_title = screen.sub_title or "Dashboard"
        self.about = getattr(screen, "HELP", "") or ABOUT
        self.rows = key_rows(screen)

    def compose(self) -> ComposeResult:
        dialog = Vertical(classes="dialog help-dialog")
        dialog.border_title = f"Help: {self.screen_title}"
        with dialog:
            yield Static(self.about, id="about", markup=False)
            table: DataTable[str] = DataTable(id="keys", cursor_type="row", zebra_stripes=True)
            yield table
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", variant="primary", id="close", compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#keys", DataTable)
        table.add_columns("Key", "Action", "What it does")
        for row in self.rows:
            table.add_row(*row)
        table.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
