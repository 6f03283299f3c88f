"""Imports stay inside the importing user's areas (issue 14, finding 13): a supervisor's file
with a building on another area's street, or an area outside theirs, imports nothing (403 with
the features named); admins and the command line import everywhere."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Building, Role
from server.services import imports


def _box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _fc(features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": g} for p, g in features]}).encode()


TOWN = _fc([
    ({"code": "Z", "name": "新乡", "level": "township", "parent": None},
     _box(102.0, 24.0, 102.1, 24.1)),
    ({"code": "Z01", "name": "一村", "level": "village", "parent": "Z"},
     _box(102.0, 24.0, 102.05, 24.1)),
    ({"code": "Z01-01", "name": "一组", "level": "street", "parent": "Z01"},
     _box(102.0, 24.0, 102.05, 24.05)),
    ({"code": "Z01-02", "name": "二组", "level": "street", "parent": "Z01"},
     _box(102.0, 24.05, 102.05, 24.1)),
])
# A building on each street (by boundary), and one with a street column naming Z01-02.
MIXED = b"code,lon,lat\nM1,102.01,24.01\nM2,102.01,24.06\n"
MINE = b"code,lon,lat\nM1,102.01,24.01\nM3,102.02,24.02\n"
NAMED = b"code,lon,lat,street\nN1,102.01,24.01,Z01-02\n"
NEW_STREET = _fc([({"code": "Z01-03", "name": "三组", "level": "street", "parent": "Z01"},
                   _box(102.05, 24.0, 102.06, 24.01))])
NEW_VILLAGE = _fc([({"code": "Z02", "name": "二村", "level": "village", "parent": "Z"},
                    _box(102.05, 24.05, 102.1, 24.1))])
BOTH = json.dumps({"type": "FeatureCollection", "features": [
    *json.loads(NEW_STREET)["features"], *json.loads(NEW_VILLAGE)["features"]]}).encode()


@pytest.fixture
def town(app):
    imports.import_areas(TOWN, "town.geojson")


def _upload(client, kind: str, data: bytes, name: str):
    return client.post("/imports/?lang=en", data={"kind": kind, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _codes() -> set[str]:
    return set(db.session.scalars(sa.select(Building.code)))


@pytest.mark.parametrize(
    ("role", "areas", "data", "status", "imported"),
    [
        (Role.SUPERVISOR, ["Z01-01"], MIXED, 403, set()),  # M2 is on Z01-02: nothing
        (Role.SUPERVISOR, ["Z01-01"], NAMED, 403, set()),  # a street column counts the same
        (Role.SUPERVISOR, ["Z01-01"], MINE, 200, {"M1", "M3"}),
        (Role.SUPERVISOR, ["Z01"], MIXED, 200, {"M1", "M2"}),
        (Role.SUPERVISOR, [], MINE, 403, set()),  # no areas: nowhere
        (Role.ADMIN, [], MIXED, 200, {"M1", "M2"}),
    ],
    ids=["other street", "street column", "own street", "village", "no areas", "admin"],
)
def test_buildings_only_on_the_importers_streets(client, login, town, role, areas, data,
                                                 status, imported):
    login(role, areas=areas)
    answer = _upload(client, "buildings", data, "b.csv")
    assert answer.status_code == status, answer.get_data(as_text=True)
    if status == 403:
        page = answer.get_data(as_text=True)
        assert "Nothing was imported" in page and "outside your areas" in page
    assert _codes() == imported


def test_the_refusal_names_the_buildings_in_chinese(client, login, town):
    login(Role.SUPERVISOR, areas=["Z01-01"])
    page = client.post("/imports/", data={"kind": "buildings",
                                          "file": (io.BytesIO(MIXED), "b.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "有 1 个要素不在您负责的片区内：M2。" in page


@pytest.mark.parametrize(
    ("areas", "data", "status"),
    [
        (["Z01"], NEW_STREET, 200),  # a new street in their own village
        (["Z01-01"], NEW_STREET, 403),
        (["Z01"], NEW_VILLAGE, 403),
        (["Z01"], BOTH, 403),  # one area outside: nothing, not even the new street
    ],
    ids=["own village", "from a street", "new village", "mixed"],
)
def test_areas_only_inside_the_importers_areas(client, login, town, areas, data, status):
    before = dict(db.session.execute(sa.select(Area.code, Area.boundary)).all())
    login(Role.SUPERVISOR, areas=areas)
    assert _upload(client, "areas", data, "a.geojson").status_code == status
    after = dict(db.session.execute(sa.select(Area.code, Area.boundary)).all())
    assert (after == before) is (status == 403)


def test_the_command_line_imports_everywhere(town):
    report = imports.import_buildings(MIXED, "b.csv")
    assert report.created == 2 and _codes() == {"M1", "M2"}
