"""Exports of coverage: unvisited buildings (CSV, XLSX, GeoJSON, GeoPackage), walk lists, PNG
maps."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
from pathlib import Path

import numpy as np
import shapely

from gis.render import render_png, render_raster_png
from gis.walklist import route_order
from server.extensions import db
from server.services import audit, spreadsheets, versions
from server.services.coverage import query as coverage_query
from server.services.coverage import source
from server.services.coverage.query import Filters

FORMATS = ("csv", "xlsx", "geojson", "gpkg")
COLUMNS = ("code", "street", "address", "expected_units", "state", "visits", "lon", "lat")
MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}


def _records(rows) -> list[dict]:
    return [
        {
            "id": b.id,
            "code": b.code,
            "street": street,
            "address": b.address,
            "expected_units": b.expected_units,
            "state": state,
            "visits": visits or 0,
            "lon": round(b.lon, 7),
            "lat": round(b.lat, 7),
            "_shape": b.footprint,
        }
        for b, street, state, visits, _units in rows
    ]


def unvisited(f: Filters) -> list[dict]:
    """Unvisited buildings under the filters, in walking order per street."""
    f = f.with_state("unvisited")
    return walk_order(_records(coverage_query.buildings(f)))


def export_unvisited(f: Filters, fmt: str, title: str = "") -> bytes:
    """The unvisited buildings under the filters in one format; audited like every export."""
    records = unvisited(f)
    data = render(records, fmt, title=title)
    audit.record("coverage.export", object_type="round", object_id=f.round.id, format=fmt,
                 count=len(records), title=title)
    db.session.commit()
    return data


def walk_order(records: list[dict]) -> list[dict]:
    """Group by street (in code order) and order each street along a short route."""
    out: list[dict] = []
    streets: dict[str | None, list[dict]] = {}
    for r in records:
        streets.setdefault(r["street"], []).append(r)
    for street in sorted(streets, key=lambda s: (s is None, s or "")):
        group = streets[street]
        order = route_order(
            np.array([r["lon"] for r in group]), np.array([r["lat"] for r in group])
        )
        out.extend(group[i] for i in order.tolist())
    for n, r in enumerate(out, 1):
        r["order"] = n
    return out


def render(records: list[dict], fmt: str, title: str = "") -> bytes:
    if fmt == "csv":
        return spreadsheets.csv_bytes(
            ("order", *COLUMNS), ([r["order"], *(r[c] for c in COLUMNS)] for r in records))
    if fmt == "xlsx":
        import xlsxwriter  # only spreadsheet exports pay for it, not every server start

        out = io.BytesIO()
        book = xlsxwriter.Workbook(out, {"in_memory": True})
        sheet = book.add_worksheet(_sheet_name(title))
        bold = book.add_format({"bold": True})
        spreadsheets.write_xlsx_row(sheet, 0, ("order", *COLUMNS), bold)
        for i, r in enumerate(records, 1):
            spreadsheets.write_xlsx_row(sheet, i, [r["order"], *(r[c] for c in COLUMNS)])
        sheet.freeze_panes(1, 0)
        book.close()
        return out.getvalue()
    if fmt == "geojson":
        features = [
            {
                "type": "Feature",
                "id": r["id"],
                "geometry": json.loads(shapely.to_geojson(shapely.from_wkb(r["_shape"]))),
                "properties": {"order": r["order"], **{c: r[c] for c in COLUMNS}},
            }
            for r in records
        ]
        return json.dumps(
            {"type": "FeatureCollection", "features": features}, ensure_ascii=False
        ).encode("utf-8")
    if fmt == "gpkg":
        return _geopackage(records, _sheet_name(title))
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def _geopackage(records: list[dict], layer: str) -> bytes:
    """The footprints and their columns as one GeoPackage layer in WGS 84 (QGIS, ArcGIS)."""
    import geopandas  # only this export pays for pandas, not every server start

    frame = geopandas.GeoDataFrame(
        {"order": [r["order"] for r in records],
         **{c: [r[c] for r in records] for c in COLUMNS}},
        geometry=geopandas.GeoSeries.from_wkb([r["_shape"] for r in records], crs="EPSG:4326"),
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "coverage.gpkg"
        frame.to_file(path, driver="GPKG", layer=layer, engine="pyogrio")
        return path.read_bytes()


def _sheet_name(title: str) -> str:
    """xlsxwriter refuses []:*?/\\ in a sheet's name, a leading or trailing ' and more than 31
    characters; the title is a street code or a coordinator's name."""
    return re.sub(r"[\[\]:*?/\\]", "-", title).strip("'")[:31] or "unvisited"


#: A map of more buildings than this is drawn from their boxes in one array (render_raster_png)
#: instead of a polygon each: at a township's scale a footprint is a pixel or two.
MAP_POLYGONS = 2000


#: Large maps drawn, per process: a meeting report shows the same map until a state changes.
_RASTERS: versions.Kept[bytes] = versions.Kept(8)


def png(f: Filters, title: str, labels: dict[str, str]) -> bytes:
    """The coverage map of the buildings under the filters, states as they are now."""
    if f.state is None and f.compare is None and (f.streets is None) == (f.street_ids is None):
        shared = source.shared()  # the states: this process's array, patched from the feed
        src, selection = shared.source, shared.selection(f.street_ids)
        keep = slice(None) if selection is None else selection.positions
        count = len(src.ids) if selection is None else len(keep)
        if count > MAP_POLYGONS:
            codes = source.states(f.round.id)[0][keep]
            drawn = (f.round.id, f.street_ids, title, tuple(sorted(labels.items())))
            state = (shared.signature, hashlib.blake2b(codes.tobytes()).digest())
            return _RASTERS.get(drawn, state, lambda: render_raster_png(
                (src.minx[keep], src.miny[keep], src.maxx[keep], src.maxy[keep]), codes,
                title, labels))
    rows = coverage_query.buildings(f, footprints=True)
    shapes = shapely.from_wkb([wkb for wkb, *_ in rows])
    return render_png(shapes, [state for _b, _s, state, _v, _u in rows], title, labels)
