"""Upload guards, the error catalogue and version handling, with inline XLSForms."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime

import pytest
from pyxform.xls2xform import convert

from forms import CATALOGUE, FormError, convert_xlsform, ensure_version
from forms.errors import from_pyxform

GOOD = """
| survey |
| | type     | name  | label::中文 (zh) | label::English (en) |
| | text     | q1    | 问题一           | Question 1          |
| | geopoint | where | 位置             | Location            |
| | image    | pic   | 照片             | Photo               |
| | select_one_from_file streets.csv | street | 街道 | Street |
"""

SETTINGS = """
| settings |
| | form_id | version | default_language |
| | f1      | {v}     | 中文 (zh)        |
"""


def md(text: str) -> bytes:
    return text.encode("utf-8")


def test_good_form_summary() -> None:
    form = convert_xlsform(md(GOOD + SETTINGS.format(v="7")), "good.md")
    assert (form.form_id, form.version, form.default_language) == ("f1", "7", "中文 (zh)")
    assert [(g.name, g.type, g.xpath) for g in form.geo_fields] == [
        ("where", "geopoint", "/data/where")
    ]
    assert form.media_filenames == ["streets.csv"]
    assert re.fullmatch(r"md5:[0-9a-f]{32}", form.md5)
    assert form.entities == []


def test_form_id_falls_back_to_file_stem_like_pyxform() -> None:
    form = convert_xlsform(md(GOOD), "我的表单 v2.md")
    assert form.form_id == "我的表单 v2"
    assert form.version is None


def test_ensure_version_matches_pyxform_with_version_setting() -> None:
    when = datetime(2024, 10, 15, 8, 30, 5, tzinfo=UTC)
    unversioned = convert_xlsform(
        md(GOOD + SETTINGS.replace("| version ", "| ").replace("| {v}     ", "| ")), "a.md"
    )
    assert unversioned.version is None
    versioned = ensure_version(unversioned, when)
    assert versioned.version == "20241015083005"
    expected = convert(xlsform=md(GOOD + SETTINGS.format(v="20241015083005")), file_type=".md")
    assert versioned.xform == expected.xform
    assert versioned.md5 != unversioned.md5
    assert ensure_version(versioned) is versioned


def test_media_references_of_all_kinds() -> None:
    text = """
| survey |
| | type | name | label | image | calculation |
| | note | n | N | logo.png | |
| | select_one_from_file places.geojson | p | P | | |
| | select_multiple_from_file codes.xml | c | C | | |
| | calculate | price | | | pulldata('prices', 'p', 'k', 'x') |
| | csv-external | households | | | |
"""
    form = convert_xlsform(md(text), "m.md")
    assert {(m.kind, m.filename) for m in form.media} == {
        ("images", "logo.png"),
        ("file", "places.geojson"),
        ("file", "codes.xml"),
        ("file-csv", "prices.csv"),
        ("file-csv", "households.csv"),
    }


# --- catalogue mapping of pyxform errors ---------------------------------------------

CASES = [
    pytest.param(
        """
| choices |
| | list_name | name | label |
| | yn | y | Yes |
""",
        "DS101",
        None,
        id="no-survey-sheet",
    ),
    pytest.param(
        """
| survey |
| | type | name | label |
| | select_one yn | q | Q |
| choices |
| | list_name | name | label |
| | other | a | A |
""",
        "DS111",
        2,
        id="unknown-choice-list",
    ),
    pytest.param(
        """
| survey |
| | type | name | label |
| | text | name | Name |
| | integr | age | Age |
""",
        "DS110",
        3,  # pyxform names no row: the survey sheet is searched for the type
        id="unknown-type",
    ),
    pytest.param(
        """
| survey |
| | type | name | label | relevant |
| | text | q | Q | |
| | text | r | R | ${missing} = 'a' |
""",
        "DS120",
        3,
        id="formula-unknown-reference",
    ),
    pytest.param(
        """
