"""Small modal screens: an error with its message, a yes/no confirmation, a text to copy.

Each is centred, its title in the border, its body scrolling when the terminal is short
and its buttons docked at the bottom so they are always on screen.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from cdi_tui.tui.base import StyledOnMount
from cdi_tui.tui.safe import outside_lines


class ErrorModal(StyledOnMount, ModalScreen[None]):
    """A failure, in words, with the fix to try; the app carries on. An ``action`` (label, call)
    puts the app's own remedy beside Close (the Setup SQL a missing table needs)."""

    BINDINGS = [Binding("escape,enter", "dismiss_modal", "Close")]

    def __init__(self, title: str, message: str, action: tuple[str, Callable[[], None]] | None = None) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.message = message
        self.action = action

    def compose(self) -> ComposeResult:
        dialog = Vertical(classes="dialog error-dialog")
        dialog.border_title = self.title_text
        with dialog:
            with Horizontal(classes="dialog-buttons"):
                if self.action is not None:
                    yield Button(self.action[0], id="action")
                yield Button("Close", variant="primary", id="close")
            with VerticalScroll(classes="dialog-scroll", can_focus=False):
                yield Static(outside_lines(self.message), classes="dialog-body")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)
        if event.button.id == "action" and self.action is not None:
            self.action[1]()

    def action_dismiss_modal(self) -> None:
        self.dismiss(None)


class ConfirmModal(StyledOnMount, ModalScreen[bool]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, question: str, confirm_label: str = "Yes", danger: bool = True, cancel_label: str = "Cancel", title: str = ""
    ) -> None:
        super().__init__(classes="modal")
        self.cancel_label = cancel_label
        self.question = question
        self.confirm_label = confirm_label
        self.danger = danger
        self.title_text = title

    def compose(self) -> ComposeResult:
        dialog = Vertical(classes="dialog")
        dialog.border_title = self.title_text or self.confirm_label
        with dialog:
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm_label, variant="error" if self.danger else "primary", id="yes")
                yield Button(self.cancel_label, id="no")
            with VerticalScroll(classes="dialog-scroll", can_focus=False):
                yield Static(outside_lines(self.question), classes="dialog-body")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_cancel(self) -> None:
        self.dismiss(False)


class FingerprintModal(StyledOnMount, ModalScreen[bool]):
    """Trust a *changed* SSH host key only with its fingerprint typed or pasted, as the command line asks.

    One button press cannot trust a key that differs from the one trusted before: that is
    what an interception looks like. The trust button stays disabled until the field holds
    exactly the fingerprint the server showed.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, fingerprint: str, title: str = "Changed SSH host key") -> None:
        super().__init__(classes="modal")
        self.question = question
        self.fingerprint = fingerprint
        self.title_text = title

    def compose(self) -> ComposeResult:
        dialog = Vertical(classes="dialog")
        dialog.border_title = self.title_text
        with dialog:
            with Horizontal(classes="dialog-buttons"):
                yield Button("Trust the new key", variant="error", id="yes", disabled=True)
                yield Button("Do not connect", id="no")
            with VerticalScroll(classes="dialog-scroll", can_focus=False):
                yield Static(outside_lines(self.question), classes="dialog-body")
                yield Label("To trust it, type or paste the fingerprint confirmed by the bastion's administrator:")
                yield Input(placeholder="SHA256:...", id="fingerprint")

    def on_mount(self) -> None:
        self.query_one("#fingerprint", Input).focus()

    def _matches(self) -> bool:
        return self.query_one("#fingerprint", Input).value.strip() == self.fingerprint

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#yes", Button).disabled = not self._matches()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._matches():
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes" and self._matches())

    def action_cancel(self) -> None:
        self.dismiss(False)


class TextModal(StyledOnMount, ModalScreen[None]):
    """Read-only text to select and copy (the Setup SQL)."""

    DEFAULT_CSS = """
    TextModal {
        TextArea { height: auto; max-height: 70vh; margin-top: 1; }
    }
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("ctrl+y", "copy", "Copy all")]

    def __init__(self, title: str, text: str, language: str | None = None) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.text = text
        self.language = language

    def compose(self) -> ComposeResult:
        dialog = Vertical(classes="dialog wide-dialog")
        dialog.border_title = self.title_text
        with dialog:
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy all", id="copy")
                yield Button("Close", variant="primary", id="close")
            yield TextArea(self.text, read_only=True, show_line_numbers=False, id="text")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.notify("Copied to the clipboard (where the terminal allows it)", timeout=3)

    def action_close(self) -> None:
        self.dismiss(None)
