"""Build the township XLSForms (.xlsx, for designers' Excel/WPS) from the markdown sources.

The markdown tables in src/ are the reviewed source (readable diffs); the .xlsx next to
this file are generated and committed. Run after editing a source:

    python -m forms.township.build          # rewrite the .xlsx files
    python -m forms.township.build --check  # exit 1 if an .xlsx is out of date

Cells may not contain '|' (pyxform's markdown format has no escape for it).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
FORMS = ("building_listing", "household", "departure", "rental_inspection", "returned")
_FIXED_TIME = datetime(2024, 10, 15)  # keeps document properties stable between builds

Sheets = dict[str, list[list[str]]]


def parse_md(text: str) -> Sheets:
    """Sheets of a pyxform markdown XLSForm: name -> rows (header first), cells as text."""
    sheets: Sheets = {}
    current: list[list[str]] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0]:
            current = sheets.setdefault(cells[0], [])
        elif current is not None:
            current.append(cells[1:])
    return sheets


def read_xlsx(path: Path) -> Sheets:
    """Sheets of an .xlsx as text rows, trailing empty cells and rows dropped."""
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        out: Sheets = {}
        for ws in wb.worksheets:
            rows = []
            for row in ws.iter_rows(values_only=True):
                cells = ["" if v is None else str(v) for v in row]
                while cells and not cells[-1]:
                    cells.pop()
                rows.append(cells)
            while rows and not rows[-1]:
                rows.pop()
            out[ws.title] = rows
        return out
    finally:
        wb.close()


def _trim(sheets: Sheets) -> Sheets:
    out = {}
    for name, rows in sheets.items():
        trimmed = []
        for row in rows:
            cells = list(row)
            while cells and not cells[-1]:
                cells.pop()
            trimmed.append(cells)
        out[name] = trimmed
    return out


def write_xlsx(sheets: Sheets, path: Path) -> None:
    """Write text cells only (never numbers or formulas), header bold and frozen."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append([c if c else None for c in row])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for col in ws.columns:
            width = max(len(str(c.value or "")) for c in col)
            ws.column_dimensions[col[0].column_letter].width = min(max(10, width + 2), 60)
    wb.properties.creator = "Doorstep"
    wb.properties.created = wb.properties.modified = _FIXED_TIME
    wb.save(path)


def source_sheets(form: str) -> Sheets:
    return _trim(parse_md((SRC / f"{form}.md").read_text(encoding="utf-8")))


def is_current(form: str) -> bool:
    xlsx = HERE / f"{form}.xlsx"
    return xlsx.is_file() and read_xlsx(xlsx) == source_sheets(form)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        stale = [f for f in FORMS if not is_current(f)]
        for f in stale:
            print(f"out of date: {f}.xlsx (run python -m forms.township.build)")
        return 1 if stale else 0
    for form in FORMS:
        write_xlsx(source_sheets(form), HERE / f"{form}.xlsx")
        print(f"wrote {form}.xlsx")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
