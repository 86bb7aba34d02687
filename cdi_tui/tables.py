"""Source table names: ``[database.]schema.table``, with SQL quoting rules.

An unquoted part is folded to lower case, as Redshift (and PostgreSQL) fold unquoted
identifiers; a part in double quotes keeps its exact spelling, with ``""`` standing for one
``"``. Names reach SQL only through :func:`quote_identifier`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdi_tui.display import first_control_character, safe_text
from cdi_tui.errors import CdiError


class TableNameError(CdiError, ValueError):
    """The table name cannot be parsed."""


@dataclass(frozen=True)
class TableName:
    schema: str
    table: str
    database: str | None = None

    @property
    def sql(self) -> str:
        """``"schema"."table"``: the only form in which the name reaches a query."""
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.table)}"

    def __str__(self) -> str:
        parts = [self.database] if self.database else []
        parts += [self.schema, self.table]
        return ".".join(_display(part) for part in parts)


def quote_identifier(name: str) -> str:
    """Quote an identifier for SQL: ``"name"`` with embedded quotes doubled.

    Raises:
        TableNameError: for an empty name or one with a NUL character.
    """
    if not name or "\x00" in name:
        raise TableNameError("an identifier cannot be empty or contain NUL")
    return '"' + name.replace('"', '""') + '"'


def _display(part: str) -> str:
    plain = part.replace("_", "a").replace("$", "a")
    if plain.isalnum() and plain.isascii() and part == part.lower() and not part[0].isdigit():
        return part
    return quote_identifier(part)


def _split_parts(text: str) -> list[str]:
    parts: list[str] = []
    index = 0
    length = len(text)
    while True:
        if index < length and text[index] == '"':
            index += 1
            chunk: list[str] = []
            while True:
                if index >= length:
                    raise TableNameError(f"unclosed double quote in '{safe_text(text)}'")
                char = text[index]
                if char == '"':
                    if index + 1 < length and text[index + 1] == '"':
                        chunk.append('"')
                        index += 2
                        continue
                    index += 1
                    break
                chunk.append(char)
                index += 1
            part = "".join(chunk)
            if not part:
                raise TableNameError(f"empty quoted name in '{safe_text(text)}'")
        else:
            end = text.find(".", index)
            raw = text[index:] if end == -1 else text[index:end]
            index = length if end == -1 else end
            part = raw.strip()
            if not part:
                raise TableNameError(f"'{safe_text(text)}' has an empty part; expected [DATABASE.]SCHEMA.TABLE")
            if '"' in part or any(char.isspace() for char in part):
                raise TableNameError(
                    f"'{safe_text(part)}' needs double quotes (it has spaces or quotes); expected [DATABASE.]SCHEMA.TABLE"
                )
            part = part.lower()
        unsafe = first_control_character(part)
        if unsafe is not None:
            raise TableNameError(f"a table name cannot contain control characters (found {unsafe})")
        if len(part) > 127:
            raise TableNameError(f"'{safe_text(part[:20])}...' is longer than 127 characters")
        parts.append(part)
        if index >= length:
            return parts
        if text[index] != ".":
            raise TableNameError(
                f"unexpected '{safe_text(text[index])}' in '{safe_text(text)}'; expected [DATABASE.]SCHEMA.TABLE"
            )
        index += 1
        if index >= length:
            raise TableNameError(f"'{safe_text(text)}' ends with a dot; expected [DATABASE.]SCHEMA.TABLE")


def parse_table_name(text: str) -> TableName:
    """Parse ``[database.]schema.table``.

    Raises:
        TableNameError: when the text is not two or three (optionally quoted) names.
    """
    text = text.strip()
    if not text:
        raise TableNameError("a table is required, as [DATABASE.]SCHEMA.TABLE")
    unsafe = first_control_character(text)
    if unsafe is not None:
        raise TableNameError(f"a table name cannot contain control characters (found {unsafe})")
    parts = _split_parts(text)
    if len(parts) == 2:
        return TableName(parts[0], parts[1])
    if len(parts) == 3:
        return TableName(parts[1], parts[2], parts[0])
    raise TableNameError(f"'{safe_text(text)}' is not [DATABASE.]SCHEMA.TABLE (got {len(parts)} part(s))")
