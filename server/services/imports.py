"""Import area boundaries and building footprints into the database, all or nothing.

gis.importing reads, reprojects, repairs and checks every feature first (raising
GisImportError naming the failing feature, refused here as ImportRefused); only then are rows
written, in one transaction.
A user's import stays inside their areas (server.services.scope): a supervisor's file with one
building on a street they do not oversee, or one area outside theirs, imports nothing.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import shapely
import sqlalchemy as sa

from gis.importing import (
    GisImportError,
    ImportResult,
    column_values,
    prepare_areas,
    prepare_buildings,
    read_layer,
)
from server.extensions import db
from server.models import Area, Building, User
from server.services import audit, scope
from server.services import import_updates as updates
from server.services.coverage import store as coverage
from server.services.errors import ServiceError


class ImportRefused(ServiceError):
    """A file that cannot be imported, so nothing was: the gis library's reason (English, it
    names rows, columns and codes of the file) is the message."""

    code = "import_refused"

    def __init__(self, reason: str) -> None:
        super().__init__("{reason}", reason=reason)


if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["GisImportError", "ImportRefused", "ImportReport", "OutsideScopeError",
           "UnknownStreets", "import_areas", "import_buildings"]

AREA_CODE_MAX = 32  # server.models.Area.code


class OutsideScopeError(ImportRefused):
    """Features outside the importing user's areas (codes named): nothing is imported."""

    status = 403
    code = "outside_scope"

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
    skipped: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)  # per updated building: code, changed
    unchanged: int = 0
    streets_created: list[str] = field(default_factory=list)
    village: str | None = None

    def lines(self) -> list[str]:
        first = f"{self.created} created, {self.updated} updated"
        out = [first + (f", {self.unchanged} unchanged" if self.unchanged else "")]
        if self.streets_created:
            out.append(f"{len(self.streets_created)} street(s) created under {self.village}: "
                       f"{', '.join(self.streets_created)}")
        if self.changes:
            shown = ", ".join(f"{c['code']} ({'; '.join(c['changed'])})" for c in self.changes[:20])
            more = f" … and {len(self.changes) - 20} more" if len(self.changes) > 20 else ""
            out.append(f"{len(self.changes)} updated: {shown}{more}")
        for title, items in (
            ("repaired", self.repaired),
            ("duplicates skipped", self.duplicates),
            ("skipped (geometry beyond repair)", self.skipped),
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


@contextmanager
def _refusing() -> Iterator[None]:
    """A file the gis library refuses (GisImportError, or a ValueError from the readers
    underneath) becomes ImportRefused; nothing is written by then, or it was rolled back."""
    try:
        yield
    except ValueError as err:  # GisImportError is one
        raise ImportRefused(str(err)) from err


def _guess(frame, name: str, given: str | None) -> str | None:
    """The column named, else a column whose name is usual for it; "none" means no column."""
    if given and given.strip().lower() == "none":
        return None
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
        result.skipped,
    )


@_refusing()
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
        scope.areas_edited()  # every process's streets under an area are stale
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
    import geopandas as gpd  # over a second to import: only imports pay, not every server start

    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "level": ["street"] * len(rows)},
        geometry=shapely.from_wkb([r[1] for r in rows]),
        crs=4326,
    )


class UnknownStreets(ImportRefused):
    """A street column naming streets the area tree lacks. `streets` lists them and
    `villages` the codes they could be created under, so the page and the CLI can offer the two
    ways on: create them under a village, or ignore the column (streets by boundary)."""

    def __init__(self, filename: str, column: str, streets: list[str], villages: list[str]):
        shown = ", ".join(streets[:50]) + (" …" if len(streets) > 50 else "")
        super().__init__(f"{filename}: the street column {column!r} names {len(streets)} "
                         f"street(s) not in the area tree: {shown}")
        self.code = "unknown_streets"
        self.filename, self.column, self.streets, self.villages = (
            filename, column, streets, villages)


