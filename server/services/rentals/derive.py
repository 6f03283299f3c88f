"""The rental-housing register derived from the register's households: units, landlords,
inspections and the rules each unit breaks (server.services.rentals.rules).

A household is a rented unit when the household form recorded it as rented or a rental
inspection wrote to it (the inspection's `last_inspection`). Everything here is derived, so it
is rebuilt, never edited: the pipeline's "rentals" step (after "entities") re-derives the units
a submission's households touched, and `doorstep rentals rebuild` re-derives every unit (after
the standard MIN_FLOOR_AREA_PER_TENANT_M2 or the rules change). Both call `derive_unit`, a
function of the household's versions alone, so either way gives the same register. Only
rectifications (server.services.rentals.rectifications) are kept across a rebuild: they name a
household's uuid and a rule's code, not a derived row.

One landlord record links all their units: found by resident ID number, else by name and phone
(a record found by name and phone gains the ID number when an inspection records it); a name
alone identifies nobody, so such a landlord stands for that unit only.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from server import localtime
from server.extensions import db
from server.models import (
    Entity,
    EntityVersion,
    FormVersion,
    RentalInspection,
    RentalLandlord,
    RentalUnit,
    Submission,
)
from server.models._types import utcnow
from server.services import step_batch
from server.services.register import lookups
from server.services.register.residence import normalise_id
from server.services.rentals import rules
from server.services.step_batch import Batch

#: The households property only a rental inspection writes: its day.
INSPECTION_MARK = "last_inspection"
DATASET = "households"
_INSPECTION_FORMS: dict[tuple[int, str], bool] = {}  # (version id, md5) -> writes the mark


def is_unit(props: dict[str, Any]) -> bool:
    """A household is a rented unit: rented where it lives, or inspected as a rental."""
    return props.get("tenure") == rules.RENTED or bool(props.get(INSPECTION_MARK))


def minimum_area() -> float:
    return float(current_app.config["MIN_FLOOR_AREA_PER_TENANT_M2"])


# --- the pipeline step and the rebuild ---------------------------------------------------


def apply_submission(submission: Submission, _xml: bytes) -> None:
    """The pipeline's "rentals" step: re-derive the units whose households it changed (in a
    batch, once each when the batch finishes: `derive_unit` depends on the household alone)."""
    group = step_batch.current()
    if group is not None and group.has(NAME):
        return
    touched = db.session.scalars(
        sa.select(Entity).join(EntityVersion, EntityVersion.entity_id == Entity.id)
        .where(EntityVersion.submission_id == submission.id, Entity.dataset == DATASET)
        .distinct().order_by(Entity.id))
    for household in touched:
        derive_unit(household)


NAME = "rentals"  # the step's state in a batch: households written before it, by submission


def prepare_batch(group: Batch) -> None:
    """The households the batch's submissions wrote before (a replay), in one query."""
    written: dict[int, list[Entity]] = {}
    ids = [sub.id for sub in group.subs]
    for start in range(0, len(ids), 500):
        for submission_id, household in db.session.execute(
            sa.select(EntityVersion.submission_id, Entity)
            .join(EntityVersion, EntityVersion.entity_id == Entity.id)
            .where(EntityVersion.submission_id.in_(ids[start:start + 500]),
                   Entity.dataset == DATASET).distinct().order_by(Entity.id)):
            written.setdefault(submission_id, []).append(household)
    group.state(NAME, lambda: written)


def finish_batch(group: Batch) -> None:
    """Re-derive each household the batch's submissions wrote, once, in the order of the last
    submission that wrote it; a household that is no unit and had none costs no statement."""
    written = group.state(NAME, dict)
    found = group.state(lookups.NAME, lookups.Lookups).households
    db.session.flush()
    last: dict[Entity, int] = {}
    for k, (sub, _xml) in enumerate(group.items):
        for household in sorted({*written.get(sub.id, ()), *found.get(sub.id, ())},
                                key=lambda h: h.id):
            last.pop(household, None)
            last[household] = k
    if not last:
        return
    ids = [h.id for h in last]
    units = set()
    for start in range(0, len(ids), 500):
        units.update(db.session.scalars(sa.select(RentalUnit.entity_id).where(
            RentalUnit.entity_id.in_(ids[start:start + 500]))))
    for household in last:
        if household.id in units or (not household.deleted
                                     and is_unit(household.properties or {})):
            derive_unit(household)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    units: int
    landlords: int
    violations: int


