"""CSV and XLSX cells for every export: a value typed in the field never runs as a formula.

Building codes, addresses and every answer in a submission come from phones. A spreadsheet
program reads a CSV cell starting with = + - @ (or a tab or carriage return before them) as a
formula, so `csv_bytes` prefixes such cells with an apostrophe, which Excel, LibreOffice and
Google Sheets show as text (plain numbers such as -3.5 stay numbers). `write_xlsx_row` writes
text with xlsxwriter's write_string, which stores a string cell and never a formula, and numbers
as numbers.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

#: What a spreadsheet may read as the start of a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: '=1+1' becomes "'=1+1"."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        if _PLAIN_NUMBER.fullmatch(value):
            return value
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV text with a BOM (Excel then opens Chinese text right), CRLF lines, safe cells."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def write_xlsx_row(sheet: Any, row: int, values: Sequence[Any], cell_format: Any = None) -> None:
    """One XLSX row: numbers as numbers, empty cells blank, everything else as a string."""
    for col, value in enumerate(values):
        if value is None or value == "":
            sheet.write_blank(row, col, None, cell_format)
        elif isinstance(value, bool):
            sheet.write_boolean(row, col, value, cell_format)
        elif isinstance(value, int | float) and math.isfinite(value):
            sheet.write_number(row, col, value, cell_format)
        else:
            sheet.write_string(row, col, str(value), cell_format)
