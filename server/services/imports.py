"""Import area boundaries and building footprints into the database, all or nothing.

The file is read, reprojected, repaired and checked first, in a helper process with a memory
cap and a time limit (server.services.import_jobs run by server.services.import_process; the
work is bounded by the IMPORT_* settings); a feature that cannot be imported raises
GisImportError naming it, refused here as ImportRefused. Only then are rows written, in one
transaction.
A user's import stays inside their areas (server.services.scope): a supervisor's file with one
building on a street they do not oversee, or one area outside theirs, imports nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from gis.importing import GisImportError, ImportResult
from server.extensions import db
from server.models import Area, Building, User
from server.services import audit, import_jobs, import_process, scope
from server.services import import_updates as updates
from server.services.coverage import report_days, timeline
from server.services.coverage import store as coverage
from server.services.errors import ServiceError
from server.services.import_jobs import GUESS, Limits


class ImportRefused(ServiceError):
    """A file that cannot be imported, so nothing was: the gis library's reason (English, it
    names rows, columns and codes of the file) is the message."""

    code = "import_refused"

    def __init__(self, reason: str) -> None:
        super().__init__("{reason}", reason=reason)


__all__ = ["GisImportError", "ImportRefused", "ImportReport", "OutsideScopeError",
           "UnknownStreets", "import_areas", "import_buildings"]


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


def _in_helper(job, *args, **kwargs) -> import_jobs.Prepared:
    """`job` in the import's helper process, bounded by the IMPORT_* settings; the session's
    read transaction ends first (the helper may take minutes)."""
    config = current_app.config
    db.session.commit()
    limits = Limits(config["IMPORT_MAX_FEATURES"], config["IMPORT_MAX_VERTICES_PER_FEATURE"],
                    config["IMPORT_MAX_VERTICES"], config["IMPORT_REPAIR_BUDGET_S"] or None)
    return import_process.run(job, *args, limits=limits, **kwargs,
                              memory_mb=config["IMPORT_MEMORY_LIMIT_MB"],
                              time_limit_s=config["IMPORT_TIME_LIMIT_S"])


@contextmanager
def _refusing() -> Iterator[None]:
    """A file the gis library refuses (GisImportError, or a ValueError from the readers
    underneath) becomes ImportRefused; nothing is written by then, or it was rolled back."""
    try:
        yield
    except ValueError as err:  # GisImportError is one
        raise ImportRefused(str(err)) from err


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
    known = dict(db.session.execute(sa.select(Area.code, Area.path)).all())
    prepared = _in_helper(import_jobs.areas, data, filename, level=level, parent=parent,
                          skip_duplicates=skip_duplicates, crs=crs, known_paths=known)
    result, notes = prepared.result, prepared.notes
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


def _street_areas(codes: list[str], under: str) -> list[Area]:
    """The new streets, under the village `under` (the helper checked both)."""
    if not codes:
        return []
    village = db.session.scalar(sa.select(Area).where(Area.code == under))
    return [Area(code=v, name_zh=v, name_en="", level="street", parent_id=village.id,
                 path=f"{village.path}/{v}") for v in codes]


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
    levels = dict(db.session.execute(sa.select(Area.code, Area.level)).all())
    streets = [tuple(r) for r in db.session.execute(sa.select(Area.code, Area.boundary).where(
        Area.level == "street", Area.boundary.is_not(None)))]
    stored = set(db.session.scalars(sa.select(Building.code)))
    prepared = _in_helper(
        import_jobs.buildings, data, filename, skip_duplicates=skip_duplicates,
        skip_invalid=skip_invalid, create_streets_under=create_streets_under, crs=crs,
        fields={k: fields.get(k) for k in GUESS}, levels=levels, streets=streets, stored=stored)
    names, notes = prepared.names, prepared.notes
    if prepared.unknown_streets:
        villages = sorted(code for code, level in levels.items() if level == "village")
        raise UnknownStreets(filename, str(names["street_field"]), prepared.unknown_streets,
                             villages)
    result = prepared.result
    new_streets = _street_areas(prepared.new_streets, create_streets_under or "")
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
        timeline.resum(None)  # the reports' day counts follow the streets too
        report_days.resum(None)
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