| survey |
| | type | name | label | constraint |
| | integer | q | Q | ${q > 3 |
""",
        "DS120",
        2,
        id="formula-broken-reference",
    ),
    pytest.param(
        """
| survey |
| | type | name | label |
| | begin_group | g | G |
| | text | q | Q |
""",
        "DS112",
        2,
        id="unmatched-begin-group",
    ),
    pytest.param(
        """
| survey |
| | type | name | label |
| | text | q | Q |
| | text | q | Q again |
""",
        "DS114",
        3,
        id="duplicate-name",
    ),
    pytest.param(
        """
| survey |
| | type | name | label |
| | text | 1st | Q |
""",
        "DS115",
        2,
        id="name-starts-with-digit",
    ),
    pytest.param(
        """
| survey |
| | type | name | label | save_to |
| | text | q | Q | p |
""",
        "DS130",
        2,
        id="save-to-without-entities",
    ),
    pytest.param(
        """
| survey |
| | type | name | label |
| | text | q | Q |
| entities |
| | list_name | update_if |
| | e1 | true() |
""",
        "DS130",
        2,
        id="entities-update-without-id",
    ),
    pytest.param(
        """
| survey |
| | name | label |
| | q | Q |
""",
        "DS102",
        None,
        id="missing-type-column",
    ),
]


@pytest.mark.parametrize(("text", "code", "row"), CASES)
def test_pyxform_errors_are_catalogued(text: str, code: str, row: int | None) -> None:
    with pytest.raises(FormError, match=rf"^{code}: ") as info:
        convert_xlsform(md(text), "form.md")
    err = info.value
    assert err.row == row
    assert err.pyxform_message  # pyxform's own words kept for support
    assert re.search(r"[\u4e00-\u9fff]", err.message_zh + err.fix_zh)
    assert err.message_en and err.fix_en
    assert isinstance(err.__cause__, Exception)  # raised "from" pyxform's error
    d = err.to_dict()
    assert d["code"] == code and set(d["message"]) == {"zh", "en"}


def test_row_context_is_in_both_languages() -> None:
    with pytest.raises(FormError) as info:
        convert_xlsform(md(CASES[1].values[0]), "form.md")
    err = info.value
    assert "第 2 行" in err.message_zh and "row 2" in err.message_en
    assert "yn" in err.message_zh and "yn" in err.message_en


def test_non_pyxform_exception_becomes_form_error() -> None:
    err = from_pyxform(TypeError("unhashable type: 'dict'"))
    assert err.code == "DS199" and "TypeError" in (err.pyxform_message or "")


def test_every_catalogue_entry_renders_without_context() -> None:
    for code, tpl in CATALOGUE.items():
        err = FormError(code)
        assert err.message_zh and err.message_en, code
        assert "{" not in err.message_zh.replace("${", ""), code
        assert tpl.fix_zh and tpl.fix_en


# --- upload guards -------------------------------------------------------------------


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (200 * 1024 * 1024))
    return buf.getvalue()


def test_zip_bomb_xlsx_refused_before_openpyxl() -> None:
    data = _zip_bomb()
    assert len(data) < 1024 * 1024
    with pytest.raises(FormError, match=r"^DS004: "):
        convert_xlsform(data, "bomb.xlsx")


def test_high_ratio_small_bomb_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"a" * (20 * 1024 * 1024))
    with pytest.raises(FormError, match=r"^DS004: "):
        convert_xlsform(buf.getvalue(), "bomb.xlsm")


def test_fifty_megabyte_upload_refused() -> None:
    with pytest.raises(FormError, match=r"^DS001: .*52428800") as info:
        convert_xlsform(b"a" * (50 * 1024 * 1024), "big.csv")
    assert info.value.context["limit"] == 10 * 1024 * 1024


def test_size_limit_is_a_parameter() -> None:
    with pytest.raises(FormError, match=r"^DS001: "):
        convert_xlsform(md(GOOD), "small.md", max_bytes=100)


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"%PDF-1.4 not a spreadsheet", "form.xlsx", "DS005"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "form.xlsx", "DS006"),
        (b"PK\x03\x04 really a zip", "form.xls", "DS007"),
        ("问题,标签".encode("gbk"), "form.csv", "DS008"),
        (b"", "form.md", "DS002"),
        (b"x", "form.docx", "DS003"),
        (b"x", "form", "DS003"),
        (b"PK\x03\x04" + b"\0" * 100, "broken.xlsx", "DS009"),
    ],
)
def test_guard_refusals(data: bytes, name: str, code: str) -> None:
    with pytest.raises(FormError, match=rf"^{code}: "):
        convert_xlsform(data, name)


def test_ole2_named_xlsx_tells_to_rename() -> None:
    with pytest.raises(FormError) as info:
        convert_xlsform(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "表单.xlsx")
    assert ".xls" in info.value.fix_zh and "Rename the file to .xls" in info.value.fix_en
    assert "表单.xlsx" in info.value.message_zh
