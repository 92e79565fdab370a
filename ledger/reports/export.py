"""Report tables as files: CSV (one file per table) and Excel (one sheet per table).

Every report is a list of :class:`Sheet` — a name, headers and rows of plain cells — so
the terminal table, ``--csv`` and ``--xlsx`` all show exactly the same numbers. Times are
shown in the user's zone; Excel gets naive local times because it has no time zones.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal

from ledger.timeutil import show

Lang = Literal["en", "zh"]
Cell = str | int | float | datetime | None


@dataclass(frozen=True)
class Sheet:
    """One table of a report: ``key`` names its CSV file suffix, ``title`` its sheet."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[Cell]]


def cell_text(value: Cell, tz: tzinfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return show(value, tz)
    return str(value)


def csv_path(path: Path, sheet: Sheet, first: bool) -> Path:
    """The first table goes to ``path``; the others next to it (``report.breaches.csv``)."""
    if first:
        return path
    return path.with_name(f"{path.stem}.{sheet.key}{path.suffix or '.csv'}")


def csv_text(sheet: Sheet, tz: tzinfo) -> str:
    """One table as CSV text (headers first)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(sheet.headers)
    writer.writerows([cell_text(c, tz) for c in row] for row in sheet.rows)
    return out.getvalue()


def csv_files(sheets: Sequence[Sheet], path: Path, tz: tzinfo) -> list[tuple[Path, bytes]]:
    """Each table's file and content: UTF-8 with a BOM so that Excel opens Chinese labels
    correctly."""
    return [
        (csv_path(path, sheet, first=i == 0), csv_text(sheet, tz).encode("utf-8-sig"))
        for i, sheet in enumerate(sheets)
    ]


def write_csv(sheets: Sequence[Sheet], path: Path, tz: tzinfo) -> list[Path]:
    """One CSV per table (:func:`csv_files`). Returns the files written."""
    written = []
    for target, content in csv_files(sheets, path, tz):
        target.write_bytes(content)
        written.append(target)
    return written


def write_xlsx(sheets: Sequence[Sheet], path: Path, tz: tzinfo) -> None:
    path.write_bytes(xlsx_bytes(sheets, tz))


def xlsx_bytes(sheets: Sequence[Sheet], tz: tzinfo) -> bytes:
    """One sheet per table, bold headers, sized columns, local times."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for table in sheets:
        sheet = book.create_sheet(table.title[:31])  # Excel's limit on sheet names
        sheet.append(table.headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append([_excel(c, tz) for c in row])
        for column in sheet.iter_cols(min_row=2):
            for cell in column:
                if isinstance(cell.value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
        for column_cells in sheet.columns:
            width = max(display_width(c.value) for c in column_cells)
            letter = column_cells[0].column_letter
            sheet.column_dimensions[letter].width = min(max(8, width + 2), MAX_WIDTH)
        sheet.auto_filter.ref = sheet.dimensions  # filters on the header row
        sheet.freeze_panes = "B2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


MAX_WIDTH = 60
"""The widest a column gets (in Excel's character widths); longer text is cut on screen."""


def display_width(value: object) -> int:
    """How many character widths ``value`` takes in a cell: a Chinese (wide or full-width)
    character takes two; a time its ``yyyy-mm-dd hh:mm:ss`` format."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return len("yyyy-mm-dd hh:mm:ss")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def _excel(value: Cell, tz: tzinfo) -> Cell:
    if isinstance(value, datetime):
        return value.astimezone(tz).replace(tzinfo=None)
    return value
