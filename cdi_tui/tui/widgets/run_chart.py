"""Rows per run as bars (one per run, oldest to newest), coloured by status, with a scale."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from cdi_tui.tui.looks import STATUS_COLOURS, palette

BLOCKS = " ▁▂▃▄▅▆▇█"
ROWS = 3


class RunChart(Widget):
    """``runs`` is a list of (rows read, status), oldest first."""

    DEFAULT_CSS = """
    RunChart { height: auto; width: 1fr; }
    """

    runs: reactive[list[tuple[int, str]]] = reactive(list, always_update=True)

    def render(self) -> Text:
        variables = palette(self.app)
        muted = variables.get("foreground-muted", "")
        runs = self.runs
        if not runs:
            return Text("No runs yet", style=muted)
        peak = max(count for count, _status in runs) or 1
        scale_width = max(len(f"{peak:,}"), 1)
        bar_width = 2
        room = max((self.size.width - scale_width - 3) // (bar_width + 1), 1)
        shown = runs[-room:]
        text = Text(no_wrap=True, overflow="crop")
        for row in range(ROWS):
            label = f"{peak:,}" if row == 0 else ("0" if row == ROWS - 1 else "")
            text.append(f"{label:>{scale_width}} ┤ ", style=muted)
            floor = (ROWS - 1 - row) * 8
            for count, status in shown:
                eighths = round(count / peak * ROWS * 8) if count else 0
                if count and not eighths:
                    eighths = 1  # a run with rows is never drawn as nothing
                level = min(max(eighths - floor, 0), 8)
                colour = variables.get(STATUS_COLOURS.get(status, "primary"), "")
                text.append(BLOCKS[level] * bar_width, style=colour)
                text.append(" ")
            text.append("\n")
        caption = f"rows read per run, oldest to newest: the last {len(shown)} run(s)"
        text.append(f"{'':>{scale_width}}   {caption}", style=muted)
        return text
