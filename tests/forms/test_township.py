"""The shipped township forms: convert cleanly, match pyxform, enforce the ID rule."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pyxform.xls2xform import convert

from forms import convert_xlsform
from forms.idnumber import (
    birth_date,
    check_char,
    resident_id_constraint,
    validate_resident_id,
)
from forms.township import build

TOWNSHIP = Path(build.__file__).resolve().parent
FORMS = build.FORMS
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:openpyxl.*")


@pytest.fixture(scope="module")
def converted() -> dict:
    return {f: convert_xlsform((TOWNSHIP / f"{f}.xlsx").read_bytes(), f"{f}.xlsx") for f in FORMS}


@pytest.mark.parametrize("form", FORMS)
def test_form_converts_cleanly_and_equals_pyxform(form: str, converted: dict) -> None:
    got = converted[form]
    plain = convert(xlsform=str(TOWNSHIP / f"{form}.xlsx"), warnings=[])
    assert got.xform == plain.xform
    assert got.warnings == []
    assert got.form_id == form
    assert got.version and got.version.isdigit()
    assert got.languages == ["中文 (zh)", "English (en)"]
    assert got.default_language == "中文 (zh)"
    if form == "returned":  # ODK Collect's view of the returned list: read, never sent
        assert got.geo_fields == [] and got.media_filenames == ["returned.csv"]
        return
    assert any(g.name == "visit_location" and g.type == "geopoint" for g in got.geo_fields)
    assert "streets.csv" in got.media_filenames


@pytest.mark.parametrize("form", FORMS)
def test_markdown_source_gives_the_same_xform(form: str, converted: dict) -> None:
    md = convert_xlsform((TOWNSHIP / "src" / f"{form}.md").read_bytes(), f"{form}.md")
    assert md.xform == converted[form].xform


def test_committed_xlsx_match_build_script() -> None:
    stale = [f for f in FORMS if not build.is_current(f)]
    assert not stale, "run: python -m forms.township.build"


def test_build_roundtrip(tmp_path: Path) -> None:
    sheets = build.source_sheets("departure")
    build.write_xlsx(sheets, tmp_path / "d.xlsx")
    assert build.read_xlsx(tmp_path / "d.xlsx") == sheets


def _props(form, dataset: str) -> tuple[dict, set[str]]:
    (decl,) = [e for e in form.entities if e["dataset"] == dataset]
    return decl, set(decl["properties"])


def test_entity_declarations(converted: dict) -> None:
    b, props = _props(converted["building_listing"], "buildings")
    assert b["action"] == "upsert" and b["path"] == "/data" and not b["repeat"]
    assert {"street", "units", "outcome", "geometry", "rented"} <= props
    assert "building_id" in b["entity_id"] and "building_label" in b["label"]

    hh, props = _props(converted["household"], "households")
    assert hh["action"] == "upsert" and hh["path"] == "/data"
    assert {"building", "street", "tenure", "floor_area", "room_uses", "unit"} <= props
    p, props = _props(converted["household"], "persons")
    assert p["path"] == "/data/person" and p["repeat"] and p["action"] == "upsert"
    assert {"full_name", "id_number", "sex", "birth_date", "household", "status"} <= props
    assert p["properties"]["household"] == "/data/person/p_household"

    d, props = _props(converted["departure"], "persons")
    assert d["action"] == "update" and {"status", "departure_date", "destination"} <= props

    r, props = _props(converted["rental_inspection"], "households")
    assert r["action"] == "update"
    assert {"area_per_tenant", "area_ok", "forbidden_use", "contract_filed"} <= props
    # what the rental register reads: the landlord, a partitioned unit, the contract's filing
    assert {"landlord_name", "landlord_id_number", "landlord_phone", "partitioned",
            "contract_number", "contract_lessee", "contract_start", "contract_end",
            "last_inspection"} <= props


def test_building_choice_filtered_by_street(converted: dict) -> None:
    xform = converted["building_listing"].xform
    assert "instance('buildings')/root/item[street =  /data/street ]" in xform


def test_rental_rules_in_form(converted: dict) -> None:
    xform = converted["rental_inspection"].xform
    for room in ("kitchen", "bathroom", "balcony", "basement"):
        assert f"selected( /data/rented_rooms , '{room}')" in xform
    assert "/data/partitioned  = 'yes'" in xform  # smaller than a designed room: forbidden
    # The minimum comes from the server's settings (settings.csv), 10 m² if it is missing.
    assert ('nodeset="/data/min_area_per_person" type="string" calculate="coalesce('
            "pulldata('settings', 'value', 'key', 'min_floor_area_per_tenant_m2'), 10)\"") in xform


# --- resident ID number (GB 11643) ---------------------------------------------------

VALID = ["11010519491231002X", "440524188001010014", "110101200001010010", "320106199912310044"]
INVALID = [
    "110105194912310021",  # wrong check digit
    "11010519491231002x",  # lower-case x
    "1101051949123100",  # too short
    "01010519491231002X",  # leading zero
    "11010519491331002X",  # shape ok, month 13 (server check only)
    "",
]


def _with_check(first17: str) -> str:
    return first17 + check_char(first17)


def test_python_validator() -> None:
    for s in VALID:
        assert validate_resident_id(s), s
    for s in INVALID:
        assert not validate_resident_id(s), s
    assert birth_date("11010519491231002X") == date(1949, 12, 31)


def _xpath_to_python(expr: str) -> str:
    """Translate the (known, small) constraint grammar into Python for evaluation."""
    py = re.sub(r"(?<=\()\.(?=,)", "v", expr)
    py = py.replace(" mod ", " % ").replace(" = ", " == ")
    return (
        py.replace("substr(", "_substr(")
        .replace("number(", "_number(")
        .replace("regex(", "_regex(")
    )


def _eval_constraint(value: str) -> bool:
    def _substr(s: str, start: float, end: float) -> str:
        return s[int(start) : int(end)]

    def _number(s: str) -> float:
        try:
            return float(s)
        except ValueError:
            return float("nan")

    def _regex(s: str, pattern: str) -> bool:
        return re.search(pattern, s) is not None

    env = {"v": value, "_substr": _substr, "_number": _number, "_regex": _regex}
    return bool(eval(_xpath_to_python(resident_id_constraint()), env))


@pytest.mark.parametrize("first17", ["11010519491231002", "44052418800101001", "53012219900307123"])
def test_xpath_constraint_accepts_valid_ids(first17: str) -> None:
    assert _eval_constraint(_with_check(first17))


@pytest.mark.parametrize(
    "bad", ["110105194912310021", "11010519491231002x", "1101051949123100", ""]
)
def test_xpath_constraint_rejects_bad_ids(bad: str) -> None:
    assert not _eval_constraint(bad)


def test_xpath_constraint_agrees_with_python_on_every_check_digit() -> None:
    first17 = "53012219900307123"
    for c in "0123456789X":
        s = first17 + c
        assert _eval_constraint(s) == validate_resident_id(s)


def test_household_form_carries_the_constraint(converted: dict) -> None:
    xform = converted["household"].xform
    escaped = resident_id_constraint().replace("<", "&lt;").replace(">", "&gt;")
    assert f'constraint="{escaped}"' in xform
    src = (TOWNSHIP / "src" / "household.md").read_text(encoding="utf-8")
    assert resident_id_constraint() in src
