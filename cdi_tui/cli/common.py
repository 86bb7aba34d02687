"""Helpers shared by the commands: one-line argument errors, flags from field declarations,
secrets from stdin, and the workspace."""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from rich.table import Table

from cdi_tui.cli.errors import CommandError, UsageError
from cdi_tui.fields import FieldError, FieldSpec

if TYPE_CHECKING:
    from cdi_tui.workspace import Workspace


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (exit 2), no usage dump."""

    def error(self, message: str) -> NoReturn:
        from cdi_tui.display import safe_text

        self.exit(2, f"cdi-tui: error: {safe_text(message)} (see '{self.prog} --help')\n")


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (a usage error otherwise)."""

    def whole_number(text: str) -> int:
        from cdi_tui.display import safe_text

        problem = f"'{safe_text(text)[:40]}' is not a whole number from {low:,} to {high:,}"
        digits = text.strip()
        # ASCII digits only: int() would also take '1_000' and other scripts' digits
        if not re.fullmatch(r"[+-]?[0-9]{1,30}", digits):
            raise argparse.ArgumentTypeError(problem)
        value = int(digits)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(problem)
        return value

    return whole_number


def bounded_float(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number from ``low`` to ``high`` (a usage error otherwise)."""

    def number(text: str) -> float:
        from cdi_tui.display import safe_text

        problem = f"'{safe_text(text)[:40]}' is not a number from {low:g} to {high:g}"
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(problem) from None
        if not low <= value <= high:  # NaN fails this too
            raise argparse.ArgumentTypeError(problem)
        return value

    return number


def field_type(spec: FieldSpec) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return spec.validate(text)
        except FieldError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = spec.key  # argparse names the type in some messages
    return convert


def add_field_flags(parser: argparse.ArgumentParser, specs: tuple[FieldSpec, ...], *, skip: tuple[str, ...] = ()) -> None:
    """One flag per declared field, with the field's validator as the argparse type."""
    for spec in specs:
        if spec.key in skip:
            continue
        if spec.validate.__name__ == "validate_bool" and spec.off_flag:
            pair = parser.add_mutually_exclusive_group()
            pair.add_argument(spec.cli_flag, dest=spec.key, action="store_true", default=None, help=spec.help)
            pair.add_argument(spec.off_flag, dest=spec.key, action="store_false", default=None, help=f"not {spec.cli_flag}")
        elif spec.validate.__name__ == "validate_bool":
            parser.add_argument(spec.cli_flag, dest=spec.key, action="store_true", help=spec.help)
        elif spec.each is not None:
            item_spec = FieldSpec(spec.key, spec.label, spec.each)
            parser.add_argument(
                spec.cli_flag, dest=spec.key, action="append", type=field_type(item_spec), default=[],
                help=spec.help + " (repeat for several)",
            )  # fmt: skip
        else:
            required = spec.required and spec.default is None
            parser.add_argument(
                spec.cli_flag,
                dest=spec.key,
                type=field_type(spec),
                required=required,
                default=spec.default,
                help=spec.help + ("" if required or spec.default is None else f" (default {spec.default})"),
                metavar=spec.key.upper(),
            )


def add_change_flags(
    parser: argparse.ArgumentParser, specs: tuple[FieldSpec, ...], *, skip: tuple[str, ...] = (), clear: tuple[str, ...] = ()
) -> None:
    """One flag per declared field for a command that changes only what is given.

    A flag not given leaves its setting as it is (argparse leaves it out of the namespace:
    :func:`given_values` reads only those given). Yes/no settings get a pair (``--x`` and
    ``--no-x``, or the declared off flag); the fields in ``clear`` also get ``--no-KEY``, which
    empties them.
    """
    for spec in specs:
        if spec.key in skip:
            continue
        flag = spec.cli_flag
        if spec.validate.__name__ == "validate_bool":
            pair = parser.add_mutually_exclusive_group()
            pair.add_argument(flag, dest=spec.key, action="store_true", default=argparse.SUPPRESS, help=spec.help)
            pair.add_argument(
                spec.off_flag or "--no-" + flag[2:], dest=spec.key, action="store_false", default=argparse.SUPPRESS,
                help=f"not {flag}",
            )  # fmt: skip
            continue
        if spec.each is not None:
            item_spec = FieldSpec(spec.key, spec.label, spec.each)
            parser.add_argument(
                flag, dest=spec.key, action="append", type=field_type(item_spec), default=argparse.SUPPRESS,
                help=spec.help + " (repeat for several; replaces the list)",
            )  # fmt: skip
        else:
            parser.add_argument(
                flag, dest=spec.key, type=field_type(spec), default=argparse.SUPPRESS, help=spec.help, metavar=spec.key.upper()
            )
        if spec.key in clear:
            parser.add_argument(
                "--no-" + flag[2:], dest=spec.key, action="store_const", const=None, default=argparse.SUPPRESS,
                help=f"clear {flag}",
            )  # fmt: skip


def given_values(args: argparse.Namespace, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """The settings the command line gave (flags left out are not in the namespace)."""
    return {spec.key: getattr(args, spec.key) for spec in specs if hasattr(args, spec.key)}


def read_secret(what: str) -> str:
    """A secret from stdin: typed without echo on a terminal, else the first line of stdin."""

    if sys.stdin is None:
        raise UsageError(f"the {what} is read from stdin, and there is none")
    secret = getpass.getpass(f"{what}: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise UsageError(f"no {what} given on stdin")
    return secret


_read_only = False  # cdi-tui --read-only: set once per process by the dispatcher


def set_read_only(read_only: bool) -> None:
    """``--read-only``: every command that would change something or sync is refused."""
    global _read_only
    _read_only = read_only


def is_read_only() -> bool:
    return _read_only


READ_ONLY_REASON = "--read-only"


def open_workspace(read_only_ok: bool = False) -> Workspace:
    """The workspace of ``CDI_TUI_HOME`` (or the platform's folders), with logging to its log file.

    Args:
        read_only_ok: the command only reads. On a home that cannot be written it then runs
            with a one-line warning on stderr; a command that would save something is refused
            before it changes anything.

    Raises:
        HomeError: the home is a file, or lies inside one.
        CommandError: the home cannot be written and the command needs to save.
    """
    from cdi_tui.logs import setup_logging
    from cdi_tui.paths import app_paths
    from cdi_tui.workspace import Workspace

    paths = app_paths().ensure()
    if _read_only:
        if not read_only_ok:
            raise CommandError(
                "read-only (--read-only): this command would change something or sync, so nothing was done; "
                "run it without --read-only"
            )
        setup_logging(paths)
        return Workspace.with_keyring(replace(paths, read_only=READ_ONLY_REASON))
    if paths.read_only is not None:
        from cdi_tui.display import safe_text

        if not read_only_ok:
            raise CommandError(
                f"nothing can be saved ({safe_text(paths.read_only)}); make the folder writable, "
                "or set CDI_TUI_HOME to a writable folder"
            )
        print(f"cdi-tui: warning: read-only ({safe_text(paths.read_only)}): showing what is there; nothing can be saved",
              file=sys.stderr)  # fmt: skip
    setup_logging(paths)
    return Workspace.with_keyring(paths)


def shown(value: Any) -> str:
    """Text from outside (warehouse, file, server) for a rich console or table: control
    characters escaped, and ``[`` escaped so rich reads no markup in it."""
    from rich.markup import escape

    from cdi_tui.display import safe_text

    return escape(safe_text(value))


def print_json(value: Any) -> None:
    from cdi_tui.display import json_safe

    print(json_safe(json.dumps(value, ensure_ascii=False, default=str)))


@dataclass(frozen=True)
class CliColumn:
    """A column of a printed table: ``drop`` > 0 leaves it out when the terminal is too narrow
    (the highest first); ``shrink`` lets it give up width (its cells cut with an ellipsis)."""

    label: str
    drop: int = 0
    shrink: bool = False
    justify: Literal["left", "right"] = "left"


def fitted_table(columns: list[CliColumn], rows: list[list[str]], width: int | None = None, title: str | None = None) -> Table:
    """A rich table that fits ``width`` (the console's): one line a row, never one word a line.

    Columns marked droppable are left out, the highest ``drop`` first, until what is left fits;
    then the shrinkable ones give up width, their cells ending in an ellipsis.
    """
    from rich.cells import cell_len
    from rich.console import Console

    width = width or Console().width
    natural = [max([cell_len(column.label), *(cell_len(row[index]) for row in rows)]) for index, column in enumerate(columns)]
    shown = list(range(len(columns)))

    def needed(indexes: list[int]) -> int:
        least = [min(natural[i], 8) if columns[i].shrink else natural[i] for i in indexes]
        return sum(least) + 3 * len(indexes) + 1  # rich's box: a border and two spaces a column

    for index in sorted((i for i in shown if columns[i].drop), key=lambda i: -columns[i].drop):
        if needed(shown) <= width:
            break
        shown.remove(index)
    table = Table(title=title, title_justify="left", width=None)
    for index in shown:
        column = columns[index]
        table.add_column(
            column.label,
            no_wrap=True,
            overflow="ellipsis",
            justify=column.justify,
            min_width=None if column.shrink else natural[index],
        )
    for row in rows:
        table.add_row(*(row[index] for index in shown))
    return table


LOG_FORMATS = ("text", "json")


def add_log_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="text",
        help="json: log records (runs started and ended, with their counts; alerts) as one JSON object a line on stderr",
    )


def use_log_format(args: argparse.Namespace) -> bool:
    """Apply ``--log-format``; True for JSON lines."""
    if getattr(args, "log_format", "text") != "json":
        return False
    from cdi_tui.logs import log_json_to

    log_json_to(sys.stderr)
    return True
