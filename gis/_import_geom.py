"""Geometry checks of an import: CRS, repair, duplicates, assignment to streets.

Every function works on whole numpy arrays of shapely geometries; rows are 0-based here and
reported 1-based (the n-th feature of the layer) through ``label``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import geopandas as gpd
import numpy as np
import shapely

from gis._import_result import GisImportError
from gis._import_rings import drop_degenerate
from gis.limits import BudgetExceeded, time_budget

Label = Callable[[int], str]
_POLYGONAL = ("Polygon", "MultiPolygon")
_POINT_DUPLICATE_M = 1.0  # two building points closer than this are one building
_M_PER_DEG = 111_320.0


def looks_like_lonlat(bounds: Sequence[float]) -> bool:
    minx, miny, maxx, maxy = bounds
    return (
        all(map(math.isfinite, bounds))
        and -180 <= minx <= maxx <= 180
        and (-90 <= miny <= maxy <= 90)
    )


def to_wgs84(frame: gpd.GeoDataFrame, what: str, assume=None, *, warn_reproject=False):
    """Return ``frame`` in EPSG:4326; a missing CRS is a warning at best, never a silent guess."""
    if frame.crs is None:
        if assume is not None:
            frame = frame.set_crs(assume)
        else:
            bounds = frame.total_bounds if frame.geometry.notna().any() else [math.nan] * 4
            if not looks_like_lonlat(bounds):
                raise GisImportError(
                    f"{what}: no coordinate reference system, and the coordinates "
                    f"(bounds {_fmt_bounds(bounds)}) are not longitude/latitude; "
                    "include the .prj, or give the CRS (for example crs='EPSG:32648')"
                )
            warnings.warn(
                f"{what}: no coordinate reference system; the coordinates look like "
                "longitude/latitude, so EPSG:4326 (WGS 84) is assumed",
                UserWarning,
                stacklevel=3,
            )
            return check_lonlat(frame.set_crs(4326), what)
    if frame.crs.to_epsg() != 4326:
        if warn_reproject:
            warnings.warn(
                f"{what}: CRS is {frame.crs.to_string()!r}, not EPSG:4326; reprojecting",
                UserWarning,
                stacklevel=3,
            )
        frame = frame.to_crs(4326)
    return check_lonlat(frame, what)


def _fmt_bounds(bounds) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"


def check_lonlat(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """Every coordinate finite and inside -180..180, -90..90 (a mislabelled CRS fails here)."""
    b = shapely.bounds(np.asarray(frame.geometry.values, dtype=object))
    present = ~np.isnan(b).all(axis=1)
    bad = present & ~(
        np.isfinite(b).all(axis=1)
        & (b[:, 0] >= -180)
        & (b[:, 2] <= 180)
        & (b[:, 1] >= -90)
        & (b[:, 3] <= 90)
    )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GisImportError(
            f"{what}: row {i + 1}: coordinates {_fmt_bounds(b[i])} are not valid "
            "longitude/latitude after reprojection to EPSG:4326; is the file's CRS right?"
        )
    return frame


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    if geom.geom_type in _POLYGONAL:
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in _POLYGONAL and not g.is_empty]
    if not parts:
        return None
    polys = [p for g in parts for p in shapely.get_parts(g)]
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def clean(
    geoms: np.ndarray,
    label: Label,
    *,
    allow_points: bool,
    what: str,
    skip_invalid: bool = False,
    skippable: bool = False,
    unreadable: dict[int, str] | None = None,
    repair_budget_s: float | None = None,
):
    """Return (2-D geometries, repaired report, skipped report).

    The first unusable feature raises naming it; with ``skip_invalid`` every unusable feature
    is left out (None) and reported in ``skipped`` instead (row, reason); ``skippable`` says
    the caller offers that, so the error names it. ``unreadable`` holds
    the reader's reasons for geometries it could not build (row index -> reason). A repair
    that takes longer than ``repair_budget_s`` is stopped and the feature is unusable
    (``gis.limits.time_budget``: only where nothing else runs GEOS meanwhile).
    """
    geoms = shapely.force_2d(geoms)
    repaired: list[dict] = []
    skipped: list[dict] = []
    out = geoms.copy()
    fine = [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON]
    if allow_points:
        fine.append(shapely.GeometryType.POINT)
    ok = np.isin(shapely.get_type_id(geoms), fine) & ~shapely.is_empty(geoms)
    ok[ok] = shapely.is_valid(geoms[ok])
    for i in np.flatnonzero(~ok):  # the few that need a look, one by one
        i = int(i)
        try:
            out[i] = _budgeted_repair(geoms[i], i, allow_points, what, repaired,
                                      (unreadable or {}).get(i), repair_budget_s)
        except _Unusable as err:
            if not skip_invalid:
                hint = (" (import with skip_invalid to leave out the features that cannot be "
                        "repaired)") if skippable else ""
                raise GisImportError(f"{label(i)}: {err}{hint}") from None
            skipped.append({"row": i + 1, "reason": str(err)})
            out[i] = None
    return out, repaired, skipped


class _Unusable(Exception):
    """A feature's geometry that no repair makes usable (the message says why)."""


def _budgeted_repair(g, i: int, allow_points: bool, what: str, repaired: list[dict],
                     unreadable: str | None, budget: float | None):
    """``_repair`` stopped after ``budget`` seconds: such a geometry counts as beyond repair."""
    noted = len(repaired)
    try:
        with time_budget(budget):
            return _repair(g, i, allow_points, what, repaired, unreadable)
    except BudgetExceeded as err:
        del repaired[noted:]
        n = shapely.get_num_coordinates(g)
        raise _Unusable(f"invalid {g.geom_type} ({n:,} vertices) not repaired within the time "
                        f"budget of {err.seconds:g} s per feature") from None


