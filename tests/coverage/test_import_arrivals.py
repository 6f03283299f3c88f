"""Imports as a township's files arrive: unknown streets (create them, or streets by boundary),
re-imports that update, degenerate parts and --skip-invalid, CLI messages that name CLI flags.
Small inline GeoJSON files; the area tree is tests/coverage/test_imports.py's."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa

from server.cli.imports import cli_message
from server.extensions import db
from server.models import Area, AuditEvent, Building
from tests.support.import_files import AREAS

# Street Z01-01 spans lat 24.00–24.05, Z01-02 24.05–24.10 (both lon 102.00–102.05).
H1 = (102.01, 24.01)
H2 = (102.02, 24.06)


def box(x: float, y: float, size: float = 0.0001) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def fc(*features: tuple[dict, dict | None]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": g} for p, g in features]})


@pytest.fixture
def areas(app, runner, tmp_path):
    path = tmp_path / "areas.geojson"
    path.write_text(AREAS)
    assert runner.invoke(args=["areas", "import", str(path)]).exit_code == 0


@pytest.fixture
def write(tmp_path):
    def do(text: str, name: str = "b.geojson") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return do


def _streets() -> dict[str, str | None]:
    return dict(db.session.execute(
        sa.select(Building.code, Area.code).outerjoin(Area, Area.id == Building.street_id)).all())


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


NEW_STREETS = fc(({"code": "N1", "street": "Z01-01"}, box(*H1)),
                 ({"code": "N2", "street": "Z01-09"}, box(*H2)),
                 ({"code": "N3", "street": "Z01-10"}, box(102.03, 24.06)))


def test_unknown_streets_are_listed_with_the_two_ways_on(areas, runner, write):
    r = runner.invoke(args=["buildings", "import", write(NEW_STREETS)])
    assert r.exit_code == 1
    assert ("nothing imported: b.geojson: the street column 'street' names 2 street(s) not in "
            "the area tree: Z01-09, Z01-10") in r.output
    assert "--create-streets-under VILLAGE (villages: Z01)" in r.output
    assert "--street-field none" in r.output
    assert (_count(Building), _count(Area)) == (0, 4)


def test_create_the_streets_under_a_village(areas, runner, write):
    r = runner.invoke(args=["buildings", "import", write(NEW_STREETS),
                            "--create-streets-under", "Z01"])
    assert r.exit_code == 0, r.output
    assert "3 created, 0 updated" in r.output
    assert "2 street(s) created under Z01: Z01-09, Z01-10" in r.output
    assert _streets() == {"N1": "Z01-01", "N2": "Z01-09", "N3": "Z01-10"}
    created = db.session.scalar(sa.select(Area).where(Area.code == "Z01-10"))
    assert (created.level, created.path, created.parent.code) == ("street", "Z/Z01/Z01-10", "Z01")
    (event,) = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "buildings.import"))
    assert event.detail["streets_created"] == ["Z01-09", "Z01-10"]


def test_or_ignore_the_column_and_assign_by_boundary(areas, runner, write):
    r = runner.invoke(args=["buildings", "import", write(NEW_STREETS), "--street-field", "none"])
    assert r.exit_code == 0, r.output
    assert _streets() == {"N1": "Z01-01", "N2": "Z01-02", "N3": "Z01-02"}
    assert _count(Area) == 4


@pytest.mark.parametrize(
    ("street", "village", "message"),
    [
        ("Z01-09", "Z01-01", "no village 'Z01-01' to create the streets under; villages: Z01"),
        ("Z01-09", "Q9", "no village 'Q9'"),
        ("Z01", None, "the street column 'street' names areas that are not streets: Z01 "
                      "(village)"),
    ],
)
def test_street_choices_that_cannot_work_are_refused(areas, runner, write, street, village,
                                                     message):
    args = ["buildings", "import", write(fc(({"code": "N1", "street": street}, box(*H1))))]
    r = runner.invoke(args=args + (["--create-streets-under", village] if village else []))
    assert r.exit_code == 1 and message in r.output
    assert (_count(Building), _count(Area)) == (0, 4)


def test_reimport_updates_and_reports_what_changed(areas, runner, write):
    first = fc(({"code": "H1", "units": 4, "address": "一组1号"}, box(*H1)),
               ({"code": "H2", "units": 2, "address": "二组1号"}, box(*H2)))
    assert runner.invoke(args=["buildings", "import", write(first)]).exit_code == 0
    again = fc(({"code": "H1", "units": 6, "address": "一组1号"}, box(H1[0], H1[1], 0.0002)),
               ({"code": "H2", "units": 2, "address": "二组1号"}, box(*H2)),
               ({"code": "H3", "units": 1, "address": "一组3号"}, box(102.03, 24.01)))
    r = runner.invoke(args=["buildings", "import", write(again, "again.geojson")])
    assert r.exit_code == 0, r.output
    assert "1 created, 1 updated, 1 unchanged" in r.output
    assert "1 updated: H1 (footprint; expected_units 4 → 6)" in r.output
    h1 = db.session.scalar(sa.select(Building).where(Building.code == "H1"))
    assert h1.expected_units == 6 and h1.maxx == pytest.approx(H1[0] + 0.0002)
    assert _count(Building) == 3
    # A file without a units column leaves the recorded units alone; moving H2 into the other
    # street changes its street.
    bare = fc(({"code": "H1"}, box(H1[0], H1[1], 0.0002)), ({"code": "H2"}, box(*H1[:1], 24.02)))
    r = runner.invoke(args=["buildings", "import", write(bare, "bare.geojson")])
    assert "0 created, 1 updated, 1 unchanged" in r.output, r.output
    assert "H2 (footprint; street Z01-02 → Z01-01)" in r.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(Building.expected_units).where(Building.code == "H1")) == 6


def test_degenerate_parts_and_skip_invalid(areas, runner, write):
    good = box(*H1)["coordinates"][0]
    sliver = [[102.02, 24.02], [102.021, 24.02], [102.02, 24.02]]
    text = fc(({"code": "M1"}, {"type": "MultiPolygon", "coordinates": [[good], [sliver]]}),
              ({"code": "L1"}, {"type": "LineString", "coordinates": [[102.03, 24.03],
                                                                      [102.031, 24.03]]}),
              ({"code": "M2"}, box(*H2)))
    r = runner.invoke(args=["buildings", "import", write(text)])
    assert r.exit_code == 1
    assert "row 2 (code 'L1'): a LineString is not a building" in r.output
    assert "import with --skip-invalid to leave out" in r.output and "skip_invalid" not in r.output
    assert _count(Building) == 0
    r = runner.invoke(args=["buildings", "import", write(text), "--skip-invalid"])
    assert r.exit_code == 0, r.output
    assert "2 created" in r.output
    assert "1 repaired: row 1 M1 (left out 1 degenerate ring(s) (fewer than four points))" in (
        r.output)
    assert "1 skipped (geometry beyond repair): row 2 L1 (a LineString is not a building" in (
        r.output)
    assert sorted(_streets()) == ["M1", "M2"]


# --- CLI messages name CLI flags -----------------------------------------------------------------


def test_cli_errors_name_flags_not_parameters(areas, runner, write):
    dup = fc(({"code": "D1"}, box(*H1)), ({"code": "D1"}, box(*H2)))
    r = runner.invoke(args=["buildings", "import", write(dup)])
    assert "import with --skip-duplicates to keep only the first of each" in r.output
    assert "skip_duplicates" not in r.output
    r = runner.invoke(args=["buildings", "import", write(dup), "--street-field", "rd"])
    assert "--street-field 'rd' is not a column of the layer" in r.output
    no_level = AREAS.replace('"level"', '"kind"')
    r = runner.invoke(args=["areas", "import", write(no_level, "a.geojson")])
    assert "give --level street (or village, township)" in r.output
    assert "level_field" not in r.output and "level=" not in r.output


@pytest.mark.parametrize(
    ("gis_says", "cli_says"),
    [
        ("(3 duplicate(s) in all; import with skip_duplicates to keep only the first of each)",
         "(3 duplicate(s) in all; import with --skip-duplicates to keep only the first of each)"),
        ("give the CRS (for example crs='EPSG:32648')", "give the CRS (for example --crs "
                                                       "EPSG:32648)"),
        ("choose one with layer=<name without .shp>", "choose one with --layer <name without "
                                                      ".shp>"),
        ("2 layers (a, b); choose one with layer=", "2 layers (a, b); choose one with --layer "
                                                   "NAME"),
        ("not UTF-8 or GB18030 text; give encoding=", "not UTF-8 or GB18030 text; give "
                                                      "--encoding NAME"),
        ("code_field='id' is not a column", "--code-field 'id' is not a column"),
        ("the layer has a 'code' column but code_field was not given",
         "the layer has a 'code' column but --code-field was not given"),
        ("street 'X' ('street') is not a known street", "street 'X' ('street') is not a known "
                                                        "street"),
    ],
)
def test_cli_message_table(gis_says, cli_says):
    assert cli_message(gis_says) == cli_says


# --- the page ------------------------------------------------------------------------------------


def _post(client, data: dict, file: str | None = None, lang: str = "en"):
    if file is not None:
        data = {**data, "file": (io.BytesIO(file.encode()), "b.geojson")}
    return client.post(f"/imports/?lang={lang}", data=data, content_type="multipart/form-data")


def _held(page: str) -> str:
    start = page.index('name="held" value="') + len('name="held" value="')
    return page[start : page.index('"', start)]


@pytest.mark.parametrize(("choice", "streets"), [
    ({"streets": "create", "village": "Z01"}, {"N1": "Z01-01", "N2": "Z01-09", "N3": "Z01-10"}),
    ({"streets": "boundary"}, {"N1": "Z01-01", "N2": "Z01-02", "N3": "Z01-02"}),
])
def test_page_offers_the_two_ways_on_without_a_second_upload(areas, client, login, choice,
                                                              streets):
    login("supervisor", areas=["Z"])
    r = _post(client, {"kind": "buildings", "skip_invalid": "1"}, NEW_STREETS)
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="unknown-streets"' in page
    assert "<code>Z01-09</code>" in page and "<code>Z01-10</code>" in page
    assert 'id="create-streets"' in page and '<option value="Z01">' in page
    assert 'id="streets-by-boundary"' in page
    assert '<input type="hidden" name="skip_invalid" value="1">' in page  # the choice is kept
    assert _count(Building) == 0
    held = _held(page)
    r = _post(client, {"kind": "buildings", "held": held, **choice})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "3 created" in r.get_data(as_text=True)
    assert _streets() == streets
    r = _post(client, {"kind": "buildings", "held": held, **choice})  # used once, then gone
    assert r.status_code == 400 and "no longer kept" in r.get_data(as_text=True)


def test_page_refusals_are_clear(areas, client, login):
    login("admin")
    r = _post(client, {"kind": "buildings", "held": "x" * 32, "streets": "boundary"})
    assert r.status_code == 400 and "no longer kept" in r.get_data(as_text=True)
    dup = fc(({"code": "D1"}, box(*H1)), ({"code": "D1"}, box(*H2)))
    r = _post(client, {"kind": "buildings"}, dup)
    text = r.get_data(as_text=True)
    assert r.status_code == 400 and "import with the &#34;Skip duplicates&#34; box" in text
    r = _post(client, {"kind": "buildings"}, dup, lang="zh_CN")
    assert "“跳过重复项”选项" in r.get_data(as_text=True)


def test_page_skip_invalid_and_reimport_report(areas, client, login):
    login("supervisor", areas=["Z"])
    text = fc(({"code": "P1"}, box(*H1)), ({"code": "P2"}, None))
    r = _post(client, {"kind": "buildings", "skip_invalid": "1"}, text)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "1 created" in page
    assert "1 skipped (geometry beyond repair): row 2 P2 (no geometry" in page
    r = _post(client, {"kind": "buildings"}, fc(({"code": "P1"}, box(H1[0], H1[1], 0.0003))))
    assert "0 created, 1 updated" in r.get_data(as_text=True)
    assert "1 updated: P1 (footprint)" in r.get_data(as_text=True)
