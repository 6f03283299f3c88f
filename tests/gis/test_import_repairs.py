"""Real extracts: multipolygons with degenerate parts lose those parts; features beyond repair
fail the import, or with skip_invalid are left out and reported; files are small and inline."""

from __future__ import annotations

import json
import re
import struct

import numpy as np
import pyogrio.raw
import pytest
import shapely
from shapely import box

from gis.importing import GisImportError, prepare_buildings, read_layer

X, Y, D = 102.6, 24.6, 0.0001
GOOD = [[X, Y], [X + D, Y], [X + D, Y + D], [X, Y + D], [X, Y]]
SQUARE = box(X, Y, X + D, Y + D)
SLIVER = [[X + 3 * D, Y], [X + 4 * D, Y], [X + 3 * D, Y]]  # a ring a-b-a: three points


def feature(code: str, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": {"code": code}, "geometry": geometry}


def geojson(*features: dict) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def multi(*polygons: list) -> dict:
    return {"type": "MultiPolygon", "coordinates": list(polygons)}


def other(i: int) -> dict:
    """A good footprint i squares east of the first."""
    ring = [[x + (i * 2) * D, y + 2 * D] for x, y in GOOD]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.mark.parametrize(
    ("geometry", "dropped"),
    [
        (multi([GOOD], [SLIVER]), 1),
        (multi([SLIVER], [GOOD]), 1),  # the sliver first
        (multi([GOOD], [SLIVER], [[[X + 5 * D, Y], [X + 6 * D, Y + D], [X + 5 * D, Y]]]), 2),
        ({"type": "Polygon", "coordinates": [GOOD, [[X + D / 4, Y + D / 4],
                                                    [X + D / 2, Y + D / 4],
                                                    [X + D / 4, Y + D / 4]]]}, 1),  # a hole
    ],
    ids=["sliver-after", "sliver-first", "two-slivers", "degenerate-hole"],
)
def test_degenerate_parts_are_dropped_when_the_rest_is_valid(geometry, dropped):
    frame = read_layer(geojson(feature("M1", geometry)), "osm.geojson")
    result = prepare_buildings(frame, code_field="code")
    assert result.repaired == [{
        "row": 1, "code": "M1", "geom_type": "MultiPolygon" if "Multi" in geometry["type"]
        else "Polygon", "reason": f"left out {dropped} degenerate ring(s) (fewer than four points)",
    }]
    kept = shapely.from_wkb(result.records[0]["footprint"])
    assert kept.is_valid and shapely.equals(shapely.union_all(kept), SQUARE)


def _gpkg(tmp_path, wkbs: list[bytes]) -> bytes:
    """A GeoPackage holding WKB as written, even what GEOS cannot build (one-point rings)."""
    path = tmp_path / "office.gpkg"
    pyogrio.raw.write(str(path), np.array(wkbs, dtype=object),
                      [np.array([f"G{i + 1}" for i in range(len(wkbs))], dtype=object)],
                      ["code"], geometry_type="MultiPolygon", crs="EPSG:4326")
    return path.read_bytes()


def _wkb_multipolygon(*polygons: list[list]) -> bytes:
    def ring(points):
        return struct.pack("<I", len(points)) + b"".join(struct.pack("<dd", *p) for p in points)

    def polygon(rings):
        return struct.pack("<BII", 1, 3, len(rings)) + b"".join(ring(r) for r in rings)

    return struct.pack("<BII", 1, 6, len(polygons)) + b"".join(polygon(p) for p in polygons)


def test_a_one_point_part_geos_cannot_build_is_left_out(tmp_path):
    data = _gpkg(tmp_path, [_wkb_multipolygon([GOOD], [[[X + 3 * D, Y]]])])
    frame = read_layer(data, "office.gpkg")
    assert "office.gpkg: row 1: left out 1 degenerate ring(s) (fewer than four points)" in (
        frame.attrs["import_warnings"])
    result = prepare_buildings(frame, code_field="code")
    assert shapely.equals(shapely.from_wkb(result.records[0]["footprint"]), SQUARE)


def test_an_unreadable_feature_fails_or_is_skipped(tmp_path):
    data = _gpkg(tmp_path, [_wkb_multipolygon([GOOD]), _wkb_multipolygon([[[X, Y]]])])
    frame = read_layer(data, "office.gpkg")
    with pytest.raises(GisImportError, match=r"row 2 \(code 'G2'\): unreadable geometry"):
        prepare_buildings(frame, code_field="code")
    result = prepare_buildings(frame, code_field="code", skip_invalid=True)
    assert [r["code"] for r in result.records] == ["G1"]
    assert [(d["row"], d["code"]) for d in result.skipped] == [(2, "G2")]
    assert result.skipped[0]["reason"].startswith("unreadable geometry")


BEYOND_REPAIR = [
    (multi([SLIVER]), r"invalid MultiPolygon \(Too few points"),
    ({"type": "LineString", "coordinates": [[X, Y], [X + D, Y]]}, "a LineString is not a building"),
    (None, r"no geometry \(a building needs a polygon or a point\)"),
]


@pytest.mark.parametrize(("geometry", "reason"), BEYOND_REPAIR, ids=["sliver-only", "line", "none"])
def test_features_beyond_repair_fail_the_file_unless_skipped(geometry, reason):
    data = geojson(feature("A", other(0)), feature("BAD", geometry), feature("C", other(1)))
    frame = read_layer(data, "mixed.geojson")
    with pytest.raises(GisImportError, match=rf"row 2 \(code 'BAD'\): {reason}"):
        prepare_buildings(frame, code_field="code")
    result = prepare_buildings(frame, code_field="code", skip_invalid=True)
    assert [r["code"] for r in result.records] == ["A", "C"]
    (skipped,) = result.skipped
    assert (skipped["row"], skipped["code"]) == (2, "BAD")
    assert re.match(reason, skipped["reason"])


def test_a_skipped_feature_takes_no_code_and_blocks_no_other():
    """Its code is free for a good feature later in the file; generated codes skip it."""
    data = geojson(feature("X", multi([SLIVER])), feature("X", other(0)))
    result = prepare_buildings(read_layer(data, "f.geojson"), code_field="code",
                               skip_invalid=True)
    assert [r["code"] for r in result.records] == ["X"] and result.duplicates == []
    generated = prepare_buildings(read_layer(data, "f.geojson"), skip_invalid=True)
    assert [r["code"] for r in generated.records] == ["B00001"]
    assert generated.skipped[0]["code"] is None
