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
   from 1, and its code) and why, before anything is written; ``skip_duplicates`` and
   ``skip_invalid`` leave such features out instead and report them.

The work is bounded (``gis.limits``): ``read_layer`` refuses a layer with too many
features, or too many vertices in one geometry or in all, before any repair; the prepare
functions stop a repair that outlasts ``repair_budget_s``.
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from gis._import_result import AREA_LEVELS, FORMATS, GisImportError, ImportResult
from gis.limits import (
    DEFAULT_MAX_FEATURES,
    DEFAULT_MAX_VERTICES,
    DEFAULT_MAX_VERTICES_PER_FEATURE,
    check_vertices,
)

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "AREA_LEVELS",
    "DEFAULT_MAX_FEATURES",
    "DEFAULT_MAX_VERTICES",
    "DEFAULT_MAX_VERTICES_PER_FEATURE",
    "FORMATS",
    "GisImportError",
    "ImportResult",
    "column_values",
    "prepare_areas",
    "prepare_buildings",
    "read_layer",
]

DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # a 1,000,000-building GeoPackage is ~230 MB
DEFAULT_MAX_UNZIPPED_BYTES = 2 * 1024 * 1024 * 1024
BUILDING_CODE_MAX = 64  # column sizes of server.models.areas
AREA_CODE_MAX = 32
_NAME_MAX = 128
_ADDRESS_MAX = 256


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: a million new rows otherwise trigger full collections
    over every object again and again (measured: 400k buildings 10 s -> 4 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@paused_gc()
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
    max_vertices_per_feature: int = DEFAULT_MAX_VERTICES_PER_FEATURE,
    max_vertices: int = DEFAULT_MAX_VERTICES,
) -> gpd.GeoDataFrame:
    """Read one layer from an uploaded file's bytes; the format comes from ``filename``.

    ``crs`` is the CRS to assume when the file has none (CSV, Shapefile without .prj); CSV
    columns named lon/lng/longitude and lat/latitude are WGS 84 by their names. GDAL's own
    warnings land in ``frame.attrs["import_warnings"]`` (copied into the ImportResult).
    Vertices are counted as read, before any reprojection or repair: a geometry over
    ``max_vertices_per_feature`` or a layer over ``max_vertices`` is refused, naming the limit.
    """
    # local: the helpers need geopandas and GDAL (over a second to import); the server imports
    # this module at start-up and pays for them only with the first file (see tests/test_cli.py)
    from gis import _import_geom as geom
    from gis._import_fields import geometries, layer_labeller
    from gis._import_read import read_bytes

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"data must be bytes, got {type(data).__name__}")
    for name, v in [
        ("max_bytes", max_bytes),
        ("max_unzipped_bytes", max_unzipped_bytes),
        ("max_features", max_features),
        ("max_vertices_per_feature", max_vertices_per_feature),
        ("max_vertices", max_vertices),
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
    unreadable = dict(frame.attrs.get("unreadable", {}))
    frame = frame.reset_index(drop=True)
    check_vertices(geometries(frame), layer_labeller(frame, filename),
                   per_feature=max_vertices_per_feature, total=max_vertices)
    if frame.geometry.isna().all():
        if unreadable:
            row, reason = min(unreadable.items())
            raise GisImportError(f"{filename}: row {row + 1}: {reason}")
        raise GisImportError(f"{filename}: no feature has a geometry")
    if frame.crs is None and (crs is not None or implied is not None):
        frame = frame.set_crs(crs if crs is not None else implied)
    frame = geom.to_wgs84(frame, filename)
    frame.attrs["import_warnings"] = notes
    frame.attrs["unreadable"] = unreadable
    return frame


@paused_gc()
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
    existing: gpd.GeoDataFrame | None = None,
    skip_duplicates: bool = False,
    skip_invalid: bool = False,
    known_streets: Collection[str] | None = None,
    iou_threshold: float = 0.9,
    code_prefix: str = "B",
    repair_budget_s: float | None = None,
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
    which keeps the first of each and reports the rest. ``existing`` (stored buildings: ``code``
    and footprints) is checked too, so uploading the same file twice cannot double a street.
    ``known_streets``: the codes a ``street_field`` value may name (default: those of ``areas``).
    A geometry that cannot be repaired (none, unreadable, not a polygon or point, invalid beyond
    repair) fails the import unless ``skip_invalid``, which leaves it out and reports it in
    ``skipped``; a multipolygon loses its rings of fewer than four points when the rest is
    valid (reported in ``repaired``). A repair that takes longer than ``repair_budget_s``
    seconds is stopped: that geometry is beyond repair (process-wide, see
    ``gis.limits``: only where nothing else runs GEOS meanwhile).
    """
    # local: geopandas only when used (see read_layer)
    from gis import _import_buildings
    from gis import _import_fields as fields
    from gis import _import_geom as geom

    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    unreadable = dict(getattr(frame, "attrs", {}).get("unreadable", {}))
    frame, notes = fields.frame_in_wgs84(frame, "buildings")
    optional = {
        "units_field": units_field,
        "address_field": address_field,
        "floors_field": floors_field,
        "street_field": street_field,
    }
    for arg, column in optional.items():
        fields.check_column(frame, column, arg)
    codes = fields.codes(frame, code_field, BUILDING_CODE_MAX)
    label = fields.labeller(codes)
    shapes, repaired, skipped = geom.clean(
        fields.geometries(frame), label, allow_points=True, what="a building",
        skip_invalid=skip_invalid, skippable=True, unreadable=unreadable,
        repair_budget_s=repair_budget_s,
    )
    columns = {
        "expected_units": fields.ints(frame, units_field, label),
        "floors": fields.ints(frame, floors_field, label),
        "address": fields.texts(frame, address_field, label, _ADDRESS_MAX),
        "street": fields.texts(frame, street_field, label, AREA_CODE_MAX),
    }
    if code_field is None and "code" in {str(c).lower() for c in frame.columns}:
        notes.append(
            "the layer has a 'code' column but code_field was not given; "
            "codes were generated instead"
        )
    return _import_buildings.prepare(
        codes,
        shapes,
        label,
        columns,
        repaired,
        notes,
        areas=areas,
        street_field=street_field,
        existing_codes=set(existing_codes),
        existing=existing,
        skip_duplicates=skip_duplicates,
        skipped=skipped,
        known_streets=None if known_streets is None else set(known_streets),
        iou_threshold=iou_threshold,
        code_prefix=code_prefix,
    )


def column_values(frame: gpd.GeoDataFrame, column: str) -> list[str]:
    """The distinct non-empty values of a column, as the import reads them (stripped text,
    whole numbers without ".0"), sorted: what a street column names, before any check."""
    # local: geopandas only when used (see read_layer)
    from gis import _import_fields as fields

    fields.check_column(frame, column, "street_field")
    return sorted(set(fields.texts(frame, column, fields.labeller(None), 10**6)) - {""})


@paused_gc()
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
    repair_budget_s: float | None = None,
) -> ImportResult:
    """Check area boundaries and order them parents first, each with its ``path``.

    ``level`` / ``parent`` give one value for the whole layer instead of a column. A parent must
    be in the layer or in ``known_paths`` (code -> path of areas already stored) and one level up.
    A boundary whose repair outlasts ``repair_budget_s`` refuses the import (as for buildings).
    """
    # local: geopandas only when used (see read_layer)
    from gis import _import_areas
    from gis import _import_fields as fields
    from gis import _import_geom as geom

    if level is not None and level not in AREA_LEVELS:
        raise ValueError(f"level must be one of {AREA_LEVELS}, got {level!r}")
    frame, notes = fields.frame_in_wgs84(frame, "areas")
    fields.check_column(frame, name_field, "name_field")
    fields.check_column(frame, name_en_field, "name_en_field")
    codes = fields.codes(frame, code_field, AREA_CODE_MAX, slash=False)
    label = fields.labeller(codes)
    shapes, repaired, _ = geom.clean(
        fields.geometries(frame), label, allow_points=False, what="an area",
        repair_budget_s=repair_budget_s,
    )
    for d in repaired:
        d["code"] = codes[d["row"] - 1]
    return _import_areas.prepare(
        frame,
        codes,
        shapes,
        label,
        repaired,
        notes,
        names=(
            fields.texts(frame, name_field, label, _NAME_MAX)
            if name_field in frame.columns
            else [""] * len(frame)
        ),
        names_en=fields.texts(frame, name_en_field, label, _NAME_MAX),
        levels=fields.levels(frame, level_field, level, label),
        parents=(
            fields.texts(frame, parent_field, label, AREA_CODE_MAX)
            if parent is None and parent_field in frame.columns
            else [parent] * len(frame)
        ),
        known_paths=dict(known_paths or {}),
        skip_duplicates=skip_duplicates,
        iou_threshold=iou_threshold,
    )
