"""The command line under generated arguments: names, numbers, paths, table names and
frequencies with every kind of character, in sequences that build up (and break) a home.

Each command runs in this process through ``main(argv)`` (fast), the way the ``cdi-tui``
script calls it, with ``CDI_TUI_DEBUG=1`` (tests/conftest.py): an unexpected exception is
raised, not turned into one line, so any bug fails the test with its traceback. Whatever the
arguments, every command must exit 0, 1, 2 or 3 with no traceback in its output or in the
log file.

Nothing here reaches the network: hosts are loopback addresses (on a closed port) or names
that do not validate, and the commands that talk to Braze, start servers or wait for a person
(``braze check``, ``serve``, ``demo``, no command at all: the app) are left out.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cdi_tui.cli.main import main

# every kind of character a command line can carry: control characters, escape sequences,
# bidirectional overrides, quotes, dots, non-ASCII letters and digits, and the lone surrogates
# Python makes of bytes that are not UTF-8 (only NUL cannot be in an argument)
ANY_CHARACTER = st.characters(blacklist_characters="\x00", blacklist_categories=())
TRICKY = [
    "\x1b[31m",
    "\n",
    "\r",
    "\t",
    "\x07",
    "\x7f",
    "\x9b",
    "\u202e",
    "\u2028",
    "\udcff",
    '"',
    '""',
    ".",
    " ",
    "[/]",
    "%",
    "٣",
]
text = st.one_of(
    st.text(ANY_CHARACTER, max_size=24),
    st.lists(st.sampled_from(TRICKY) | st.text(ANY_CHARACTER, max_size=3), max_size=6).map("".join),
)
names = st.sampled_from(["wh", "WH", "a-b", "a_b", "a.b", "x", "people", "0", "-x", "x" * 65]) | text
numbers = (
    st.integers(-(10**25), 10**25).map(str)
    | st.sampled_from(["0", "1", "-1", "+-5", " 5", "1_000", "0x10", "1e3", "1e308", "nan", "inf", "-inf", "٣", "", "9" * 5000])
    | text
)
tables = (
    st.sampled_from(["s.t", "public.people", 'INGESTION."MixedCase"', "db.s.t", "s.t.u.v", "public.t\x1b[31mred", 's."t\nx"'])
    | st.tuples(text, text).map(lambda parts: ".".join(parts))
    | st.tuples(text, text).map(lambda parts: '"' + parts[0].replace('"', '""') + '"."' + parts[1].replace('"', '""') + '"')
    | text
)
data_types = st.sampled_from(["attributes", "events", "purchases", "deletes", "EVENTS", "users"]) | text
frequencies = (
    st.sampled_from(["daily at 02:30", "every 15 minutes", "hourly at :05", "monthly on last day at 23:00", "every 5 minutes"])
    | text
)
emails = st.sampled_from(["ops@example.com", "a@b.c", "nope"]) | text
time_zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Mars/Olympus", "../../etc/passwd"]) | text
# loopback on a closed port, or names that never validate as a host (so nothing is looked up)
hosts = st.sampled_from(["127.0.0.1", "localhost", "::1", "[::1]"]) | text.map(lambda value: value + " @/")
# port 1 on loopback is closed (a connection test is refused at once); the rest do not validate
ports = st.sampled_from(["1", "0", "65536", "-1", "99999999999999999999", "5439x", "", " "]) | text.filter(
    lambda value: not value.strip().isdigit()
)
endpoints = st.sampled_from(["US-03", "eu-01", "http://127.0.0.1:1", "http://example.com", "ftp://x", "US-99"]) | text
ssl_modes = st.sampled_from(["disable", "require", "verify-ca", "verify-full", "VERIFY-FULL"]) | text


@st.composite
def paths(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["inside", "proc", "missing", "folder", "text"]))
    if kind == "inside":
        return "{home}/" + draw(st.text(st.characters(blacklist_characters="\x00/", blacklist_categories=("Cs",)), max_size=12))
    if kind == "proc":
        return "/proc/version"
    if kind == "missing":
        return "/nonexistent-folder/failed.csv"
    if kind == "folder":
        return "{home}"
    return "{home}/x" + draw(text).replace("\x00", "")


commands = st.one_of(
    st.tuples(
        st.sampled_from(
            [
                ["paths"],
                ["paths", "--json"],
                ["integrations", "list"],
                ["integrations", "list", "--json"],
                ["credentials", "list"],
                ["credentials", "list", "--json"],
                ["braze", "show"],
                ["run-due"],
                ["run-due", "--json"],
                ["--version"],
                ["--help"],
                ["errors", "--help"],
            ]
        )
    ).map(lambda t: t[0]),
    st.builds(
        lambda name, credential, table, data_type, frequency, email: [
            "integrations",
            "add",
            name,
            "--credential",
            credential,
            "--table",
            table,
            "--data-type",
            data_type,
            "--frequency",
            frequency,
            "--contact-email",
            email,
        ],
        names,
        names,
        tables,
        data_types,
        frequencies,
        emails,
    ),
    st.builds(
        lambda name, host, port, database, user, mode: [
            "credentials",
            "add",
            name,
            "--host",
            host,
            "--port",
            port,
            "--database",
            database,
            "--user",
            user,
            "--sslmode",
            mode,
        ],
        names,
        hosts,
        st.sampled_from(["1", "5439"]) | numbers,
        text,
        text,
        ssl_modes,
    ),
    st.builds(lambda verb, name: ["credentials", verb, name], st.sampled_from(["remove", "password"]), names),
    st.builds(lambda verb, name: [verb, name], st.sampled_from(["activate", "pause", "runs"]), names),
    st.builds(lambda verb, name: ["integrations", verb, name], st.sampled_from(["remove"]), names),
    st.builds(
        lambda endpoint, zone, requests, window: [
            "braze",
            "set",
            "--endpoint",
            endpoint,
            "--time-zone",
            zone,
            "--requests-per-window",
            requests,
            "--window-seconds",
            window,
        ],
        endpoints,
        time_zones,
        numbers,
        numbers,
    ),
    st.builds(lambda name: ["setup-sql", name], names),
    st.builds(
        lambda table, data_type, user: ["setup-sql", "--table", table, "--data-type", data_type, "--user", user],
        tables,
        data_types,
        text,
    ),
    st.builds(lambda name, rows: ["test", name, "--rows", rows, "--json"], names, numbers),
    st.builds(lambda name: ["sync", name, "--dry-run", "--json"], names),
    st.builds(lambda name, limit: ["runs", name, "--limit", limit, "--json"], names, numbers),
    st.builds(lambda run_id, search, path: ["errors", run_id, "--search", search, "--csv", path], numbers, text, paths()),
    st.builds(lambda run_id: ["errors", run_id, "--json"], numbers),
    st.builds(
        lambda spec, count, zone, after: ["next-runs", spec, "--count", count, "--time-zone", zone, "--after", after],
        frequencies,
        numbers,
        time_zones,
        st.sampled_from(
            ["2026-03-01T12:00:00Z", "2026-03-01", "9999-12-31T23:59:59", "9999-12-31T23:59:59-14:00", "0001-01-01", "x"]
        )
        | text,
    ),
    st.builds(
        lambda host, port, sender: ["smtp", "set", "--host", host, "--port", port, "--from", sender], hosts, numbers, emails
    ),
    # anything at all after a first word (no command at all would open the app, 'serve' would run on)
    st.lists(text, min_size=1, max_size=5).filter(
        lambda argv: argv[0].strip() not in ("", "serve", "demo") and argv[0][0] != "-"
    ),
)

HOME_KINDS = ["folder", "folder", "folder", "a file", "/proc/version", "inside a file"]


def run_command(argv: list[str], stdin: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exit_:  # argparse: --help, --version, a usage error
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        sys.stdin = saved_stdin
    return code, out.getvalue(), err.getvalue()


@pytest.mark.real
# no shrinking: each example runs several commands, so shrinking a failure would take many minutes;
# the failing sequence is reported as found (its command lines are in the assertion message)
@settings(
    max_examples=200,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(home_kind=st.sampled_from(HOME_KINDS), sequence=st.lists(commands, min_size=1, max_size=4), stdin=text)
def test_any_command_line_exits_0_1_2_or_3_with_no_traceback_anywhere(
    home_kind: str, sequence: list[list[str]], stdin: str, secret_service: object
) -> None:
    base = Path(tempfile.mkdtemp(prefix="cdi-fuzz-"))
    a_file = base / "a-file"
    a_file.write_text("not a folder\n")
    home = {"folder": base / "home", "a file": a_file, "/proc/version": Path("/proc/version"), "inside a file": a_file / "home"}[
        home_kind
    ]
    saved_home = os.environ.get("CDI_TUI_HOME")
    os.environ["CDI_TUI_HOME"] = str(home)
    try:
        for argv in sequence:
            argv = [arg.replace("{home}", str(base)) for arg in argv]
            code, stdout, stderr = run_command(argv, stdin + "\n")
            assert code in (0, 1, 2, 3), (argv, code, stdout, stderr)
            assert "Traceback" not in stdout + stderr, (argv, stderr)
            if code != 0:  # a failure says so in one line on stderr
                assert len(stderr.strip().splitlines()) == 1 or "warning:" in stderr or "Connection test failed" in stdout, (
                    argv,
                    stderr,
                )
            for character in "\x1b\x07\x9b\u202e":
                assert character not in stdout + stderr, (argv, character, stdout, stderr)
        log_file = base / "home" / "data" / "logs" / "cdi-tui.log"
        if log_file.exists():
            assert "Traceback" not in log_file.read_text(errors="replace")
        assert a_file.read_text() == "not a folder\n"
    finally:
        if saved_home is None:
            os.environ.pop("CDI_TUI_HOME", None)
        else:
            os.environ["CDI_TUI_HOME"] = saved_home
        shutil.rmtree(base, ignore_errors=True)
