"""Import area boundaries and building footprints into the database, all or nothing.

gis.importing reads, reprojects, repairs and checks every feature first (raising
GisImportError naming the failing feature); only then are rows written, in one transaction.
A user's import stays inside their areas (server.services.scope): a supervisor's file with one
building on a street they do not oversee, or one area outside theirs, imports nothing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import geopandas as gpd
import shapely
import sqlalchemy as sa

from gis.importing import GisImportError, ImportResult, prepare_areas, prepare_buildings, read_layer
from server.extensions import db
from server.models import Area, Building, User
from server.services import audit, scope
from server.services.coverage import store as coverage

__all__ = ["GisImportError", "ImportReport", "OutsideScopeError", "import_areas",
           "import_buildings"]


class OutsideScopeError(GisImportError):
    """Features outside the importing user's areas (codes named): nothing is imported."""

    def __init__(self, filename: str, codes: list[str]):
        self.codes = codes
        shown = ", ".join(str(c) for c in codes[:10]) + (" …" if len(codes) > 10 else "")
        super().__init__(f"{filename}: {len(codes)} feature(s) outside your areas ({shown}); "
                         "nothing imported")


def _outside_areas(user: User | None, paths: list[tuple[str, str]]) -> list[str]:
    """Codes of the (code, path) areas the user may not import: all of them unless at or
    under the user's assigned areas; none for the command line and admins."""
    mine = scope.area_paths(user) if user is not None else None
    if mine is None:
        return []
    return [code for code, path in paths
            if not any(path == p or path.startswith(p + "/") for p in mine)]

# Column names looked for when the caller does not name them (case-insensitive).
GUESS = {
    "code_field": ("code", "building_code", "id_code"),
    "units_field": ("expected_units", "units", "households"),
    "address_field": ("address", "addr"),
    "floors_field": ("floors", "levels", "building_levels"),
    "street_field": ("street", "street_code"),
}


@dataclass
class ImportReport:
    created: int
    updated: int = 0
    repaired: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    outside: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.created} created, {self.updated} updated"]
        for title, items in (
            ("repaired", self.repaired),
            ("duplicates skipped", self.duplicates),
            ("outside every street", self.outside),
        ):
            if items:
                shown = ", ".join(
                    f"row {d['row']} {d.get('code') or ''} ({d.get('reason', '')})".replace(
                        " ()", ""
                    )
                    for d in items[:20]
                )
                more = f" … and {len(items) - 20} more" if len(items) > 20 else ""
                out.append(f"{len(items)} {title}: {shown}{more}")
        out += self.warnings
        return out


def _read(data: bytes, filename: str, crs: str | None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_layer(data, filename, crs=crs)
    return frame, [str(w.message) for w in caught]


def _guess(frame, name: str, given: str | None) -> str | None:
    if given:
        return given
    cols = {str(c).lower(): str(c) for c in frame.columns}
    return next((cols[c] for c in GUESS[name] if c in cols), None)


def _report(result: ImportResult, created: int, updated: int, notes: list[str]) -> ImportReport:
    return ImportReport(
        created,
        updated,
        result.repaired,
        result.duplicates,
        result.outside,
        [*notes, *result.warnings],
    )


def import_areas(
    data: bytes,
    filename: str,
    *,
    level: str | None = None,
    parent: str | None = None,
    skip_duplicates: bool = False,
    crs: str | None = None,
    user: User | None = None,
) -> ImportReport:
    """Areas (township/village/street) with boundaries; known codes get the new boundary."""
    frame, notes = _read(data, filename, crs)
    known = dict(db.session.execute(sa.select(Area.code, Area.path)).all())
    cols = {str(c).lower() for c in frame.columns}
    result = prepare_areas(
        frame,
        name_field="name" if "name" in cols else ("name_zh" if "name_zh" in cols else None),
        name_en_field="name_en" if "name_en" in cols else None,
        level_field="level" if "level" in cols and level is None else None,
        parent_field="parent" if "parent" in cols and parent is None else None,
        level=level,
        parent=parent,
        known_paths=known,
        skip_duplicates=skip_duplicates,
    )
    outside = _outside_areas(user, [(r["code"], r["path"]) for r in result.records])
    if outside:
        raise OutsideScopeError(filename, outside)
    created = updated = 0
    try:
        for rec in result.records:
            area = db.session.scalar(sa.select(Area).where(Area.code == rec["code"]))
            parent_id = None
            if rec["parent_code"]:
                parent_id = db.session.scalar(
                    sa.select(Area.id).where(Area.code == rec["parent_code"])
                )
            if area is None:
                area = Area(code=rec["code"])
                db.session.add(area)
                created += 1
            else:
                updated += 1
            area.name_zh, area.name_en = rec["name_zh"], rec["name_en"] or ""
            area.level, area.parent_id, area.path = rec["level"], parent_id, rec["path"]
            area.boundary = rec["boundary"]
            db.session.flush()
        audit.record(
            "areas.import",
            object_type="file",
            object_id=filename[:64],
            created=created,
            updated=updated,
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    coverage.buildings_changed()
    return _report(result, created, updated, notes)


def _street_frame() -> gpd.GeoDataFrame | None:
    rows = db.session.execute(
        sa.select(Area.code, Area.boundary).where(
            Area.level == "street", Area.boundary.is_not(None)
        )
    ).all()
    if not rows:
        return None
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "level": ["street"] * len(rows)},
        geometry=shapely.from_wkb([r[1] for r in rows]),
        crs=4326,
    )


def import_buildings(
    data: bytes,
    filename: str,
    *,
    skip_duplicates: bool = False,
    crs: str | None = None,
    user: User | None = None,
    **fields: str | None,
) -> ImportReport:
    """Footprints (or points), assigned to streets by boundary or by a street column."""
    frame, notes = _read(data, filename, crs)
    names = {k: _guess(frame, k, fields.get(k)) for k in GUESS}
    existing = set(db.session.scalars(sa.select(Building.code)))
    result = prepare_buildings(
        frame, _street_frame(), existing_codes=existing, skip_duplicates=skip_duplicates, **names
    )
    street_ids = dict(db.session.execute(sa.select(Area.code, Area.id)).all())
    unknown = sorted(
        {r["street_code"] for r in result.records if r["street_code"]} - set(street_ids)
    )
    if unknown:
        raise GisImportError(f"{filename}: unknown street code(s) {', '.join(unknown[:10])}")
    rows = []
    for rec in result.records:
        row = {k: v for k, v in rec.items() if k != "street_code"}
        row["street_id"] = street_ids.get(rec["street_code"]) if rec["street_code"] else None
        rows.append(row)
    allowed = scope.street_ids(user) if user is not None else None
    outside = [r["code"] for r in rows if allowed is not None and r["street_id"] not in allowed]
    if outside:
        raise OutsideScopeError(filename, outside)
    try:
        for start in range(0, len(rows), 5000):
            db.session.execute(sa.insert(Building), rows[start : start + 5000])
        audit.record(
            "buildings.import",
            object_type="file",
            object_id=filename[:64],
            created=len(rows),
            repaired=len(result.repaired),
            duplicates=len(result.duplicates),
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    coverage.buildings_changed()
    return _report(result, len(rows), 0, notes)
