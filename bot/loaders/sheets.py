"""Spreadsheets (.csv, .xlsx): each row a passage that names its columns."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bot.loaders.base import Builder, LoadedDocument, LoaderError, check_zip, row_text
from bot.loaders.plain import decode_text

# Rows a file may hold: each becomes a passage, so an absurd sheet is refused rather than
# embedded for hours.
MAX_ROWS = 100_000
# Columns read per row; past this a "row" is not a record a reader would cite.
MAX_COLUMNS = 200


def read_csv(path: Path) -> LoadedDocument:
    """A ``.csv`` file: the first row as column names, each other row a passage ("row 12")."""
    text = decode_text(path.read_bytes())
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    builder = Builder()
    try:
        _add_rows(builder, csv.reader(text.splitlines(), dialect), "row", path.name)
    except csv.Error as exc:
        raise LoaderError(f"CSV could not be parsed: {exc}") from exc
    return builder.build("")


def read_xlsx(path: Path) -> LoadedDocument:
    """A ``.xlsx`` workbook: per sheet a heading, then each row a passage ("Sheet1 row 12")."""
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise LoaderError("reading .xlsx needs openpyxl: pip install openpyxl") from exc
    check_zip(path, ".xlsx", "Excel workbook")
    try:
        book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except Exception as exc:
        raise LoaderError(f".xlsx is corrupt or not an Excel workbook: {exc}") from exc
    builder = Builder()
    try:
        total = 0
        for sheet in book.worksheets:
            builder.add(sheet.title, kind="heading", place=sheet.title)
            rows = ([_cell(v) for v in row] for row in sheet.iter_rows(values_only=True))
            total += _add_rows(builder, rows, f"{sheet.title} row", path.name, total)
        title = str(book.properties.title or "")
    finally:
        book.close()
    return builder.build(title)


def _add_rows(
    builder: Builder, rows: Iterable[Sequence[str]], label: str, name: str, before: int = 0
) -> int:
    """Add each row after the header as a passage placed "<label> <n>"; returns the count."""
    header: list[str] | None = None
    count = 0
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row[:MAX_COLUMNS]]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        count += 1
        if before + count > MAX_ROWS:
            raise LoaderError(
                f"{name} has more than {MAX_ROWS:,} rows; split it into smaller files"
            )
        builder.add(row_text(header, cells), kind="row", place=f"{label} {number}")
    if header is not None and count == 0:
        # A sheet of one row (only names, or a single record) is still text worth keeping.
        builder.add(" | ".join(c for c in header if c), kind="row", place=f"{label} 1")
    return count


def _cell(value: object) -> str:
    """A cell as a reader sees it: whole numbers without ".0", dates without midnight."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
