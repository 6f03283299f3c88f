"""The visit a submission records: which building, where, with what outcome; then coverage.

Registered as the "visits" processor: runs after the raw submission is durable, idempotently
(one Visit per submission; an edit naming a `deprecatedID` replaces the old visit). Fields read
from the instance (forms/township): `building` (or `building_id`) holding the building code or a
`buildings` entity id, `outcome`, `visit_location` (else the first geopoint), `start`. A
submission declaring a `households` entity records one dwelling unit when its outcome is done
or vacant (a vacant flat is recorded, not missing).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np
import sqlalchemy as sa

from forms.instance import InstanceError, instance_schema, parse_geopoint, parse_instance
from gis.coverage import OUTCOMES, Visit
from server.extensions import db
from server.models import Building, Entity, FormVersion, Submission
from server.models import Visit as VisitRow
from server.services import coverage
from server.services.processing import register_processor

BUILDING_FIELDS = ("building", "building_id")
GEO_FIELD = "visit_location"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@lru_cache(maxsize=64)
def _geo_paths(form_version_id: int, xform_md5: str) -> tuple[str, ...]:
    xform = db.session.scalar(sa.select(FormVersion.xform).where(FormVersion.id == form_version_id))
    return tuple(instance_schema(xform).geo_paths) if xform else ()


def _fields(root) -> dict[str, str]:
    """First non-empty text per local name, outside repeats' later items (document order)."""
    out: dict[str, str] = {}
    for el in root.iter():
        name = _local(el.tag)
        text = (el.text or "").strip()
        if text and name not in out:
            out[name] = text
    return out


def _paths(root) -> dict[str, str]:
    out: dict[str, str] = {}

    def walk(el, path):
        text = (el.text or "").strip()
        if text and path not in out:
            out[path] = text
        for child in el:
            walk(child, f"{path}/{_local(child.tag)}")

    walk(root, "/" + _local(root.tag))
    return out


def _geotag(submission: Submission, root) -> tuple[float | None, float | None, float | None]:
    fv = submission.form_version
    geo = _geo_paths(fv.id, fv.md5) if fv is not None else ()
    values = _paths(root)
    ordered = sorted(geo, key=lambda p: (not p.endswith("/" + GEO_FIELD), p))
    for path in ordered:
        if path in values and (pt := parse_geopoint(values[path].split(";")[0])) is not None:
            lat, lon, _alt, acc = pt
            return lon, lat, acc
    if submission.lon is not None and submission.lat is not None:
        return submission.lon, submission.lat, submission.gps_accuracy
    return None, None, None


def resolve_building(value: str | None) -> int | None:
    """A building code, or the id of a `buildings` entity linked to a building."""
    if not value:
        return None
    bid = db.session.scalar(sa.select(Building.id).where(Building.code == value))
    if bid is None:
        bid = db.session.scalar(
            sa.select(Entity.building_id).where(
                Entity.uuid == value, Entity.building_id.is_not(None)
            )
        )
    return bid


def _time(fields: dict[str, str], submission: Submission) -> tuple[datetime, date]:
    """(UTC time, local calendar day) of the visit: the form's `start`, else when received."""
    for name in ("start", "end"):
        if name in fields:
            try:
                t = datetime.fromisoformat(fields[name].replace("Z", "+00:00"))
            except ValueError:
                continue
            if t.tzinfo is None:
                return t, t.date()
            return t.astimezone(UTC).replace(tzinfo=None), t.date()
    received = submission.received_at or datetime.now(UTC).replace(tzinfo=None)
    return received, received.date()


def _records_household(root) -> bool:
    for el in root.iter():
        if _local(el.tag) == "entity" and el.get("dataset") == "households":
            return True
    return False


def _old_visit_of_edit(submission: Submission) -> VisitRow | None:
    if not submission.deprecated_id:
        return None
    return db.session.scalar(
        sa.select(VisitRow)
        .join(Submission, Submission.id == VisitRow.submission_id)
        .where(Submission.instance_id == submission.deprecated_id)
    )


def process(submission: Submission, xml: bytes) -> None:
    """Create or update the submission's Visit and refresh its building's coverage."""
    try:
        root = parse_instance(xml)
    except InstanceError:
        return  # ingest rejects malformed XML; nothing to derive
    touched: set[tuple[int, int]] = set()
    old = _old_visit_of_edit(submission)
    if old is not None:
        if old.building_id and old.round_id:
            touched.add((old.building_id, old.round_id))
        db.session.delete(old)
    visit = db.session.scalar(sa.select(VisitRow).where(VisitRow.submission_id == submission.id))
    if visit is not None and visit.building_id and visit.round_id:
        touched.add((visit.building_id, visit.round_id))
    if submission.superseded:  # replayed after its edit: the edit's visit counts
        if visit is not None:
            db.session.delete(visit)
        db.session.flush()
        _refresh(touched)
        return

    fields = _fields(root)
    chosen_value = next((fields[f] for f in BUILDING_FIELDS if f in fields), None)
    chosen = resolve_building(chosen_value)
    lon, lat, acc = _geotag(submission, root)
    outcome = fields.get("outcome", "done")
    household = _records_household(root)
    if outcome not in OUTCOMES:
        outcome = "done"
    units = 0
    if household and outcome in ("done", "vacant"):
        outcome, units = "done", 1
    when, day = _time(fields, submission)
    rnd = coverage.round_for(day)

    if visit is None:
        visit = VisitRow(submission_id=submission.id)
        db.session.add(visit)
    index = coverage.index()
    if chosen is not None and not _known(index, chosen):
        coverage.buildings_changed()  # a building added since the index was built
        index = coverage.index()
    match = index.match(Visit(submission.id, chosen, lon, lat, acc, outcome, units, round=None))
    flags = list(coverage.match_flags(match))
    if chosen_value and chosen is None:
        flags.append("unknown_building")
    if lon is None:
        flags.append("no_geotag")
    visit.round_id = rnd.id if rnd is not None else None
    visit.coordinator_id = submission.submitter_id
    visit.chosen_building_id = chosen
    visit.building_id = None if match.building_id is None else int(match.building_id)
    visit.lon, visit.lat, visit.gps_accuracy = lon, lat, acc
    visit.distance_m = match.distance_m
    visit.outcome, visit.units_recorded, visit.flags = outcome, units, flags
    visit.visited_at = when
    db.session.flush()
    if visit.building_id and visit.round_id:
        touched.add((visit.building_id, visit.round_id))
    _refresh(touched)


def _known(index, building_id: int) -> bool:
    ids = index.buildings.ids
    pos = int(np.searchsorted(ids, building_id))
    return pos < len(ids) and int(ids[pos]) == building_id


def _refresh(touched: set[tuple[int, int]]) -> None:
    for building_id, round_id in sorted(touched):
        coverage.refresh_building(building_id, round_id)


register_processor("visits", process)