def rebuild(batch: int = 500) -> Rebuilt:
    """Re-derive every unit from the register (rectifications stay); commits per batch."""
    last_id = 0
    while True:
        households = db.session.scalars(
            sa.select(Entity).where(Entity.dataset == DATASET, Entity.id > last_id)
            .order_by(Entity.id).limit(batch)).all()
        if not households:
            break
        for household in households:
            derive_unit(household)
        last_id = households[-1].id
        db.session.commit()
    _drop_orphans()
    db.session.commit()
    return Rebuilt(
        units=db.session.scalar(sa.select(sa.func.count(RentalUnit.id))),
        landlords=db.session.scalar(sa.select(sa.func.count(RentalLandlord.id))),
        violations=db.session.scalar(sa.select(sa.func.coalesce(
            sa.func.sum(RentalUnit.violation_count), 0))))


# --- one unit -----------------------------------------------------------------------------


def derive_unit(household: Entity) -> RentalUnit | None:
    """The unit a household is (or None, and its old unit removed, when it is not one)."""
    unit = db.session.scalar(sa.select(RentalUnit).where(RentalUnit.entity_id == household.id))
    props = household.properties or {}
    old_landlord = unit.landlord if unit is not None else None
    if household.deleted or not is_unit(props):
        if unit is not None:
            db.session.delete(unit)
            db.session.flush()
            _drop_if_orphan(old_landlord)
        return None
    if unit is None:
        unit = RentalUnit(entity_id=household.id, household_uuid=household.uuid)
        db.session.add(unit)
    minimum = minimum_area()
    history, inspections = _history(household, minimum)
    found = rules.facts(props)
    current = rules.violations(found, minimum)
    unit.household_uuid = household.uuid
    unit.label = household.label or ""
    unit.area_id, unit.building_id = household.area_id, household.building_id
    unit.tenure = found.tenure
    unit.floor_area, unit.occupants = found.floor_area, found.occupants
    unit.area_per_tenant = found.area_per_tenant
    unit.rooms = " ".join(sorted(found.rooms))[:256] or None
    unit.contract_filed = found.contract_filed
    unit.contract_number = _text(props.get("contract_number"), 64)
    unit.contract_lessee = _text(props.get("contract_lessee"), 128)
    unit.contract_start = rules.parse_date(props.get("contract_start"))
    unit.contract_end = found.contract_end
    unit.last_inspection = found.inspected_on
    unit.violations = {code: {"since": history.get(code, ""), "detail": detail}
                       for code, detail in current.items()}
    unit.violation_count = len(current)
    unit.updated_at = utcnow()
    unit.landlord = resolve_landlord(props.get("landlord_name"), props.get("landlord_phone"),
                                     props.get("landlord_id_number"), household.uuid)
    if unit.id is not None:  # replaced whole: delete first (one row per submission)
        db.session.execute(sa.delete(RentalInspection).where(RentalInspection.unit_id == unit.id))
        db.session.expire(unit, ["inspections"])
    unit.inspections = [RentalInspection(**row) for row in inspections]
    db.session.flush()
    if old_landlord is not None and old_landlord is not unit.landlord:
        _drop_if_orphan(old_landlord)
    return unit


