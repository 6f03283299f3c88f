"""Import building footprints and area boundaries: read, reproject, repair, check, assign.

Two steps, both pure (no database, no Flask), so the CLI, the upload page and a notebook share
them:

1. ``read_layer(data, filename)`` reads GeoJSON, GeoPackage, a zipped Shapefile or a CSV (WKT
   column, or lon/lat columns) from bytes and returns a GeoDataFrame in EPSG:4326. A layer
   without a CRS gets a ``UserWarning`` and EPSG:4326 only if its coordinates look like lon/lat.
2. ``prepare_buildings(frame, areas)`` / ``prepare_areas(frame)`` check every feature and return
   an ``ImportResult`` whose ``records`` are ready to insert, plus what was repaired, skipped as
   a duplicate or left outside every street. All or nothing: the first feature that cannot be
   imported raises ``GisImportError`` naming it (``row N``, the n-th feature of the layer counted
   from 1, and its code) and why, before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis import _import_geom as geom
from gis._import_read import FORMATS, GisImportError, read_bytes

__all__ = [
    "AREA_LEVELS",
    "FORMATS",
    "GisImportError",
    "ImportResult",
    "prepare_areas",
    "prepare_buildings",
    "read_layer",
]

AREA_LEVELS = ("township", "village", "street")
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
DEFAULT_MAX_FEATURES = 2_000_000
BUILDING_CODE_MAX = 64  # column sizes of server.models.areas
AREA_CODE_MAX = 32
_NAME_MAX = 128
_ADDRESS_MAX = 256


@dataclass(slots=True)
class ImportResult:
    """Rows ready to insert and the report of what was done to get them.

    ``repaired``, ``duplicates`` and ``outside`` hold dicts with ``row`` (1-based) and ``code``.
    """

    records: list[dict]
    repaired: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    outside: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_layer(
    data: bytes,
    filename: str,
    *,
    layer: str | None = None,
    crs: str | int | None = None,
    encoding: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_unzipped_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES,
    max_features: int = DEFAULT_MAX_FEATURES,
) -> gpd.GeoDataFrame:
    """Read one layer from an uploaded file's bytes; the format comes from ``filename``.

    ``crs`` is the CRS to assume when the file has none (CSV, Shapefile without .prj); CSV
    columns named lon/lng/longitude and lat/latitude are WGS 84 by their names. GDAL's own
    warnings land in ``frame.attrs["import_warnings"]`` (copied into the ImportResult).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"data must be bytes, got {type(data).__name__}")
    for name, v in [
        ("max_bytes", max_bytes),
        ("max_unzipped_bytes", max_unzipped_bytes),
        ("max_features", max_features),
    ]:
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    frame, implied, notes = read_bytes(
        bytes(data),
        filename,
        layer=layer,
        encoding=encoding,
        max_bytes=max_bytes,
        max_unzipped_bytes=max_unzipped_bytes,
        max_features=max_features,
    )
    if len(frame) == 0:
        raise GisImportError(f"{filename}: the layer has no features")
    frame = frame.reset_index(drop=True)
    if frame.crs is None and (crs is not None or implied is not None):
        frame = frame.set_crs(crs if crs is not None else implied)
    frame = geom.to_wgs84(frame, filename)
    frame.attrs["import_warnings"] = notes
    return frame


