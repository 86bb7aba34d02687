"""Helpers shared by the commands: one-line argument errors, flags from field declarations,
secrets from stdin, and the workspace."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from cdi_tui.fields import FieldError, FieldSpec


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (exit 2), no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"cdi-tui: error: {message} (see '{self.prog} --help')\n")


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
        elif spec.validate.__name__ == "validate_emails":
            from cdi_tui.fields import validate_email

            email_spec = FieldSpec(spec.key, spec.label, validate_email)
            parser.add_argument(
                spec.cli_flag, dest=spec.key, action="append", type=field_type(email_spec), default=[], help=spec.help
            )
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


def read_secret(what: str) -> str:
    """A secret from stdin: typed without echo on a terminal, else the first line of stdin."""
    from cdi_tui.cli.main import UsageError

    if sys.stdin is None:
        raise UsageError(f"the {what} is read from stdin, and there is none")
    secret = getpass.getpass(f"{what}: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise UsageError(f"no {what} given on stdin")
    return secret


def open_workspace() -> Any:
    from cdi_tui.logs import setup_logging
    from cdi_tui.paths import app_paths
    from cdi_tui.secret_store import KeyringCredentials
    from cdi_tui.workspace import Workspace

    paths = app_paths()
    setup_logging(paths)
    return Workspace(paths, KeyringCredentials())


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))
