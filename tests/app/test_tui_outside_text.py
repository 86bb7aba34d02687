"""Text from the warehouse never acts in the app: a table name holding Textual markup is shown
as it is and a click on it only picks it; escape sequences in preview values, server messages
and errors are shown escaped, never written to the terminal."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from test_tui import World, add_active_events_integration, click, wait_for
from test_tui import world as world
from textual.widgets import OptionList
from tui_world import draw_frame

from cdi_tui.standins.postgres import quote_ident, quote_literal
from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.messages import ConnectionTested
from cdi_tui.tui.screens.modals import ErrorModal
from cdi_tui.tui.screens.wizard import NewIntegrationScreen
from cdi_tui.tui.widgets.setup.connection import ConnectionStep
from cdi_tui.tui.widgets.setup.test_step import TestStep as SetupTestStep

# sequences a terminal obeys: a clipboard write (OSC 52), a window title (OSC 0), a colour, a bell
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"
TITLE = "\x1b]0;owned\x07"
RED = "\x1b[31m"


def terminal_output(app: CdiApp) -> str:
    """What the app would write to the terminal for its current screen (the driver's bytes)."""
    return draw_frame(app)


def assert_nothing_for_the_terminal_to_obey(output: str) -> None:
    for sequence in ("\x1b]52", "\x1b]0;", "\x07", "\x1b[31m"):
        assert sequence not in output, f"{sequence!r} reached the terminal"


async def test_a_table_named_like_markup_is_shown_as_it_is_and_a_click_only_picks_it(world: World, tmp_path: Path) -> None:
    add_active_events_integration(world)
    shots = Path(tempfile.mkdtemp(prefix="s", dir="/tmp"))  # short: a table name holds at most 63 bytes
    name = f"[@click=app.screenshot('i.conf','{shots}')]t"
    world.redshift.admin_execute(
        [
            f"CREATE TABLE {quote_ident(world.schema)}.{quote_ident(name)} (updated_at timestamptz, external_id text, payload text)",
            f"GRANT SELECT ON {quote_ident(world.schema)}.{quote_ident(name)} TO {quote_ident(world.user)}",
        ]
    )
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=(200, 40)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewIntegrationScreen))
        step = app.screen.query_one(ConnectionStep)
        await click(pilot, "#load-tables")
        await wait_for(pilot, lambda: "table(s) visible" in str(step.status.render()))
        qualified = f"{world.schema}.{name}"
        picker = step.table_picker
        picker.focus()
        await pilot.press("enter")  # open the list of tables
        await pilot.pause()
        options = picker.query_one(OptionList)
        shown = [str(options.get_option_at_index(index).prompt) for index in range(options.option_count)]
        assert qualified in shown  # the whole name, brackets and all: nothing was read as markup
        index = shown.index(qualified)
        options.highlighted = index
        await pilot.pause()
        # click on the name itself, where a markup link would have been
        lines = [options.render_line(y).text for y in range(options.region.height)]
        row = next(y for y, line in enumerate(lines) if qualified[:20] in line)
        column = lines[row].index(qualified) + len(qualified) - 3  # on the end of the name: the 't' a link would have shown
        await pilot.click(options, offset=(column, row))
        await pilot.pause(0.3)
        assert list(shots.iterdir()) == []  # no screenshot written: the click ran no action
        assert picker.value == qualified and step.table_field.raw == qualified
        assert qualified in terminal_output(app)
    shutil.rmtree(shots)


async def test_escape_sequences_in_preview_values_are_shown_escaped_never_sent(world: World) -> None:
    add_active_events_integration(world)
    table = f"{world.schema}.events"
    identifier = quote_literal("user" + TITLE)
    payload = quote_literal('{"name": "x' + CLIPBOARD + RED + '"}')
    world.redshift.admin_execute(
        f"INSERT INTO {table} (updated_at, external_id, payload) VALUES (now() - interval '1 second', {identifier}, {payload})"
    )
    result = world.workspace.test_integration("ev")  # the real connection test, through the stand-in
    assert result.ok and result.preview is not None
    assert any(TITLE in str(cell) for row in result.preview.rows for cell in row)  # the warehouse really sent them
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewIntegrationScreen))
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        screen.saved_name = "ev"
        screen._go(2)
        await pilot.pause()
        screen.post_message(ConnectionTested("ev", result))
        step = screen.query_one(SetupTestStep)
        await wait_for(pilot, lambda: step.preview.row_count > 0)
        await pilot.pause()
        output = terminal_output(app)
        assert_nothing_for_the_terminal_to_obey(output)
        assert "user\\x1b]0;owne" in output  # shown as an escape a person can read (cut to the column)
        # the Braze object panel of that row too
        step.show_object(0)
        await pilot.pause()
        assert_nothing_for_the_terminal_to_obey(terminal_output(app))


async def test_an_error_dialog_and_a_toast_show_a_servers_escape_sequences_escaped(world: World) -> None:
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        message: Any = f"relation {TITLE}x does not exist{CLIPBOARD}\n\nWhat to try: [@click=app.quit]check[/] the table"
        app.show_error("Connection test failed", message)
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal))
        await pilot.pause()
        output = terminal_output(app)
        assert_nothing_for_the_terminal_to_obey(output)
        assert "[@click=app.quit]check[/]" in output  # markup in a message is text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ErrorModal))
        app.notify(f"sync failed: {TITLE}[@click=app.quit]here[/]", severity="error")
        await wait_for(pilot, lambda: len(app.screen.query("Toast")) > 0)
        await pilot.pause(0.3)
        output = terminal_output(app)
        assert_nothing_for_the_terminal_to_obey(output)
        assert "[@click=app.quit]here[/]" in output
        assert app.is_running
