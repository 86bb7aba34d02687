"""``cdi-tui paths``: where config, data and logs live."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from cdi_tui.paths import HOME_ENV, app_paths


def register(commands: Any) -> None:
    parser = commands.add_parser("paths", help="print where config, data and logs live")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=paths_command)


def paths_command(args: argparse.Namespace) -> int:
    paths = app_paths()
    entries = {
        "config": str(paths.config_file),
        "data": str(paths.data_dir),
        "run_log": str(paths.run_log),
        "logs": str(paths.log_dir),
        "keyring_service": paths.keyring_service,  # this home's secrets, apart from every other home's
    }
    if args.json:
        print(json.dumps(entries))
        return 0
    for key, value in entries.items():
        print(f"{key:<16} {value}")
    if os.environ.get(HOME_ENV):
        print(f"(all under {HOME_ENV}={os.environ[HOME_ENV]})")
    else:
        print(f"(set {HOME_ENV} to move them all under one folder)")
    return 0
