"""Importing areas and buildings: CLI and upload page, all or nothing, repairs and duplicates."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Building
from tests.support.import_files import AREAS
from tests.support.import_files import bbox_polygon as _box
from tests.support.import_files import feature_collection as _fc

BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [
            [102.01, 24.07],
            [102.0101, 24.0701],
            [102.0101, 24.07],
            [102.01, 24.0701],
            [102.01, 24.07],
        ]
    ],
}


@pytest.fixture
def areas_file(tmp_path):
    p = tmp_path / "areas.geojson"
    p.write_text(AREAS)
    return p


def test_cli_imports_areas_then_buildings_by_boundary(app, runner, areas_file, tmp_path) -> None:
    r = runner.invoke(args=["areas", "import", str(areas_file)])
    assert r.exit_code == 0, r.output
    assert "4 created" in r.output
    assert db.session.scalar(sa.select(Area.path).where(Area.code == "Z01-02")) == "Z/Z01/Z01-02"
    b = tmp_path / "b.geojson"
    b.write_text(
        _fc(
            [
                (
                    {"code": "H1", "expected_units": 4, "address": "一组1号"},
                    _box(102.01, 24.01, 102.0101, 24.0101),
                ),
                ({"code": "H2", "expected_units": 2}, BOWTIE),
            ]
        )
    )
    r = runner.invoke(args=["buildings", "import", str(b)])
    assert r.exit_code == 0, r.output
    assert "2 created" in r.output and "1 repaired: row 2 H2" in r.output
    got = dict(
        db.session.execute(
            sa.select(Building.code, Area.code).join(Area, Area.id == Building.street_id)
        ).all()
    )
    assert got == {"H1": "Z01-01", "H2": "Z01-02"}
    units = db.session.scalar(sa.select(Building.expected_units).where(Building.code == "H1"))
    assert units == 4


def test_cli_import_is_all_or_nothing(app, runner, areas_file, tmp_path) -> None:
    runner.invoke(args=["areas", "import", str(areas_file)])
    b = tmp_path / "bad.geojson"
    b.write_text(
        _fc(
            [
                ({"code": "G1"}, _box(102.01, 24.01, 102.0101, 24.0101)),
                (
                    {"code": "G2"},
                    {"type": "LineString", "coordinates": [[102.02, 24.02], [102.03, 24.03]]},
                ),
            ]
        )
    )
    r = runner.invoke(args=["buildings", "import", str(b)])
    assert r.exit_code != 0
    assert "nothing imported" in r.output and "row 2" in r.output and "G2" in r.output
    assert db.session.scalar(sa.select(sa.func.count(Building.id))) == 0


def test_duplicates_fail_unless_skipped(app, runner, areas_file, tmp_path) -> None:
    runner.invoke(args=["areas", "import", str(areas_file)])
    b = tmp_path / "dup.geojson"
    b.write_text(
        _fc(
            [
                ({"code": "D1"}, _box(102.01, 24.01, 102.0101, 24.0101)),
                ({"code": "D2"}, _box(102.01, 24.01, 102.0101, 24.0101)),
                ({"code": "D3"}, _box(102.02, 24.02, 102.0201, 24.0201)),
            ]
        )
    )
    r = runner.invoke(args=["buildings", "import", str(b)])
    assert r.exit_code != 0 and "D2" in r.output
    assert db.session.scalar(sa.select(sa.func.count(Building.id))) == 0
    r = runner.invoke(args=["buildings", "import", str(b), "--skip-duplicates"])
    assert r.exit_code == 0, r.output
    assert "2 created" in r.output and "1 duplicates skipped: row 2 D2" in r.output


def test_upload_page(client, login, app, areas_file) -> None:
    login("admin")  # supervisors import inside their areas: test_import_scope.py
    assert client.get("/imports/").status_code == 200
    r = client.post(
        "/imports/",
        data={"kind": "areas", "file": (io.BytesIO(AREAS.encode()), "a.geojson")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and "4 created" in r.get_data(as_text=True)
    csv_bytes = b"code,lon,lat,units\nP1,102.01,24.01,3\nP2,102.01,24.06,1\n"
    r = client.post(
        "/imports/",
        data={"kind": "buildings", "file": (io.BytesIO(csv_bytes), "p.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Building.id))) == 2
    bad = b"code,lon,lat\nQ1,abc,24.0\n"
    r = client.post(
        "/imports/",
        data={"kind": "buildings", "file": (io.BytesIO(bad), "q.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400
    assert "Nothing was imported" in r.get_data(as_text=True) or "未导入" in r.get_data(
        as_text=True
    )
    assert db.session.scalar(sa.select(sa.func.count(Building.id))) == 2


def test_upload_forbidden_to_coordinators(client, login, app) -> None:
    login("coordinator")
    assert client.get("/imports/").status_code == 403
