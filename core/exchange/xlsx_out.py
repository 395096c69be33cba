"""Excel out: a streaming writer (openpyxl ``write_only``) for any list of rows with Chinese headers.

Every export of the platform goes through ``write_rows`` (or ``SheetWriter`` for laid-out sheets):

- a column declared ``text=True`` (ID numbers, certificate numbers) is written as a string with
  the number format ``@``, so Excel never turns ``44010619850101123X`` into ``4.40106E+17``;
- a string beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is neutralised
  with a leading ``'`` (CSV/formula injection); a genuine number (int, float, Decimal) stays a
  number, a negative one included;
- rows are streamed: memory does not grow with the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any, Callable, Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter

DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_FORMAT = "@"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(value: Any) -> Any:
    """A cell value safe to open in a spreadsheet: strings that a spreadsheet would read as a
    formula get a leading apostrophe; numbers, dates and None pass unchanged."""
    if isinstance(value, str) and value.startswith(DANGEROUS_STARTS):
        return "'" + value
    return value


def cell_value(value: Any, *, text: bool = False) -> Any:
    """The value to store: text columns always a string; Decimal as int/float; everything else
    neutralised."""
    if value is None:
        return None
    if text:
        return neutralise(str(value))
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (int, float, date, datetime)):
        return value
    return neutralise(str(value))


@dataclass(frozen=True)
class Column:
    """One column of an export: the header (Chinese), how to get the value from a row (a key of a
    dict row, or a function), whether it is text (``@``), its width and number format."""

    header: str
    key: str | Callable[[Any], Any]
    text: bool = False
    width: float | None = None
    number_format: str | None = None

    def get(self, row: Any) -> Any:
        if callable(self.key):
            return self.key(row)
        if isinstance(row, dict):
            return row.get(self.key)
        return getattr(row, self.key, None)


THIN = Side(style="thin", color="000000")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FONT = Font(bold=True)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


class SheetWriter:
    """One write-only sheet: title rows, a header row, data rows, footer lines. Styles and cell
    objects are created once per column, so a row costs a few small objects."""

    def __init__(self, workbook: Workbook, title: str, columns: list[Column], *, borders: bool = False):
        self.ws = workbook.create_sheet(title=title[:31] or "Sheet1")
        self.columns = columns
        self.borders = borders
        self.row = 0
        for index, column in enumerate(columns, 1):
            width = column.width or max(8.0, min(40.0, 2.2 * len(column.header) + 2))
            self.ws.column_dimensions[get_column_letter(index)].width = width

    @property
    def last_column(self) -> str:
        return get_column_letter(max(1, len(self.columns)))

    def _cell(self, value, *, text=False, number_format=None, font=None, alignment=None, border=None):
        cell = WriteOnlyCell(self.ws, value=cell_value(value, text=text))
        if text:
            cell.number_format = TEXT_FORMAT
        elif number_format:
            cell.number_format = number_format
        if font is not None:
            cell.font = font
        if alignment is not None:
            cell.alignment = alignment
        if border is not None:
            cell.border = border
        return cell

    def line(self, text: str, *, merge: bool = True, font: Font | None = None, height: float | None = None,
             alignment: Alignment | None = None) -> None:
        """A line of text across the sheet (a title, a unit line, a sign-off line)."""
        self.row += 1
        self.ws.append([self._cell(text, font=font, alignment=alignment)])
        if merge and len(self.columns) > 1:
            self.ws.merged_cells.add(f"A{self.row}:{self.last_column}{self.row}")
        if height:
            self.ws.row_dimensions[self.row].height = height

    def header(self) -> int:
        self.row += 1
        border = BOX if self.borders else None
        self.ws.append([self._cell(c.header, font=HEADER_FONT, alignment=CENTER, border=border)
                        for c in self.columns])
        return self.row

    def rows(self, rows: Iterable[Any]) -> int:
        """Stream data rows. Each column's style is built once (a prototype cell) and copied as a
        small array into every cell: styling a cell by assigning a Border or a number format would
        hash the style objects again for every cell, the main cost of a large sheet."""
        columns = self.columns
        border = BOX if self.borders else None
        styles = [self._cell(None, text=c.text, number_format=c.number_format, border=border)._style
                  for c in columns]
        plan = [(c, c.text, StyleArray(style) if style is not None else StyleArray()) for c, style in zip(columns, styles)]
        ws = self.ws
        append = ws.append
        count = 0
        for row in rows:
            cells = []
            for column, text, style in plan:
                cell = WriteOnlyCell(ws, value=cell_value(column.get(row), text=text))
                cell._style = StyleArray(style)
                cells.append(cell)
            append(cells)
            count += 1
        self.row += count
        return count

    def values(self, values: list[Any]) -> None:
        """One row of plain values (a totals row)."""
        self.row += 1
        border = BOX if self.borders else None
        self.ws.append([self._cell(v, border=border) for v in values])


def new_workbook() -> Workbook:
    return Workbook(write_only=True)


def write_rows(out: str | IO[bytes], columns: list[Column], rows: Iterable[Any], *,
               sheet_title: str = "数据", title: str | None = None) -> int:
    """Write ``rows`` under ``columns`` to ``out`` (a path or a binary stream). Returns the number
    of data rows. With ``title``, a merged title line comes first and the header row repeats on
    every printed page."""
    workbook = new_workbook()
    sheet = SheetWriter(workbook, sheet_title, columns)
    if title:
        sheet.line(title, font=Font(bold=True, size=14), alignment=CENTER)
    header_row = sheet.header()
    sheet.ws.print_title_rows = f"{header_row}:{header_row}"
    sheet.ws.freeze_panes = f"A{header_row + 1}"
    count = sheet.rows(rows)
    workbook.save(out)
    return count
