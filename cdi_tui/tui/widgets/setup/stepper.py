"""Where the setup is: done steps ticked, the current one highlighted, the next ones dim."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from cdi_tui.tui.looks import palette

STEP_TITLES = ("Connection and source", "Sync details", "Test and activate")


class Stepper(Widget):
    DEFAULT_CSS = """
    Stepper { height: 1; width: 1fr; padding: 0 1; background: $boost; }
    """

    current: reactive[int] = reactive(0)

    def render(self) -> Text:
        variables = palette(self.app)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, title in enumerate(STEP_TITLES):
            if index:
                text.append(" ── ", style=variables.get("foreground-muted", ""))
            if index < self.current:
                text.append(f"✔ {title}", style=variables.get("text-success", ""))
            elif index == self.current:
                text.append(f"● {index + 1} {title}", style=f"bold {variables.get('text-accent', '')}")
            else:
                text.append(f"○ {index + 1} {title}", style=variables.get("foreground-muted", ""))
        return text
