"""Conformance: convert_xlsform must agree with plain pyxform on the shared corpus."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from pyxform.xls2xform import convert

from forms import FormError, convert_xlsform
from forms.errors import CATALOGUE

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "xlsforms"  # see tests/corpus/README.md
MANIFEST = CORPUS / "MANIFEST.csv"


def _rows() -> list[dict[str, str]]:
    with MANIFEST.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


ROWS = _rows()
pytestmark = [
    # openpyxl warns about workbook parts it ignores (Excel extensions, missing default
    # style, unknown document properties); XLSForms never rely on them.
    pytest.mark.filterwarnings("ignore::UserWarning:openpyxl.*"),
]

OK = [pytest.param(r, id=r["file"]) for r in ROWS if r["pyxform_result"] == "ok"]
ERR = [pytest.param(r, id=r["file"]) for r in ROWS if r["pyxform_result"] == "error"]


def test_manifest_covers_every_file() -> None:
    listed = {r["file"] for r in ROWS}
    on_disk = {p.name for p in CORPUS.iterdir() if p.name != "MANIFEST.csv"}
    assert listed == on_disk


@pytest.mark.parametrize("row", OK)
def test_accepted_forms_match_pyxform(row: dict[str, str]) -> None:
    path = CORPUS / row["file"]
    expected = convert(xlsform=str(path), warnings=[])
    got = convert_xlsform(path.read_bytes(), row["file"])
    assert got.xform == expected.xform
    assert got.itemsets_csv == expected.itemsets
    want = int(re.match(r"(\d+) warnings?", row["pyxform_message"]).group(1))  # type: ignore[union-attr]
    assert len(got.warnings) == want
    assert got.md5.startswith("md5:") and len(got.md5) == 36
    assert got.form_id


@pytest.mark.parametrize("row", ERR)
def test_rejected_forms_raise_form_error(row: dict[str, str]) -> None:
    path = CORPUS / row["file"]
    with pytest.raises(FormError) as info:
        convert_xlsform(path.read_bytes(), row["file"])
    err = info.value
    assert err.code in CATALOGUE
    assert err.message_zh and err.message_en and err.fix_zh and err.fix_en
    assert re.search(r"[\u4e00-\u9fff]", str(err))  # Chinese text present
    # Guards may refuse before pyxform runs (then there is no pyxform text).
    if err.code.startswith("DS1"):
        first_line = row["pyxform_message"].split(": ", 1)[-1][:40]
        assert err.pyxform_message and first_line in err.pyxform_message
