"""gis.importing: read every supported format from bytes, repair, check, assign to streets."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from shapely import LineString, Point, Polygon, box

from gis.demo import generate_township
from gis.importing import GisImportError, prepare_areas, prepare_buildings, read_layer

LON0, LAT0 = 102.6, 24.6
D = 0.0001  # about 10 m


def square(i: int, size: float = D / 2) -> Polygon:
    x = LON0 + i * D
    return box(x, LAT0, x + size, LAT0 + size)


@pytest.fixture
def small() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["B1", "B2", "B3"], "units": [1, 2, 3], "addr": ["一号", "二号", "三号"]},
        geometry=[square(0), square(2), square(4)],
        crs=4326,
    )


@pytest.fixture(scope="module")
def township():
    return generate_township(seed=7, buildings=60, villages=2)


@pytest.fixture(scope="module")
def streets(township) -> gpd.GeoDataFrame:
    rows = [a for a in township.areas if a.boundary is not None]
    return gpd.GeoDataFrame(
        {"code": [a.code for a in rows], "level": [a.level for a in rows]},
        geometry=[a.boundary for a in rows],
        crs=4326,
    )


def encode(frame: gpd.GeoDataFrame, fmt: str, tmp_path: Path, prj: bool = True):
    """(bytes, filename) of ``frame`` written as ``fmt``."""
    if fmt == "geojson":
        frame.to_file(tmp_path / "l.geojson", driver="GeoJSON")
        return (tmp_path / "l.geojson").read_bytes(), "buildings.geojson"
    if fmt == "gpkg":
        frame.to_file(tmp_path / "l.gpkg", driver="GPKG", layer="buildings")
        return (tmp_path / "l.gpkg").read_bytes(), "buildings.gpkg"
    if fmt == "shp":
        folder = tmp_path / "shp"
        folder.mkdir()
        frame.to_file(folder / "fp.shp", driver="ESRI Shapefile", encoding="UTF-8")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(folder.iterdir()):
                if prj or f.suffix != ".prj":
                    zf.write(f, f"export/2016/{f.name}")  # nested folders are fine
        return buf.getvalue(), "buildings.zip"
    if fmt == "csv_wkt":
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table.insert(0, "WKT", shapely.to_wkt(np.asarray(frame.geometry.values, dtype=object)))
        return table.to_csv(index=False).encode(), "buildings.csv"
    if fmt == "csv_lonlat":
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table["longitude"], table["lat"] = frame.geometry.x, frame.geometry.y
        return table.to_csv(index=False).encode(), "buildings.csv"
    raise AssertionError(fmt)


# --- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "csv_wkt"])
def test_read_polygons_in_every_format(small, fmt, tmp_path):
    data, name = encode(small, fmt, tmp_path)
    frame = read_layer(data, name, crs=4326 if fmt == "csv_wkt" else None)
    assert frame.crs.to_epsg() == 4326
    assert frame["code"].tolist() == ["B1", "B2", "B3"]
    assert frame["addr"].tolist() == ["一号", "二号", "三号"]
    assert [int(u) for u in frame["units"]] == [1, 2, 3]
    for got, want in zip(frame.geometry, small.geometry, strict=True):
        assert shapely.normalize(got).equals_exact(shapely.normalize(want), tolerance=1e-9)


def test_read_csv_lonlat_points_needs_no_crs(small):
    points = small.set_geometry(shapely.centroid(small.geometry.values))
    data, name = encode(points, "csv_lonlat", Path("."))
    frame = read_layer(data, name)  # lon/lat by name: WGS 84, no warning
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.geom_type.tolist() == ["Point"] * 3
    np.testing.assert_allclose(frame.geometry.x, points.geometry.x)
    result = prepare_buildings(frame, code_field="code", units_field="units")
    assert [r["lon"] for r in result.records] == pytest.approx(list(points.geometry.x))
    assert any("3 building(s) are points" in w for w in result.warnings)


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "geojson"])
def test_utm_file_is_reprojected(small, fmt, tmp_path):
    utm = small.to_crs(32648)
    assert utm.total_bounds[0] > 1000  # really metres
    frame = read_layer(*encode(utm, fmt, tmp_path))
    to_lonlat = Transformer.from_crs(32648, 4326, always_xy=True)
    for got, src in zip(frame.geometry, utm.geometry, strict=True):
        want = shapely.transform(src, lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))
        assert shapely.normalize(got).equals_exact(shapely.normalize(want), tolerance=1e-9)
    np.testing.assert_allclose(frame.total_bounds, small.total_bounds, atol=1e-7)


def test_no_crs_lonlat_is_assumed_with_a_warning(small, tmp_path):
    data, name = encode(small, "shp", tmp_path, prj=False)
    with pytest.warns(UserWarning, match=r"buildings\.zip: no coordinate reference system.*4326"):
        frame = read_layer(data, name)
    assert frame.crs.to_epsg() == 4326


def test_no_crs_projected_is_refused_unless_given(small, tmp_path):
    data, name = encode(small.to_crs(32648), "shp", tmp_path, prj=False)
    with pytest.raises(GisImportError, match=r"no coordinate reference system.*not longitude"):
        read_layer(data, name)
    frame = read_layer(data, name, crs="EPSG:32648")
    np.testing.assert_allclose(frame.total_bounds, small.total_bounds, atol=1e-7)


def test_wrong_crs_label_is_caught(small, tmp_path):
    lying = small.to_crs(32648).set_crs(4326, allow_override=True)
    with pytest.raises(GisImportError, match=r"row 1: coordinates .* not valid longitude"):
        read_layer(*encode(lying, "gpkg", tmp_path))


def test_gpkg_with_two_layers_needs_a_choice(small, tmp_path):
    small.to_file(tmp_path / "two.gpkg", layer="a")
    small.iloc[:1].to_file(tmp_path / "two.gpkg", layer="b", mode="a")
    data = (tmp_path / "two.gpkg").read_bytes()
    with pytest.raises(GisImportError, match=r"2 layers with geometry \(a, b\)"):
        read_layer(data, "two.gpkg")
    assert len(read_layer(data, "two.gpkg", layer="b")) == 1
    with pytest.raises(GisImportError, match="no layer 'c'"):
        read_layer(data, "two.gpkg", layer="c")


# --- unreadable input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "match"),
    [
        (b"this is not json", "x.geojson", r"x\.geojson: cannot be read as GeoJSON"),
        (b"SQLite format 3\x00garbage", "x.gpkg", r"x\.gpkg: cannot be read as GeoPackage"),
        (b"PK\x03\x04 broken", "x.zip", r"x\.zip: not a readable zip file"),
        (b"a,b\n1,2\n", "x.csv", r"x\.csv: no geometry column.*columns are a, b"),
        (b"", "x.geojson", "the file is empty"),
        (b"{}", "x.kml", "unsupported file type"),
    ],
)
def test_unreadable_files(data, name, match):
    with pytest.raises(GisImportError, match=match):
        read_layer(data, name)


def test_layer_without_geometry(tmp_path):
    pyogrio.write_dataframe(pd.DataFrame({"code": ["a", "b"]}), tmp_path / "t.gpkg", layer="t")
    with pytest.raises(GisImportError, match=r"t\.gpkg: the layer has no geometry column"):
        read_layer((tmp_path / "t.gpkg").read_bytes(), "t.gpkg")


def test_bad_wkt_names_its_row():
    csv = 'code,wkt\nA,POINT (102.6 24.6)\nB,POINT (102.7 24.6)\nC,"POLYGON ((102.6 24.6, 1"\n'
    with pytest.raises(GisImportError, match=r"row 3 \(line 4\): column 'wkt' is not valid WKT"):
        read_layer(csv.encode(), "b.csv", crs=4326)


def test_bad_number_names_its_row():
    csv = "code,lon,lat\nA,102.6,24.6\nB,east,24.6\n"
    with pytest.raises(GisImportError, match=r"row 2 \(line 3\): column 'lon' is not a number"):
        read_layer(csv.encode(), "b.csv")


def test_csv_in_gb18030(small):
    data, name = encode(small, "csv_wkt", Path("."))
    frame = read_layer(data.decode().encode("gb18030"), name, crs=4326)
    assert frame["addr"].tolist() == ["一号", "二号", "三号"]


def test_zip_bomb_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for ext in (".shp", ".shx", ".dbf"):
            zf.writestr("bomb" + ext, b"\0" * (20 << 20))
    data = buf.getvalue()
    assert len(data) < 100_000
    with pytest.raises(GisImportError, match="zip bomb"):
        read_layer(data, "bomb.zip")


def test_zip_size_limit_counts_real_bytes(small, tmp_path):
    data, name = encode(small, "shp", tmp_path)
    with pytest.raises(GisImportError, match="expands beyond the size limit"):
        read_layer(data, name, max_unzipped_bytes=200)
    with pytest.raises(GisImportError, match="more than the limit of 100 bytes"):
        read_layer(data, name, max_bytes=100)


def test_zip_without_dbf(small, tmp_path):
    data, _ = encode(small, "shp", tmp_path)
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info in src.infolist():
            if not info.filename.endswith(".dbf"):
                zf.writestr(info, src.read(info))
    with pytest.raises(GisImportError, match=r"fp\.shp has no \.dbf file"):
        read_layer(buf.getvalue(), "b.zip")


def test_too_many_features(small, tmp_path):
    with pytest.raises(GisImportError, match=r"3 features \(at most 2\)"):
        read_layer(*encode(small, "gpkg", tmp_path), max_features=2)


# --- buildings ----------------------------------------------------------------------------------


def test_bow_tie_is_repaired_and_reported(small, tmp_path):
    x, y = LON0, LAT0 + 10 * D
    bow = Polygon([(x, y), (x + D, y + D), (x + D, y), (x, y + D)])
    frame = pd.concat([small, gpd.GeoDataFrame({"code": ["BOW"]}, geometry=[bow], crs=4326)])
    frame = read_layer(*encode(frame.reset_index(drop=True), "gpkg", tmp_path))
    assert not frame.geometry.iloc[3].is_valid
    result = prepare_buildings(frame, code_field="code")
    [rep] = result.repaired
    assert rep["row"] == 4 and rep["code"] == "BOW" and "Self-intersection" in rep["reason"]
    fixed = shapely.from_wkb(result.records[3]["footprint"])
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon"
    assert fixed.area == pytest.approx(D * D / 2)


def test_line_building_is_refused_naming_the_feature(small):
    frame = small.copy()
    frame.loc[1, "geometry"] = LineString([(LON0, LAT0), (LON0 + D, LAT0)])
    with pytest.raises(GisImportError, match=r"row 2 \(code 'B2'\): a LineString is not a build"):
        prepare_buildings(frame, code_field="code")


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("geometry", None, r"row 2 \(code 'B2'\): no geometry"),
        ("units", "many", r"row 2 \(code 'B2'\): 'units' must be a whole number"),
        ("units", -1, r"row 2 \(code 'B2'\): 'units' must be a whole number"),
        ("code", " ", r"row 2: empty code in column 'code'"),
    ],
)
def test_bad_values_name_the_feature(small, column, value, match):
    frame = small.astype({"units": object})
    frame.loc[1, column] = value
    with pytest.raises(GisImportError, match=match):
        prepare_buildings(frame, code_field="code", units_field="units")


def test_unknown_field_lists_the_columns(small):
    with pytest.raises(GisImportError, match=r"units_field='hh' is not a column.*code, units"):
        prepare_buildings(small, code_field="code", units_field="hh")


def test_duplicates_fail_unless_skipped(small):
    near = shapely.affinity.translate(square(0), xoff=D / 100)  # IoU ~0.98
    dupes = gpd.GeoDataFrame(
        {"code": ["B4", "B2", "B5"], "units": [1, 1, 1], "addr": ["", "", ""]},
        geometry=[near, square(8), Point(LON0 + 4.2 * D, LAT0 + 0.2 * D)],
        crs=4326,
    )
    frame = pd.concat([small, dupes], ignore_index=True)
    with pytest.raises(
        GisImportError, match=r"row 4 \(code 'B4'\): footprint overlaps row 1 by IoU 0\.9\d"
    ) as refused:
        prepare_buildings(frame, code_field="code")
    assert [p["row"] for p in refused.value.problems] == [4, 5, 6]
    result = prepare_buildings(frame, code_field="code", skip_duplicates=True)
    assert [r["code"] for r in result.records] == ["B1", "B2", "B3"]
    kinds = [(d["row"], d["code"], d["kind"], d.get("of_row")) for d in result.duplicates]
    assert kinds == [
        (4, "B4", "footprint", 1),
        (5, "B2", "code", 2),
        (6, "B5", "point_in_footprint", 3),
    ]
    assert result.duplicates[0]["iou"] > 0.9


def test_neighbours_are_not_duplicates(small):
    touching = shapely.affinity.translate(square(0), xoff=D / 4)  # IoU 1/3
    frame = pd.concat(
        [small, gpd.GeoDataFrame({"code": ["B4"]}, geometry=[touching], crs=4326)],
        ignore_index=True,
    )
    assert prepare_buildings(frame, code_field="code").duplicates == []


def test_existing_codes_are_duplicates(small):
    with pytest.raises(GisImportError, match=r"row 3 \(code 'B3'\): code 'B3' is already in use"):
        prepare_buildings(small, code_field="code", existing_codes={"B3"})


def test_spatial_join_assigns_streets_like_the_generator(township, streets):
    truth = {b.code: b.street_code for b in township.buildings}
    frame = gpd.GeoDataFrame(
        {"code": list(truth)}, geometry=[b.footprint for b in township.buildings], crs=4326
    ).to_crs(32648)
    far = gpd.GeoDataFrame({"code": ["FAR"]}, geometry=[Point(103.5, 25.5)], crs=4326)
    frame = pd.concat([frame, far.to_crs(32648)], ignore_index=True)
    with pytest.warns(UserWarning, match="EPSG:32648.*not EPSG:4326; reprojecting"):
        result = prepare_buildings(frame, streets, code_field="code")
    got = {r["code"]: r["street_code"] for r in result.records}
    assert got == {**truth, "FAR": None}
    assert [(o["row"], o["code"]) for o in result.outside] == [(len(frame), "FAR")]
    assert "1 building(s) outside every street" in result.warnings


def test_generated_codes_are_deterministic(township, streets):
    frame = gpd.GeoDataFrame(geometry=[b.footprint for b in township.buildings[:5]], crs=4326)
    street = township.buildings[0].street_code
    a = prepare_buildings(frame, streets, existing_codes={f"{street}-007", "B00042"})
    b = prepare_buildings(frame, streets, existing_codes={f"{street}-007", "B00042"})
    assert [r["code"] for r in a.records] == [r["code"] for r in b.records]
    assert a.records[0]["code"] == f"{street}-008"
    outside = prepare_buildings(frame, existing_codes={"B00042"})
    assert [r["code"] for r in outside.records][:2] == ["B00043", "B00044"]


def test_street_field_wins_and_is_checked(township, streets):
    frame = gpd.GeoDataFrame(
        {"street": [township.streets[-1].code, ""]},
        geometry=[b.footprint for b in township.buildings[:2]],
        crs=4326,
    )
    result = prepare_buildings(frame, streets, street_field="street")
    assert [r["street_code"] for r in result.records] == [
        township.streets[-1].code,
        township.buildings[1].street_code,
    ]
    frame.loc[0, "street"] = "NOPE"
    with pytest.raises(GisImportError, match=r"row 1: street 'NOPE' \('street'\) is not a known"):
        prepare_buildings(frame, streets, street_field="street")


def test_records_are_ready_to_insert(small):
    result = prepare_buildings(small, code_field="code", units_field="units", address_field="addr")
    r = result.records[1]
    fp = shapely.from_wkb(r["footprint"])
    assert fp.equals(square(2))
    assert (r["minx"], r["miny"], r["maxx"], r["maxy"]) == pytest.approx(fp.bounds)
    assert fp.contains(Point(r["lon"], r["lat"]))
    assert (r["code"], r["address"], r["expected_units"], r["floors"]) == ("B2", "二号", 2, None)


# --- areas --------------------------------------------------------------------------------------


def areas_frame(township) -> gpd.GeoDataFrame:
    rows = township.areas
    return gpd.GeoDataFrame(
        {
            "code": [a.code for a in rows],
            "name": [a.name_zh for a in rows],
            "level": [a.level for a in rows],
            "parent": [a.parent_code for a in rows],
        },
        geometry=[a.boundary for a in rows],
        crs=4326,
    )[::-1].reset_index(drop=True)  # children first: the import must order them


def test_areas_tree_and_paths(township, tmp_path):
    frame = read_layer(*encode(areas_frame(township), "gpkg", tmp_path))
    result = prepare_areas(frame)
    levels = [r["level"] for r in result.records]
    assert levels == sorted(levels, key=["township", "village", "street"].index)
    paths = {r["code"]: r["path"] for r in result.records}
    for a in township.areas:
        assert paths[a.code] == (f"{paths[a.parent_code]}/{a.code}" if a.parent_code else a.code)
    assert result.outside == [] and result.duplicates == []


def test_streets_under_existing_villages(township):
    frame = areas_frame(township)
    streets_only = frame[frame["level"] == "street"]
    known = {a.code: f"XY/{a.code}" for a in township.villages}
    result = prepare_areas(streets_only, known_paths=known)
    assert all(r["path"].startswith("XY/") and r["path"].count("/") == 2 for r in result.records)
    with pytest.raises(GisImportError, match=r"parent '\w+' is neither in the layer nor an exis"):
        prepare_areas(streets_only)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"level": "hamlet"}, r"level 'hamlet' is not one of township, village, street"),
        ({"parent": None}, r"a street needs a parent village"),
        ({"parent": "XY"}, r"the parent of a street must be a village; 'XY' is a township"),
    ],
)
def test_bad_area_rows_are_named(township, change, match):
    frame = areas_frame(township)
    for column, value in change.items():
        frame.loc[0, column] = value
    code = frame.loc[0, "code"]
    with pytest.raises(GisImportError, match=rf"row 1 \(code '{code}'\): {match}"):
        prepare_areas(frame)


# --- odd but real inputs ------------------------------------------------------------------------


def geojson(*rings) -> bytes:
    features = [
        {
            "type": "Feature",
            "properties": {"code": f"R{i + 1}"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        for i, ring in enumerate(rings)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def test_unclosed_ring_is_closed_and_gdal_warning_kept():
    x, y = LON0, LAT0
    frame = read_layer(geojson([[x, y], [x + D, y], [x + D, y + D], [x, y + D]]), "open.geojson")
    assert frame.geometry.iloc[0].equals(box(x, y, x + D, y + D))
    notes = frame.attrs["import_warnings"]
    assert "open.geojson: row 1: ring closed" in notes
    assert any("Non closed ring detected" in n for n in notes)  # GDAL's RuntimeWarning, kept
    result = prepare_buildings(frame, code_field="code")
    assert result.warnings[: len(notes)] == notes


def test_degenerate_ring_fails_naming_the_feature():
    x, y = LON0, LAT0
    square_ring = [[x, y], [x + D, y], [x + D, y + D], [x, y + D], [x, y]]
    frame = read_layer(geojson(square_ring, [[x, y], [x + D, y + D]]), "bad.geojson")
    with pytest.raises(GisImportError, match=r"row 2 \(code 'R2'\): invalid Polygon \(Too few"):
        prepare_buildings(frame, code_field="code")


def test_geometry_collection_keeps_its_polygons(small):
    frame = small.copy()
    frame.loc[2, "geometry"] = shapely.GeometryCollection([square(4), Point(LON0, LAT0 + D)])
    result = prepare_buildings(frame, code_field="code")
    assert result.repaired == [
        {"row": 3, "reason": "kept the polygons of a GeometryCollection", "code": "B3"}
    ]
    assert shapely.from_wkb(result.records[2]["footprint"]).equals(square(4))


@pytest.mark.parametrize("inner", ["gpkg", "geojson", "csv_wkt"])
def test_zip_holding_another_format(small, inner, tmp_path):
    data, name = encode(small, inner, tmp_path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__MACOSX/._" + name, b"junk")
        zf.writestr("data/" + name, data)
    frame = read_layer(buf.getvalue(), "upload.zip", crs=4326 if inner == "csv_wkt" else None)
    assert frame["code"].tolist() == ["B1", "B2", "B3"]


def test_zip_with_two_shapefiles_needs_a_choice(small, tmp_path):
    small.to_file(tmp_path / "a.shp")
    small.iloc[:2].to_file(tmp_path / "b.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(tmp_path.glob("[ab].*")):
            zf.write(f, f.name)
    with pytest.raises(GisImportError, match=r"several Shapefiles \(a\.shp, b\.shp\)"):
        read_layer(buf.getvalue(), "two.zip")
    assert len(read_layer(buf.getvalue(), "two.zip", layer="b")) == 2


def test_area_duplicates_and_children_outside(township):
    frame = areas_frame(township)
    street = frame[frame["level"] == "street"].iloc[0]
    far = shapely.affinity.translate(street.geometry, xoff=1.0)
    extra = gpd.GeoDataFrame(
        [{**street.drop("geometry"), "code": "FAR"}, {**street.drop("geometry")}],
        geometry=[far, street.geometry],
        crs=4326,
    )
    frame = pd.concat([frame, extra], ignore_index=True)
    with pytest.raises(GisImportError, match=rf"row {len(frame)} \(code '{street.code}'\): same"):
        prepare_areas(frame)
    result = prepare_areas(frame, skip_duplicates=True)
    assert [(d["code"], d["kind"]) for d in result.duplicates] == [(street.code, "code")]
    assert result.outside == [{"row": len(frame) - 1, "code": "FAR", "parent": street.parent}]
    assert "1 area(s) lie outside their parent's boundary" in result.warnings


@pytest.mark.parametrize(
    ("lon", "lat", "kwargs"),
    [("经度", "纬度", {}), ("lng", "LAT", {}), ("x", "y", {"crs": "EPSG:32648"})],
)
def test_csv_coordinate_column_names(lon, lat, kwargs):
    to_utm = Transformer.from_crs(4326, 32648, always_xy=True)
    x, y = to_utm.transform(LON0, LAT0) if kwargs else (LON0, LAT0)
    frame = read_layer(f"code,{lon},{lat}\nP1,{x},{y}\nP2,,\n".encode(), "p.csv", **kwargs)
    assert frame.geometry.iloc[0].x == pytest.approx(LON0, abs=1e-9)
    assert frame.geometry.iloc[1] is None  # no coordinates: reported by prepare_buildings
    with pytest.raises(GisImportError, match=r"row 2 \(code 'P2'\): no geometry"):
        prepare_buildings(frame, code_field="code")


def test_csv_xy_in_lonlat_warns():
    with pytest.warns(UserWarning, match="no coordinate reference system"):
        frame = read_layer(f"x,y\n{LON0},{LAT0}\n".encode(), "p.csv")
    assert frame.crs.to_epsg() == 4326


def test_csv_without_any_coordinates():
    with pytest.raises(GisImportError, match=r"p\.csv: no feature has a geometry"):
        read_layer(b"code,lon,lat\nP1,,\n", "p.csv")


def test_uploading_twice_is_caught_against_stored_buildings(small):
    first = prepare_buildings(small)  # generated codes B00001..B00003
    stored = gpd.GeoDataFrame(
        {"code": [r["code"] for r in first.records]},
        geometry=shapely.from_wkb([r["footprint"] for r in first.records]),
        crs=4326,
    )
    with pytest.raises(GisImportError, match=r"row 1: footprint overlaps stored building 'B00001'"):
        prepare_buildings(small, existing=stored)
    again = pd.concat(
        [small, gpd.GeoDataFrame({"code": ["B4"]}, geometry=[square(6)], crs=4326)],
        ignore_index=True,
    )
    result = prepare_buildings(again, existing=stored, skip_duplicates=True)
    assert [r["code"] for r in result.records] == ["B00004"]  # numbered after the stored ones
    assert [(d["row"], d["kind"], d["of_code"]) for d in result.duplicates] == [
        (1, "existing_footprint", "B00001"),
        (2, "existing_footprint", "B00002"),
        (3, "existing_footprint", "B00003"),
    ]


def test_code_rules(small, township):
    frame = small.copy()
    frame.loc[0, "code"] = "12/3"  # fine for a building
    assert prepare_buildings(frame, code_field="code").records[0]["code"] == "12/3"
    frame.loc[0, "code"] = "x" * 65
    with pytest.raises(GisImportError, match=r"row 1 \(code 'x+'\): a code must be at most 64"):
        prepare_buildings(frame, code_field="code")
    areas = areas_frame(township)
    areas.loc[2, "code"] = "A/B"
    with pytest.raises(GisImportError, match=r"row 3 \(code 'A/B'\): .* without '/'"):
        prepare_areas(areas)