def _repair(g, i: int, allow_points: bool, what: str, repaired: list[dict],
            unreadable: str | None):
    """One feature's usable geometry, noting repairs in ``repaired``; else raise _Unusable."""
    expected = "a polygon or a point" if allow_points else "a polygon"
    if g is None or g.is_empty:
        raise _Unusable(unreadable or f"no geometry ({what} needs {expected})")
    kind = g.geom_type
    if kind == "MultiPoint" and allow_points and shapely.get_num_geometries(g) == 1:
        g, kind = shapely.get_geometry(g, 0), "Point"
    if kind == "GeometryCollection" and (part := _polygonal_part(g)) is not None:
        repaired.append({"row": i + 1, "reason": "kept the polygons of a GeometryCollection"})
        g, kind = part, part.geom_type
    if kind == "Point" and allow_points:
        return g
    if kind not in _POLYGONAL:
        raise _Unusable(f"a {kind} is not {what} ({expected} expected)")
    if g.is_valid:
        return g
    reason = shapely.is_valid_reason(g)
    kept, dropped = drop_degenerate(g)
    if dropped and kept is not None and kept.is_valid and not kept.is_empty:
        repaired.append({"row": i + 1, "reason": f"left out {dropped} degenerate ring(s) "
                         "(fewer than four points)", "geom_type": kept.geom_type})
        return kept
    fixed = _polygonal_part(shapely.make_valid(g))
    if fixed is None or fixed.area == 0:
        raise _Unusable(f"invalid {kind} ({reason}) cannot be repaired into a polygon")
    repaired.append({"row": i + 1, "reason": reason, "geom_type": fixed.geom_type})
    return fixed


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union; areas in degrees are fine (an affine map keeps area ratios)."""
    inter = shapely.area(shapely.intersection(a, b))
    union = shapely.area(a) + shapely.area(b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def footprint_duplicates(geoms: np.ndarray, threshold: float) -> list[tuple[int, int, str, float]]:
    """Pairs (earlier, later, kind, iou) of near-identical footprints or coincident points."""
    pairs: list[tuple[int, int, str, float]] = []
    kinds = shapely.get_type_id(geoms)
    is_point = kinds == shapely.GeometryType.POINT
    poly = np.flatnonzero(~is_point)
    if len(poly):
        tree = shapely.STRtree(geoms[poly])
        a, b = tree.query(geoms[poly], predicate="intersects")
        keep = a < b
        a, b = poly[a[keep]], poly[b[keep]]
        iou = _iou(geoms[a], geoms[b])
        pairs += [
            (int(i), int(j), "footprint", round(float(v), 3))
            for i, j, v in zip(a, b, iou, strict=True)
            if v > threshold
        ]
    pts = np.flatnonzero(is_point)
    if len(pts):
        lat = np.abs(shapely.get_y(geoms[pts])).max()
        deg = _POINT_DUPLICATE_M / _M_PER_DEG / max(math.cos(math.radians(lat)), 0.01)
        tree = shapely.STRtree(geoms[pts])
        a, b = tree.query(geoms[pts], predicate="dwithin", distance=deg)
        keep = a < b
        a, b = pts[a[keep]], pts[b[keep]]
        dx = (shapely.get_x(geoms[a]) - shapely.get_x(geoms[b])) * np.cos(
            np.radians(shapely.get_y(geoms[a]))
        )
        d = np.hypot(dx, shapely.get_y(geoms[a]) - shapely.get_y(geoms[b])) * _M_PER_DEG
        pairs += [
            (int(i), int(j), "point", 1.0)
            for i, j, v in zip(a, b, d, strict=True)
            if v <= _POINT_DUPLICATE_M
        ]
        if len(poly):  # a point standing inside another row's footprint is that building
            tree = shapely.STRtree(geoms[poly])
            p, q = tree.query(geoms[pts], predicate="within")
            pairs += [
                (int(min(i, j)), int(max(i, j)), "point_in_footprint", 1.0)
                for i, j in zip(pts[p], poly[q], strict=True)
            ]
    return sorted(pairs, key=lambda t: (t[1], t[0]))


def assign(points: np.ndarray, geoms: np.ndarray, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Street code per building (None outside every street), by its representative point.

    A point on a shared border (or in overlapping streets) goes to the street holding most of
    the footprint, then to the lowest code, so the answer never depends on input order.
    """
    codes = areas["code"].astype(str).to_numpy(dtype=object)
    shapes = np.asarray(areas.geometry.values, dtype=object)
    out = np.full(len(points), None, dtype=object)
    if not len(shapes):
        return out
    tree = shapely.STRtree(shapes)
    p, s = tree.query(points, predicate="intersects")
    if not len(p):
        return out
    overlap = np.zeros(len(p))
    shared = np.bincount(p, minlength=len(points))[p] > 1  # only ties need the costly overlap
    overlap[shared] = shapely.area(shapely.intersection(geoms[p[shared]], shapes[s[shared]]))
    order = np.lexsort((codes[s].astype(str), -overlap, p))
    p, s = p[order], s[order]
    first = np.r_[True, p[1:] != p[:-1]]
    out[p[first]] = codes[s[first]]
    return out
