"""Leaving the setup at its first step: keep a draft, with its data type chosen here (never assumed)."""

from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from cdi_tui.enums import DataType
from cdi_tui.fields import DATA_TYPE_LABELS, DATA_TYPES
from cdi_tui.tui.base import StyledOnMount

KeepDraftAnswer = DataType | Literal["discard"] | None
"""A data type: keep the draft with it; "discard": leave without it; None: stay in the setup."""


class KeepDraftModal(StyledOnMount, ModalScreen[KeepDraftAnswer]):
    """Keep the setup as a draft: one button per data type, Discard, or Esc to stay."""

    DEFAULT_CSS = """
    KeepDraftModal {
        #kinds { height: auto; margin-bottom: 1; }
        #kinds > Button { width: 1fr; margin: 0 1 0 0; }
    }
    """
    BINDINGS = [Binding("escape", "stay", "Stay in the setup")]

    def __init__(self, name: str, table: str) -> None:
        super().__init__(classes="modal")
        self.draft_name = name
        self.table = table

    def compose(self) -> ComposeResult:
        dialog = Vertical(classes="dialog")
        dialog.border_title = "Keep as a draft?"
        with dialog:
            with Horizontal(classes="dialog-buttons"):
                yield Button("Discard", variant="error", id="discard")
                yield Button("Stay", id="stay")
            with VerticalScroll(classes="dialog-scroll", can_focus=False):
                yield Static(
                    f"Keep {self.draft_name} as a draft? Choose what the rows of {self.table} are "
                    "(it can change until the integration is activated):",
                    classes="dialog-body",
                    markup=False,
                )
                with Horizontal(id="kinds"):
                    for data_type in DATA_TYPES:
                        yield Button(DATA_TYPE_LABELS[data_type], id=f"keep-{data_type}", compact=True)

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button_id = event.button.id or ""
        if button_id.startswith("keep-"):
            self.dismiss(DataType(button_id.removeprefix("keep-")))
        elif button_id == "discard":
            self.dismiss("discard")
        else:
            self.dismiss(None)

    def action_stay(self) -> None:
        self.dismiss(None)
