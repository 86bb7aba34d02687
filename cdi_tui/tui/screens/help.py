"""Help: what each screen does and its keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown

HELP = """\
# cdi-tui

Sync user data from an Amazon Redshift table to Braze: each row's `UPDATED_AT` tells
which rows changed since the last sync; each row becomes one Braze object.

## Dashboard
| key | action |
|---|---|
| `n` | new integration (guided setup) |
| `o` / `enter` | open the selected integration |
| `s` | Sync Now (does not move scheduled runs) |
| `p` | pause / resume |
| `d` / `delete` | delete (asks first) |
| `F2` | credentials and Braze settings |
| `ctrl+p` | command palette |
| `?` | this help |
| `ctrl+q` | quit |

## New integration
1. **Connection and source**: a saved credential or a new one, then the table
   (`[DATABASE.]SCHEMA.TABLE`); *Setup SQL* shows what to run in Redshift first.
2. **Sync details**: name, contact emails, data type (fixed once saved), frequency.
3. **Test connection**: a preview of the newest rows, each marked valid or not (and why),
   and the Braze object the selected row becomes; or the error and the fix to try.
4. **Save as draft** or **Activate** (only after a successful test).

Leaving the setup keeps what you entered as a draft when there is enough to save.

## Integration
Settings (all but the data type can change; a new connection or table needs a new test),
run history with rows per run, failed rows of a run (search, export to CSV), Sync Now,
Cancel, Pause/Resume, Full resync and Delete.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog help"):
            yield Markdown(HELP)
            yield Button("Close", variant="primary", id="close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
