"""The costly half of an import, run in its helper process (server.services.import_process):
read the file, check and repair every feature, prepare the rows.

No database and no Flask here: what an import needs from the database (the area tree, stored
codes, street boundaries) comes in as arguments, and what the file holds goes back as a
picklable `Prepared`. The limits bound the work before it starts: features and vertices are
counted as read, before any repair, and each repair has a time budget
(gis.importing.read_layer, gis.limits).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from gis.importing import (
    DEFAULT_MAX_FEATURES,
    DEFAULT_MAX_VERTICES,
    DEFAULT_MAX_VERTICES_PER_FEATURE,
    GisImportError,
    ImportResult,
    column_values,
    prepare_areas,
    prepare_buildings,
    read_layer,
)

AREA_CODE_MAX = 32  # server.models.Area.code

# Column names looked for when the caller does not name them (case-insensitive).
GUESS = {
    "code_field": ("code", "building_code", "id_code"),
    "units_field": ("expected_units", "units", "households"),
    "address_field": ("address", "addr"),
    "floors_field": ("floors", "levels", "building_levels"),
    "street_field": ("street", "street_code"),
}


@dataclass(frozen=True)
class Limits:
    """How much work one import may ask for (server.config: IMPORT_*)."""

    max_features: int = DEFAULT_MAX_FEATURES
    max_vertices_per_feature: int = DEFAULT_MAX_VERTICES_PER_FEATURE
    max_vertices: int = DEFAULT_MAX_VERTICES
    repair_budget_s: float | None = None


@dataclass
class Prepared:
    """What the helper found: the checked rows, or the streets to ask about first."""

    result: ImportResult | None
    notes: list[str] = field(default_factory=list)
    names: dict[str, str | None] = field(default_factory=dict)  # GUESS key -> column
    unknown_streets: list[str] = field(default_factory=list)  # ask: create them, or ignore
    new_streets: list[str] = field(default_factory=list)  # to create under the village


def _read(data: bytes, filename: str, crs: str | None, limits: Limits):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_layer(data, filename, crs=crs, max_features=limits.max_features,
                           max_vertices_per_feature=limits.max_vertices_per_feature,
                           max_vertices=limits.max_vertices)
    return frame, [str(w.message) for w in caught]


def _guess(frame, name: str, given: str | None) -> str | None:
    """The column named, else a column whose name is usual for it; "none" means no column."""
    if given and given.strip().lower() == "none":
        return None
    if given:
        return given
    cols = {str(c).lower(): str(c) for c in frame.columns}
    return next((cols[c] for c in GUESS[name] if c in cols), None)


def areas(data: bytes, filename: str, *, level: str | None, parent: str | None,
          skip_duplicates: bool, crs: str | None, known_paths: dict[str, str],
          limits: Limits) -> Prepared:
    """Area boundaries checked and ordered parents first (gis.importing.prepare_areas)."""
    frame, notes = _read(data, filename, crs, limits)
    cols = {str(c).lower() for c in frame.columns}
    result = prepare_areas(
        frame,
        name_field="name" if "name" in cols else ("name_zh" if "name_zh" in cols else None),
        name_en_field="name_en" if "name_en" in cols else None,
        level_field="level" if "level" in cols and level is None else None,
        parent_field="parent" if "parent" in cols and parent is None else None,
        level=level,
        parent=parent,
        known_paths=known_paths,
        skip_duplicates=skip_duplicates,
        repair_budget_s=limits.repair_budget_s,
    )
    return Prepared(result, notes)


def _street_frame(streets: list[tuple[str, bytes]]):
    if not streets:
        return None
    import geopandas as gpd  # preloaded in the helper; the server process never needs it
    import shapely

    return gpd.GeoDataFrame(
        {"code": [s[0] for s in streets], "level": ["street"] * len(streets)},
        geometry=shapely.from_wkb([s[1] for s in streets]), crs=4326)


def _new_streets(frame, column: str | None, filename: str, under: str | None,
                 levels: dict[str, str]) -> list[str]:
    """The street codes the street column names but the area tree lacks (to create under the
    village `under`; without one the caller asks what to do with them)."""
    if column is None:
        return []
    values = column_values(frame, column)
    wrong = [f"{v} ({levels[v]})" for v in values if v in levels and levels[v] != "street"]
    if wrong:
        raise GisImportError(f"{filename}: the street column {column!r} names areas that are "
                             f"not streets: {', '.join(wrong[:20])}")
    unknown = [v for v in values if v not in levels]
    if not unknown or under is None:
        return unknown
    villages = sorted(code for code, level in levels.items() if level == "village")
    if levels.get(under) != "village":
        raise GisImportError(f"no village {under!r} to create the streets under; villages: "
                             f"{', '.join(villages) or 'none'}")
    bad = [v for v in unknown if "/" in v or len(v) > AREA_CODE_MAX]
    if bad:
        raise GisImportError(f"{filename}: {bad[0]!r} cannot be a street code (at most "
                             f"{AREA_CODE_MAX} characters, no '/')")
    return unknown


def buildings(data: bytes, filename: str, *, skip_duplicates: bool, skip_invalid: bool,
              create_streets_under: str | None, crs: str | None, fields: dict[str, str | None],
              levels: dict[str, str], streets: list[tuple[str, bytes]], stored: set[str],
              limits: Limits) -> Prepared:
    """Footprints checked and assigned to streets (gis.importing.prepare_buildings).

    `levels`: code -> level of every stored area; `streets`: (code, boundary WKB) of the
    streets with a boundary; `stored`: the building codes already stored.
    """
    frame, notes = _read(data, filename, crs, limits)
    names = {k: _guess(frame, k, fields.get(k)) for k in GUESS}
    new = _new_streets(frame, names["street_field"], filename, create_streets_under, levels)
    if new and create_streets_under is None:
        return Prepared(None, notes, names, unknown_streets=new)
    known = {code for code, level in levels.items() if level == "street"}
    result = prepare_buildings(
        frame, _street_frame(streets), skip_duplicates=skip_duplicates,
        skip_invalid=skip_invalid,
        # Given codes may repeat stored ones (an update); generated ones must not.
        existing_codes=stored if names["code_field"] is None else (),
        known_streets=known | set(new), repair_budget_s=limits.repair_budget_s, **names,
    )
    return Prepared(result, notes, names, new_streets=new)


_WARM_FILE = (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
              b'{"code": "W"}, "geometry": {"type": "Polygon", "coordinates": [[[102.0, 24.0], '
              b'[102.0001, 24.0], [102.0001, 24.0001], [102.0, 24.0001], [102.0, 24.0]]]}}]}')
_warm = False


def warm_up() -> None:
    """Run a tiny import once per process, so that what the libraries load on first use
    (parts of pandas, GDAL, PROJ) is loaded before the helper's memory cap: under the cap, a
    library that can no longer be mapped would look like a broken file."""
    global _warm
    if _warm:
        return
    import shapely  # preloaded with geopandas

    street = ("S", shapely.to_wkb(shapely.box(101.9, 23.9, 102.1, 24.1)))
    buildings(_WARM_FILE, "warm.geojson", skip_duplicates=False, skip_invalid=False,
              create_streets_under=None, crs=None, fields={}, levels={"S": "street"},
              streets=[street], stored=set(), limits=Limits(repair_budget_s=1.0))
    areas(_WARM_FILE, "warm.geojson", level="township", parent=None, skip_duplicates=False,
          crs=None, known_paths={}, limits=Limits())
    _warm = True
