"""Exporting a table in view (the app's ``e``): CSV or JSON lines, readable by the owner only,
never through a symlink, no cell a spreadsheet would run, no byte a terminal would obey."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from cdi_tui.table_export import ExportError, csv_cell, format_for, write_table

COLUMNS = ["Identifier", "Reason"]


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_neutralised(cell: str) -> None:
    assert csv_cell(cell).startswith("'")


def test_control_characters_are_escaped_in_csv_and_json_lines_keep_the_exact_value(tmp_path: Path) -> None:
    rows = [["user-1\x1b[31m", "line one\nline two\u202e"]]
    write_table(tmp_path / "t.csv", "csv", COLUMNS, rows)
    [header, row] = list(csv.reader((tmp_path / "t.csv").open()))
    assert header == COLUMNS
    assert row == ["user-1\\x1b[31m", "line one\\nline two\\u202e"]
    write_table(tmp_path / "t.jsonl", "jsonl", COLUMNS, rows)
    text = (tmp_path / "t.jsonl").read_text()
    assert "\x1b" not in text and "\u202e" not in text and len(text.splitlines()) == 1
    assert json.loads(text) == {"Identifier": "user-1\x1b[31m", "Reason": "line one\nline two\u202e"}


def test_the_file_is_readable_by_its_owner_only_even_when_it_existed(tmp_path: Path) -> None:
    target = tmp_path / "rows.csv"
    target.write_text("old\n")
    target.chmod(0o644)
    assert write_table(target, "csv", COLUMNS, [["a", "b"]]) == 1
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.read_text() == "Identifier,Reason\na,b\n"


def test_a_symlink_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (tmp_path / "link.csv").symlink_to(victim)
    with pytest.raises(ExportError, match="symbolic link"):
        write_table(tmp_path / "link.csv", "csv", COLUMNS, [["a", "b"]])
    assert victim.read_text() == "keep me\n"


def test_a_fifo_is_refused_without_waiting_for_a_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    with pytest.raises(ExportError, match="not a regular file"):
        write_table(fifo, "csv", COLUMNS, [["a", "b"]])


def test_the_format_follows_the_file_name() -> None:
    assert (format_for(Path("x.jsonl")), format_for(Path("x.NDJSON")), format_for(Path("x.csv"))) == ("jsonl", "jsonl", "csv")
