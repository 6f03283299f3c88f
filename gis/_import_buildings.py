"""The building half of an import: duplicates, streets, generated codes, rows to insert."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import shapely

from gis import _import_geom as geom
from gis._import_result import GisImportError, ImportResult, rows_to_keep


def prepare(
    codes,
    shapes,
    label,
    columns,
    repaired,
    notes,
    *,
    areas,
    street_field,
    existing_codes,
    existing,
    skip_duplicates,
    iou_threshold,
    code_prefix,
    skipped=(),
    known_streets=None,
) -> ImportResult:
    """Duplicates first (all or nothing), then streets, codes and the rows to insert; rows in
    ``skipped`` (geometries left out by ``skip_invalid``) take part in none of it."""
    invalid = {d["row"] - 1 for d in skipped}
    old_codes, old_shapes = stored(existing, shapes)
    existing_codes = existing_codes | set(old_codes)
    duplicates = _duplicates(codes, shapes, iou_threshold, existing_codes, old_codes, old_shapes,
                             invalid)
    keep = rows_to_keep(duplicates, len(shapes), skip_duplicates, label)
    if invalid:
        keep[sorted(invalid)] = False
    points = np.where(shapely.get_type_id(shapes) == 0, shapes, shapely.point_on_surface(shapes))
    streets, outside = _streets(columns["street"], areas, street_field, points, shapes, label,
                                known_streets, keep)
    if areas is None and street_field is None:
        notes.append("no street boundaries given: buildings are not assigned to streets")
    if codes is None:
        codes = _generate(streets, keep, existing_codes, code_prefix)
        notes.append(f"codes generated: <street>-NNN, or {code_prefix}NNNNN outside streets")
    outside = [o for o in outside if keep[o["row"] - 1]]
    skipped = list(skipped)
    for d in [*repaired, *outside, *duplicates, *skipped]:
        d["code"] = codes[d["row"] - 1]
    n_points = int((shapely.get_type_id(shapes[keep]) == 0).sum())
    if n_points:
        notes.append(f"{n_points} building(s) are points, not footprints")
    if outside:
        notes.append(f"{len(outside)} building(s) outside every street")
    return ImportResult(
        _records(keep, codes, streets, shapes, points, columns),
        repaired,
        duplicates,
        outside,
        notes,
        skipped,
    )


def _records(keep, codes, streets, shapes, points, columns) -> list[dict]:
    """Rows for ``sa.insert(Building)`` once ``street_code`` is turned into ``street_id``."""
    idx = np.flatnonzero(keep)
    wkb = shapely.to_wkb(shapes[idx]).tolist()
    minx, miny, maxx, maxy = shapely.bounds(shapes[idx]).T.tolist()
    lon, lat = shapely.get_x(points[idx]).tolist(), shapely.get_y(points[idx]).tolist()
    pick = [
        (
            codes[i],
            streets[i],
            columns["address"][i],
            columns["expected_units"][i],
            columns["floors"][i],
        )
        for i in idx.tolist()
    ]
    keys = (
        "code",
        "street_code",
        "address",
        "expected_units",
        "floors",
        "footprint",
        "minx",
        "miny",
        "maxx",
        "maxy",
        "lon",
        "lat",
    )
    return [
        {**dict(zip(keys, (*p, *g), strict=True)), "source": "imported"}
        for p, g in zip(pick, zip(wkb, minx, miny, maxx, maxy, lon, lat, strict=True), strict=True)
    ]


def stored(existing, shapes) -> tuple[np.ndarray, np.ndarray]:
    """(codes, geometries) of stored buildings near the new ones (bounding boxes overlap)."""
    if existing is None:
        return np.empty(0, dtype=object), np.empty(0, dtype=object)
    if not isinstance(existing, gpd.GeoDataFrame) or "code" not in existing.columns:
        raise ValueError("existing must be a GeoDataFrame with a 'code' column and footprints")
    existing = geom.to_wgs84(existing.reset_index(drop=True), "existing", warn_reproject=True)
    geoms = np.asarray(existing.geometry.values, dtype=object)
    b = shapely.bounds(geoms)
    minx, miny, maxx, maxy = shapely.total_bounds(shapes)
    near = (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
    return existing["code"].astype(str).to_numpy(dtype=object)[near], geoms[near]


def _duplicates(codes, shapes, threshold, existing_codes, old_codes, old_shapes,
                invalid=frozenset()) -> list[dict]:
    """One report per duplicate row, the first reason found; rows are never compared twice
    (rows in ``invalid`` have no geometry and are not compared at all)."""
    found: dict[int, dict] = {}
    if codes is not None:
        first: dict[str, int] = {}
        for i, c in enumerate(codes):
            if i in invalid:
                continue
            if c in existing_codes:
                reason = f"code {c!r} is already in use"
                found[i] = {"row": i + 1, "kind": "existing", "reason": reason}
            elif c in first:
                j = first[c]
                reason = f"same code as row {j + 1}"
                found[i] = {"row": i + 1, "kind": "code", "of_row": j + 1, "reason": reason}
            else:
                first[c] = i
    n_old = len(old_shapes)
    both = np.concatenate([old_shapes, shapes]) if n_old else shapes
    for j, i, kind, iou in geom.footprint_duplicates(both, threshold):
        if i < n_old:
            continue  # two stored buildings: not this import's business
        i -= n_old
        if j < n_old:
            ref, other = f"stored building {old_codes[j]!r}", {"of_code": old_codes[j]}
            kind = f"existing_{kind}"
        else:
            ref, other = f"row {j - n_old + 1}", {"of_row": j - n_old + 1}
        what = {
            "footprint": f"footprint overlaps {ref} by IoU {iou:.2f}",
            "point": f"point within 1 m of {ref}",
            "point_in_footprint": f"point and footprint of {ref} coincide",
        }[kind.removeprefix("existing_")]
        found.setdefault(i, {"row": i + 1, "kind": kind, **other, "iou": iou, "reason": what})
    return [found[i] for i in sorted(found)]


def _streets(given, areas, street_field, points, shapes, label, known_streets=None, keep=None):
    """Street code per building (``street_field`` first, then the spatial join) and outsiders;
    a ``street_field`` value must be in ``known_streets`` (default: the codes of ``areas``)."""
    n = len(points)
    if known_streets is not None:
        _check_streets(given, known_streets, street_field, label, keep)
    if areas is None:
        return [v or None for v in given], []
    if not isinstance(areas, gpd.GeoDataFrame) or "code" not in areas.columns:
        raise ValueError("areas must be a GeoDataFrame with a 'code' column and boundaries")
    if "level" in areas.columns:
        areas = areas[areas["level"] == "street"]
    areas = areas[areas.geometry.notna() & ~areas.geometry.is_empty]
    areas = geom.to_wgs84(areas.reset_index(drop=True), "areas", warn_reproject=True)
    if known_streets is None:
        _check_streets(given, set(areas["code"].astype(str)), street_field, label, keep)
    joined = geom.assign(points, shapes, areas)
    streets = [given[i] or joined[i] for i in range(n)]
    x, y = shapely.get_x(points), shapely.get_y(points)
    outside = [
        {"row": i + 1, "lon": float(x[i]), "lat": float(y[i])}
        for i in range(n)
        if streets[i] is None
    ]
    return streets, outside


def _check_streets(given, known, street_field, label, keep) -> None:
    for i, v in enumerate(given):
        if v and v not in known and (keep is None or keep[i]):
            raise GisImportError(
                f"{label(i)}: street {v!r} ({street_field!r}) is not a known street"
            )


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
