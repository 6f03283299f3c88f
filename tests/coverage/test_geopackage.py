"""Coverage as GeoPackage beside CSV/XLSX/GeoJSON: the unvisited footprints read back by
pyogrio (GDAL) with their rows, columns and CRS; the export audited like the others."""

from __future__ import annotations

import csv
import io

import pyogrio
import shapely
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent


def test_unvisited_buildings_as_geopackage(client, login, scenario, tmp_path) -> None:
    login("supervisor", areas=["T"])
    response = client.get("/coverage/unvisited.gpkg")
    assert response.status_code == 200
    assert response.content_type == "application/geopackage+sqlite3"
    assert response.headers["Content-Disposition"].endswith('.gpkg"')
    path = tmp_path / "unvisited.gpkg"
    path.write_bytes(response.data)
    assert [name for name, _kind in pyogrio.list_layers(path)] == ["all"]
    frame = pyogrio.read_dataframe(path)
    assert frame.crs.to_epsg() == 4326
    assert sorted(frame["code"]) == ["B08", "B11", "B14", "B16", "B17"]  # as the CSV says
    csv_codes = [r["code"] for r in csv.DictReader(io.StringIO(
        client.get("/coverage/unvisited.csv").data.decode("utf-8-sig")))]
    assert list(frame["code"]) == csv_codes and list(frame["order"]) == [1, 2, 3, 4, 5]
    assert set(frame.geom_type) == {"Polygon"}
    assert {"street", "address", "state", "visits"} <= set(frame.columns)
    b08 = frame[frame["code"] == "B08"].geometry.iloc[0]
    assert shapely.get_coordinates(b08)[:, 0].min() > 100  # lon/lat, not metres
    one_street = client.get("/coverage/unvisited.gpkg?street=T01-02")
    (tmp_path / "street.gpkg").write_bytes(one_street.data)
    assert len(pyogrio.read_dataframe(tmp_path / "street.gpkg")) == 4
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "coverage.export").order_by(AuditEvent.id)).all()
    assert [(e.detail["format"], e.detail["count"]) for e in events] == [
        ("gpkg", 5), ("csv", 5), ("gpkg", 4)]


def test_an_empty_geopackage_is_still_readable(tmp_path) -> None:
    """Every building visited: a layer with no rows, still in WGS 84 (QGIS opens it)."""
    from server.services.coverage import exports

    (tmp_path / "empty.gpkg").write_bytes(exports.render([], "gpkg", "T01-01"))
    frame = pyogrio.read_dataframe(tmp_path / "empty.gpkg")
    assert len(frame) == 0 and frame.crs.to_epsg() == 4326
    assert [name for name, _kind in pyogrio.list_layers(tmp_path / "empty.gpkg")] == ["T01-01"]