def prepare_buildings(
    frame: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame | None = None,
    *,
    code_field: str | None = None,
    units_field: str | None = None,
    address_field: str | None = None,
    floors_field: str | None = None,
    street_field: str | None = None,
    existing_codes: Collection[str] = (),
    skip_duplicates: bool = False,
    iou_threshold: float = 0.9,
    code_prefix: str = "B",
) -> ImportResult:
    """Check building footprints (polygons, or points) and assign each to a street.

    ``areas``: street boundaries (columns ``code`` and geometry; rows whose ``level`` is not
    "street" are ignored when there is a ``level`` column). A building goes to the street holding
    its representative point; ``street_field`` values, where present, win (and must be known
    streets when ``areas`` is given). Without ``code_field`` codes are generated,
    ``<street>-001`` upwards (``<code_prefix>00001`` outside every street), after the highest
    number already in ``existing_codes``, in row order, so the same input gives the same codes.
    Duplicates (same code, a code in ``existing_codes``, footprints with IoU > ``iou_threshold``,
    points within 1 m or inside another footprint) fail the import unless ``skip_duplicates``,
    which keeps the first of each and reports the rest.
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    frame, notes = _frame(frame, "buildings")
    for name in ("units_field", "address_field", "floors_field", "street_field"):
        _column(frame, locals()[name], name)
    codes = _codes(frame, code_field, BUILDING_CODE_MAX)
    label = _labeller(codes)
    shapes, repaired = geom.clean(_geoms(frame), label, allow_points=True, what="a building")
    units = _ints(frame, units_field, label)
    floors = _ints(frame, floors_field, label)
    address = _texts(frame, address_field, label, _ADDRESS_MAX)
    points = np.where(shapely.get_type_id(shapes) == 0, shapes, shapely.point_on_surface(shapes))

    duplicates = _duplicates(codes, shapes, iou_threshold, set(existing_codes))
    skip = {d["row"] - 1 for d in duplicates}
    if duplicates and not skip_duplicates:
        d = duplicates[0]
        raise GisImportError(
            f"{label(d['row'] - 1)}: {d['reason']} ({len(duplicates)} duplicate(s) in all; "
            "import with skip_duplicates to keep only the first of each)",
            duplicates,
        )

    streets, outside, street_notes = _streets(frame, areas, street_field, points, shapes, label)
    keep = np.array([i not in skip for i in range(len(shapes))], dtype=bool)
    if codes is None:
        codes = _generate(streets, keep, set(existing_codes), code_prefix)
        notes += [f"codes generated ({code_prefix}…/<street>-NNN)"]
        if "code" in {str(c).lower() for c in frame.columns}:
            notes.append(
                "the layer has a 'code' column but code_field was not given; "
                "codes were generated instead"
            )
    for d in [*repaired, *outside, *duplicates]:
        d["code"] = codes[d["row"] - 1]
    n_points = int((shapely.get_type_id(shapes[keep]) == 0).sum())
    if n_points:
        notes.append(f"{n_points} building(s) are points, not footprints")
    bounds = shapely.bounds(shapes)
    wkb = shapely.to_wkb(shapes)
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    records = [
        {
            "code": codes[i],
            "street_code": streets[i],
            "footprint": wkb[i],
            "minx": float(bounds[i, 0]),
            "miny": float(bounds[i, 1]),
            "maxx": float(bounds[i, 2]),
            "maxy": float(bounds[i, 3]),
            "lon": float(lon[i]),
            "lat": float(lat[i]),
            "address": address[i],
            "expected_units": units[i],
            "floors": floors[i],
            "source": "imported",
        }
        for i in np.flatnonzero(keep)
    ]
    outside = [o for o in outside if keep[o["row"] - 1]]
    if outside:
        notes.append(f"{len(outside)} building(s) outside every street")
    return ImportResult(records, repaired, duplicates, outside, notes + street_notes)


def prepare_areas(
    frame: gpd.GeoDataFrame,
    *,
    code_field: str = "code",
    name_field: str | None = "name",
    name_en_field: str | None = None,
    level_field: str | None = "level",
    parent_field: str | None = "parent",
    level: str | None = None,
    parent: str | None = None,
    known_paths: Mapping[str, str] | None = None,
    skip_duplicates: bool = False,
    iou_threshold: float = 0.9,
) -> ImportResult:
    """Check area boundaries and order them parents first, each with its ``path``.

    ``level`` / ``parent`` give one value for the whole layer instead of a column. A parent must
    be in the layer or in ``known_paths`` (code -> path of areas already stored) and one level up.
    """
    from gis._import_areas import prepare

    if level is not None and level not in AREA_LEVELS:
        raise ValueError(f"level must be one of {AREA_LEVELS}, got {level!r}")
    frame, notes = _frame(frame, "areas")
    for name in ("name_field", "name_en_field"):
        _column(frame, locals()[name], name)
    codes = _codes(frame, code_field, AREA_CODE_MAX)
    label = _labeller(codes)
    shapes, repaired = geom.clean(_geoms(frame), label, allow_points=False, what="an area")
    for d in repaired:
        d["code"] = codes[d["row"] - 1]
    return prepare(
        frame,
        codes,
        shapes,
        label,
        repaired,
        notes,
        names=(
            _texts(frame, name_field, label, _NAME_MAX)
            if name_field in frame.columns
            else [""] * len(frame)
        ),
        names_en=_texts(frame, name_en_field, label, _NAME_MAX),
        levels=_level_values(frame, level_field, level, label),
        parents=(
            _texts(frame, parent_field, label, AREA_CODE_MAX)
            if parent is None and parent_field in frame.columns
            else [parent] * len(frame)
        ),
        known_paths=dict(known_paths or {}),
        skip_duplicates=skip_duplicates,
        iou_threshold=iou_threshold,
    )


# --- shared helpers ---------------------------------------------------------------------------


def _frame(frame, what: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ValueError(f"frame must be a GeoDataFrame, got {type(frame).__name__}")
    if len(frame) == 0:
        raise GisImportError(f"{what}: the layer has no features")
    notes = list(frame.attrs.get("import_warnings", []))
    frame = geom.to_wgs84(frame.reset_index(drop=True), what, warn_reproject=True)
    return frame, notes


def _column(frame, name: str | None, arg: str) -> None:
    if name is not None and name not in frame.columns:
        cols = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
        raise GisImportError(f"{arg}={name!r} is not a column of the layer; columns: {cols}")


def _geoms(frame) -> np.ndarray:
    return np.asarray(frame.geometry.values, dtype=object)


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or str(v).strip() == ""


def _codes(frame, code_field: str | None, max_len: int) -> list[str] | None:
    if code_field is None:
        return None
    _column(frame, code_field, "code_field")
    out = []
    for i, v in enumerate(frame[code_field].tolist()):
        if isinstance(v, float) and v.is_integer():
            v = int(v)  # a numeric code column read as floats
        if _blank(v):
            raise GisImportError(f"row {i + 1}: empty code in column {code_field!r}")
        code = str(v).strip()
        if len(code) > max_len or "/" in code:
            raise GisImportError(
                f"row {i + 1} (code {code!r}): a code must be at most "
                f"{max_len} characters without '/'"
            )
        out.append(code)
    return out


def _labeller(codes: list[str] | None):
    if codes is None:
        return lambda i: f"row {i + 1}"
    return lambda i: f"row {i + 1} (code {codes[i]!r})"


def _ints(frame, name: str | None, label) -> list[int | None]:
    if name is None:
        return [None] * len(frame)
    out: list[int | None] = []
    for i, v in enumerate(frame[name].tolist()):
        if _blank(v):
            out.append(None)
            continue
        try:
            f = float(str(v).strip())
        except ValueError:
            f = -1.0
        if not (f.is_integer() and 0 <= f < 100_000):
            raise GisImportError(f"{label(i)}: {name!r} must be a whole number >= 0, got {v!r}")
        out.append(int(f))
    return out


def _texts(frame, name: str | None, label, max_len: int) -> list[str]:
    if name is None:
        return [""] * len(frame)
    out = ["" if _blank(v) else str(v).strip() for v in frame[name].tolist()]
    for i, v in enumerate(out):
        if len(v) > max_len:
            raise GisImportError(f"{label(i)}: {name!r} is longer than {max_len} characters")
    return out


def _level_values(frame, level_field, level, label) -> list[str]:
    if level is not None:
        return [level] * len(frame)
    if level_field is None or level_field not in frame.columns:
        raise GisImportError(
            f"no level: the layer has no column {level_field!r}; give "
            "level_field or level='street' (or village, township)"
        )
    out = _texts(frame, level_field, label, 16)
    for i, v in enumerate(out):
        if v.lower() not in AREA_LEVELS:
            raise GisImportError(f"{label(i)}: level {v!r} is not one of {', '.join(AREA_LEVELS)}")
    return [v.lower() for v in out]


def _duplicates(codes, shapes, threshold: float, existing: set[str]) -> list[dict]:
    found: dict[int, dict] = {}
    if codes is not None:
        first: dict[str, int] = {}
        for i, c in enumerate(codes):
            if c in existing:
                found.setdefault(
                    i, {"row": i + 1, "kind": "existing", "reason": f"code {c!r} is already in use"}
                )
            elif c in first:
                j = first[c]
                found.setdefault(
                    i,
                    {
                        "row": i + 1,
                        "kind": "code",
                        "of_row": j + 1,
                        "reason": f"same code as row {j + 1}",
                    },
                )
            else:
                first[c] = i
    for j, i, kind, iou in geom.footprint_duplicates(shapes, threshold):
        what = {
            "footprint": f"footprint overlaps row {j + 1}'s by IoU {iou:.2f}",
            "point": f"point within 1 m of row {j + 1}'s",
            "point_in_footprint": f"point and footprint of row {j + 1} coincide",
        }[kind]
        found.setdefault(
            i, {"row": i + 1, "kind": kind, "of_row": j + 1, "iou": iou, "reason": what}
        )
    return [found[i] for i in sorted(found)]


def _streets(frame, areas, street_field, points, shapes, label):
    n = len(points)
    given = _texts(frame, street_field, label, AREA_CODE_MAX)
    if areas is None:
        return (
            [v or None for v in given],
            [],
            (
                []
                if street_field
                else ["no street boundaries given: buildings not assigned to streets"]
            ),
        )
    if not isinstance(areas, gpd.GeoDataFrame) or "code" not in areas.columns:
        raise ValueError("areas must be a GeoDataFrame with a 'code' column and boundaries")
    if "level" in areas.columns:
        areas = areas[areas["level"] == "street"]
    areas = areas[areas.geometry.notna() & ~areas.geometry.is_empty]
    areas = geom.to_wgs84(areas.reset_index(drop=True), "areas", warn_reproject=True)
    known = set(areas["code"].astype(str))
    for i, v in enumerate(given):
        if v and v not in known:
            raise GisImportError(
                f"{label(i)}: street {v!r} ({street_field!r}) is not a known street"
            )
    joined = geom.assign(points, shapes, areas)
    streets = [given[i] or joined[i] for i in range(n)]
    outside = [
        {
            "row": i + 1,
            "lon": float(shapely.get_x(points[i])),
            "lat": float(shapely.get_y(points[i])),
        }
        for i in range(n)
        if streets[i] is None
    ]
    return streets, outside, []


def _generate(streets, keep, existing: set[str], prefix: str) -> list[str]:
    """``<street>-NNN`` numbered after the highest existing number of that street."""
    pattern = re.compile(r"^(.*?)-?(\d+)$")
    top: dict[str, int] = {}
    for c in existing:
        if m := pattern.match(c):
            top[m.group(1)] = max(top.get(m.group(1), 0), int(m.group(2)))
    out = []
    for i, street in enumerate(streets):
        if not keep[i]:  # a skipped duplicate gets no code
            out.append(None)
            continue
        stem = street if street else prefix
        top[stem] = n = top.get(stem, 0) + 1
        out.append(f"{street}-{n:03d}" if street else f"{prefix}{n:05d}")
    return out