def _history(household: Entity, minimum: float) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Each broken rule's first day in its current run, and the household's inspections (the
    versions an inspection form wrote) with what each found; days are the submissions'."""
    versions = db.session.execute(
        sa.select(EntityVersion.properties, EntityVersion.created_at, Submission.id,
                  Submission.received_at, Submission.form_version_id, FormVersion.md5,
                  Submission.superseded)
        .outerjoin(Submission, Submission.id == EntityVersion.submission_id)
        .outerjoin(FormVersion, FormVersion.id == Submission.form_version_id)
        .where(EntityVersion.entity_id == household.id).order_by(EntityVersion.version)).all()
    since: dict[str, str] = {}
    inspections: dict[int | None, dict[str, Any]] = {}
    for props, created_at, submission_id, received_at, version_id, md5, replaced in versions:
        moment: datetime = received_at or created_at
        day = localtime.local_date(moment)
        inspected = submission_id is not None and _is_inspection_form(version_id, md5)
        if inspected:  # an inspection's day is the one it records
            day = rules.parse_date((props or {}).get(INSPECTION_MARK)) or day
        codes = rules.violations(rules.facts(props or {}), minimum)
        since = {code: since.get(code, day.isoformat()) for code in codes}
        if inspected and not replaced:
            inspections[submission_id] = {
                "submission_id": submission_id, "inspected_on": day,
                "received_at": moment, "violations": list(codes)}
    return since, list(inspections.values())


def _is_inspection_form(version_id: int | None, md5: str | None) -> bool:
    """Whether a form version writes the inspection's mark to households (a form version's
    declarations never change, so the answer is kept)."""
    if version_id is None:
        return False
    key = (version_id, md5 or "")
    if key not in _INSPECTION_FORMS:
        if len(_INSPECTION_FORMS) > 256:
            _INSPECTION_FORMS.clear()
        declared = db.session.scalar(sa.select(FormVersion.entities)
                                     .where(FormVersion.id == version_id)) or []
        _INSPECTION_FORMS[key] = any(
            d.get("dataset") == DATASET and INSPECTION_MARK in (d.get("properties") or {})
            for d in declared)
    return _INSPECTION_FORMS[key]


def _text(value: Any, limit: int) -> str | None:
    text = str(value or "").strip()
    return text[:limit] or None


# --- landlords ----------------------------------------------------------------------------


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def resolve_landlord(name: Any, phone: Any, id_number: Any, household_uuid: str
                     ) -> RentalLandlord | None:
    """The landlord record for a unit: by ID number, else by name and phone, else one of its
    own (a name alone); None when the unit names no landlord at all."""
    name = (_text(name, 128) or "")
    phone = _digits(phone)[:32] or None
    number = normalise_id(str(id_number or ""))[:32] or None
    if not name and number is None and phone is None:
        return None
    found = None
    if number is not None:
        found = _one(RentalLandlord.id_number == number)
    if found is None and phone:
        found = _one(RentalLandlord.name == name, RentalLandlord.phone == phone,
                     identified_too=number is None)
    key = f"id:{number}" if number else (f"np:{name}|{phone}" if phone
                                         else f"unit:{household_uuid}")
    if found is None:
        found = db.session.scalar(sa.select(RentalLandlord).where(RentalLandlord.key == key))
    if found is None:
        found = RentalLandlord(ref=uuidlib.uuid4().hex, key=key, name=name)
        db.session.add(found)
    elif number is not None and found.id_number is None:
        found.key = key  # identified now: the ID number becomes its key
    if number is not None:
        found.id_number = number
    found.name = name or found.name
    found.phone = phone or found.phone
    found.updated_at = utcnow()
    db.session.flush()
    return found


def _one(*where: Any, identified_too: bool = False) -> RentalLandlord | None:
    """The first landlord matching, identified ones first; `identified_too` False: only one
    without an ID number (an ID number may claim a record that has none, not another's)."""
    query = sa.select(RentalLandlord).where(*where)
    if not identified_too:
        query = query.where(RentalLandlord.id_number.is_(None))
    order = (RentalLandlord.id_number.is_(None), RentalLandlord.id)
    return db.session.scalar(query.order_by(*order).limit(1))


def _drop_if_orphan(landlord: RentalLandlord | None) -> None:
    if landlord is None or sa.inspect(landlord).deleted:
        return
    has_units = db.session.scalar(sa.select(sa.exists().where(
        RentalUnit.landlord_id == landlord.id)))
    if not has_units:
        db.session.delete(landlord)
        db.session.flush()


def _drop_orphans() -> None:
    db.session.execute(sa.delete(RentalLandlord).where(~sa.exists().where(
        RentalUnit.landlord_id == RentalLandlord.id)))
