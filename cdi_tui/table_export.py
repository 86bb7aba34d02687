"""Writing a table (what the app shows: integrations, runs, failed rows, credentials) to a file.

Formats: CSV (a header row, then one row a row) or JSONL (one JSON object a line, keyed by
the column labels). The file:

- is created with mode 0600 (an existing file is truncated and set to 0600: it may hold
  identifiers and payloads);
- is never reached through a symlink: a path whose last part is a symlink is refused
  (``O_NOFOLLOW``), as is anything that is not a regular file (a FIFO, a device);
- holds cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return) prefixed with ``'`` in CSV, and control characters
  escaped (``\\x1b``, ``\\n``) so that no cell can drive a terminal or split a row;
- in JSONL keeps each value exact, JSON-escaped (control characters and bidirectional
  overrides as ``\\uXXXX``).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from cdi_tui.display import json_safe, safe_text
from cdi_tui.errors import CdiError

ExportFormat = Literal["csv", "jsonl"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "jsonl")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportError(CdiError):
    """The file could not be written; the message says why and what to do."""


def format_for(path: Path) -> ExportFormat:
    """The format a file name asks for: ``.jsonl`` (or ``.ndjson``) is JSONL, anything else CSV."""
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "csv"


def csv_cell(value: str) -> str:
    """A cell as CSV gets it: a formula-looking start neutralised, control characters escaped."""
    if value.startswith(_FORMULA_STARTS):
        value = "'" + value
    return safe_text(value)


def table_text(export_format: ExportFormat, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """The file's content."""
    out = io.StringIO()
    if export_format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([csv_cell(column) for column in columns])
        for row in rows:
            writer.writerow([csv_cell(cell) for cell in row])
    else:
        for row in rows:
            out.write(json_safe(json.dumps(dict(zip(columns, row, strict=False)), ensure_ascii=False)) + "\n")
    return out.getvalue()


def write_table(path: Path, export_format: ExportFormat, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """Write the rows to ``path`` (mode 0600, no symlink followed). Returns how many rows were written.

    Raises:
        ExportError: the path is a symlink or not a regular file, or cannot be written (with the reason).
    """
    data = table_text(export_format, columns, rows).encode("utf-8")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ExportError(f"{safe_text(path)} is a symbolic link; give the file's own path") from None
        if error.errno == errno.ENXIO:  # a FIFO nobody reads
            raise ExportError(f"{safe_text(path)} is not a regular file") from None
        raise ExportError(f"cannot write {safe_text(path)}: {error.strerror}") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise ExportError(f"{safe_text(path)} is not a regular file")
        os.fchmod(descriptor, 0o600)
        os.set_blocking(descriptor, True)
        view = memoryview(data)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
    except OSError as error:
        raise ExportError(f"cannot write {safe_text(path)}: {error.strerror}") from None
    finally:
        os.close(descriptor)
    return len(rows)