def _new_streets(frame, column: str | None, filename: str, under: str | None) -> list[Area]:
    """The streets to create for the street column (none when every value is a known street);
    UnknownStreets when some are unknown and no village was chosen for them."""
    if column is None:
        return []
    areas = {a.code: a for a in db.session.scalars(sa.select(Area))}
    values = column_values(frame, column)
    wrong = [f"{v} ({areas[v].level})" for v in values if v in areas and areas[v].level != "street"]
    if wrong:
        raise GisImportError(f"{filename}: the street column {column!r} names areas that are "
                             f"not streets: {', '.join(wrong[:20])}")
    unknown = [v for v in values if v not in areas]
    if not unknown:
        return []
    villages = sorted(code for code, a in areas.items() if a.level == "village")
    if under is None:
        raise UnknownStreets(filename, column, unknown, villages)
    village = areas.get(under)
    if village is None or village.level != "village":
        raise GisImportError(f"no village {under!r} to create the streets under; villages: "
                             f"{', '.join(villages) or 'none'}")
    bad = [v for v in unknown if "/" in v or len(v) > AREA_CODE_MAX]
    if bad:
        raise GisImportError(f"{filename}: {bad[0]!r} cannot be a street code (at most "
                             f"{AREA_CODE_MAX} characters, no '/')")
    return [Area(code=v, name_zh=v, name_en="", level="street", parent_id=village.id,
                 path=f"{village.path}/{v}") for v in unknown]


@_refusing()
def import_buildings(
    data: bytes,
    filename: str,
    *,
    skip_duplicates: bool = False,
    skip_invalid: bool = False,
    create_streets_under: str | None = None,
    crs: str | None = None,
    user: User | None = None,
    **fields: str | None,
) -> ImportReport:
    """Footprints (or points), assigned to streets by boundary or by a street column.

    A code already stored updates that building (footprint and the attributes the file
    carries) and the report says what changed. Field names: None guesses from the columns,
    "none" ignores the column (`street_field="none"`: streets by boundary). Unknown streets in
    the street column raise UnknownStreets unless `create_streets_under` names a village.
    """
    frame, notes = _read(data, filename, crs)
    names = {k: _guess(frame, k, fields.get(k)) for k in GUESS}
    new_streets = _new_streets(frame, names["street_field"], filename, create_streets_under)
    stored = set(db.session.scalars(sa.select(Building.code)))
    known = set(db.session.scalars(sa.select(Area.code).where(Area.level == "street")))
    result = prepare_buildings(
        frame, _street_frame(), skip_duplicates=skip_duplicates, skip_invalid=skip_invalid,
        # Given codes may repeat stored ones (an update); generated ones must not.
        existing_codes=stored if names["code_field"] is None else (),
        known_streets=known | {a.code for a in new_streets}, **names,
    )
    street_paths = dict(db.session.execute(sa.select(Area.code, Area.path)).all())
    street_paths.update({a.code: a.path for a in new_streets})
    outside = _outside_areas(user, [
        (r["code"], street_paths.get(r["street_code"] or "", "")) for r in result.records])
    if outside:
        raise OutsideScopeError(filename, outside)
    try:
        for area in new_streets:
            db.session.add(area)
        db.session.flush()
        street_ids = dict(db.session.execute(sa.select(Area.code, Area.id)).all())
        fresh = [r for r in result.records if r["code"] not in stored]
        rows = []
        for rec in fresh:
            row = {k: v for k, v in rec.items() if k != "street_code"}
            row["street_id"] = street_ids.get(rec["street_code"]) if rec["street_code"] else None
            rows.append(row)
        for start in range(0, len(rows), 5000):
            db.session.execute(sa.insert(Building), rows[start : start + 5000])
        given = {k.removesuffix("_field") for k, v in names.items() if v}
        changes = updates.apply([r for r in result.records if r["code"] in stored], street_ids,
                                given)
        audit.record(
            "buildings.import",
            object_type="file",
            object_id=filename[:64],
            created=len(rows),
            updated=len(changes.updated),
            unchanged=changes.unchanged,
            repaired=len(result.repaired),
            duplicates=len(result.duplicates),
            skipped=len(result.skipped),
            streets_created=[a.code for a in new_streets],
        )
        coverage.buildings_edited()  # every process's copy and the counts per street
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    coverage.buildings_changed()
    report = _report(result, len(rows), len(changes.updated), notes)
    report.changes, report.unchanged = changes.updated, changes.unchanged
    report.streets_created = [a.code for a in new_streets]
    report.village = create_streets_under if new_streets else None
    if changes.moved:
        report.warnings.append(
            f"{changes.moved} footprint(s) changed: visits matched before keep their building "
            "until the round's coverage is recomputed")
    return report
