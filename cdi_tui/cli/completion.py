"""``cdi-tui completion bash|zsh|fish``: a completion script generated from the command line's own
parser by shtab, so commands, flags and choices stay in step with the parser by construction."""

from __future__ import annotations

import argparse
from typing import Any

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": "cdi-tui completion bash > ~/.local/share/bash-completion/completions/cdi-tui",
    "zsh": "cdi-tui completion zsh > ~/.zfunc/_cdi-tui (with fpath+=(~/.zfunc) before compinit)",
    "fish": "cdi-tui completion fish > ~/.config/fish/completions/cdi-tui.fish",
}


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Install it: " + "; ".join(INSTALL.values()),
    )
    parser.add_argument("shell", choices=SHELLS)
    parser.set_defaults(handler=completion_command)


def completion_command(args: argparse.Namespace) -> int:
    import shtab

    root: argparse.ArgumentParser = args.root_parser
    print(shtab.complete(root, shell=args.shell), end="")
    return 0
