"""The reports' figures recounted from scratch, one Python object per visit, submission and
register version: the code the report pages ran before the roll-up (server/services/coverage/
report_days.py), kept here as the reference the roll-up's answers are compared with
(tests/reports/test_report_days.py).

What follows is the original module's description, still true of this recount:

Every fact carries its **day** in the township's zone: a visit's day is the form's start
(server/services/coverage/visits.py), a submission's day is its visit's, and a register version's
day is the day of the submission that wrote it (else when it was written). So a register replayed
or a correction sent later still counts on the day the coordinator met the household, and a
period's figures do not move when the server re-derives them. Each fact also carries the street
it belongs to: a visit its building's, a submission its visit's building's (else the street of
the records it wrote), a version its record's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from gis.states import STATES
from server import localtime
from server.extensions import db
from server.models import (
    Area,
    AuditEvent,
    Building,
    Entity,
    EntityVersion,
    FormVersion,
    RegisterConflict,
    Round,
    RoundForm,
    Submission,
    Visit,
)
from server.models.submissions import RETURNED_STATES
from server.services.coverage import day_moves, rounds
from server.services.coverage.store import suspect_column
from server.services.register.residence import DEPARTED
from server.services.reports.metrics import Counts

_UNVISITED, _COMPLETE = STATES.index("unvisited"), STATES.index("complete")


@dataclass(frozen=True, slots=True)
class VisitFact:
    submission_id: int
    building_id: int | None
    street_id: int | None
    day: date
    outcome: str
    units: int
    suspect: bool  # far from its building or GPS too poor
    counted: bool  # not rejected, not replaced, from a form the round counts
    superseded: bool
    coordinator_id: int | None


@dataclass(slots=True)
class SubmissionFact:
    id: int
    day: date
    submitter_id: int | None
    review_state: str
    superseded: bool
    street_id: int | None
    returned_at: list[datetime] = field(default_factory=list)  # each time it was sent back
    corrected_at: datetime | None = None  # when its correction (an edit) arrived

    def correction_hours(self) -> float | None:
        """Hours from the last return before the correction to the correction's arrival."""
        if self.corrected_at is None:
            return None
        before = [t for t in self.returned_at if t <= self.corrected_at]
        if not before:
            return None
        return (self.corrected_at - max(before)).total_seconds() / 3600


@dataclass(frozen=True, slots=True)
class VersionFact:
    entity_id: int
    dataset: str  # households or persons
    version: int
    day: date
    departed: bool
    street_id: int | None
    submitter_id: int | None


@dataclass
class Facts:
    round: Round
    streets: dict[int, str]  # the round's streets: id -> code
    buildings: dict[int, tuple[int | None, int | None]]  # id -> (street id, expected units)
    visits: list[VisitFact]
    submissions: list[SubmissionFact]
    versions: list[VersionFact]  # up to the round's last day, every one before it included
    conflicts: list[tuple[date, int | None]]  # held registrations: (day opened, street id)
    derived: dict = field(default_factory=dict, repr=False)  # what the tallies build once


def load(rnd: Round) -> Facts:
    """Everything the round's figures need, in a handful of queries."""
    span = rounds.span(rnd.id)
    codes = span.streets if span is not None else None
    street_rows = db.session.execute(
        sa.select(Area.id, Area.code).where(Area.level == "street")).all()
    streets = {i: c for i, c in street_rows if codes is None or c in codes}
    in_round = None if codes is None else set(streets)
    buildings = {
        b_id: (street, units) for b_id, street, units in db.session.execute(
            sa.select(Building.id, Building.street_id, Building.expected_units))
        if in_round is None or street in in_round
    }
    visits = _visits(rnd, buildings)
    submissions = _submissions(rnd, buildings, in_round)
    versions = _versions(rnd, in_round)
    conflicts = [  # dated by the submission that was held (else when it was held)
        (day or localtime.local_date(at), area) for at, day, area in db.session.execute(
            sa.select(RegisterConflict.created_at, Visit.visited_on, Entity.area_id)
            .join(Entity, Entity.id == RegisterConflict.entity_id)
            .outerjoin(Visit, Visit.submission_id == RegisterConflict.submission_id))
        if in_round is None or area in in_round
    ]
    return Facts(rnd, streets, buildings, visits, submissions, versions, conflicts)


def _visits(rnd: Round, buildings: dict) -> list[VisitFact]:
    forms = set(db.session.scalars(sa.select(RoundForm.form_id).where(
        RoundForm.round_id == rnd.id)))
    rows = db.session.execute(
        sa.select(Visit.submission_id, Visit.building_id, Visit.chosen_building_id,
                  Visit.visited_on, Visit.visited_at, Visit.outcome, Visit.units_recorded,
                  suspect_column(), Visit.coordinator_id, Submission.review_state,
                  Submission.superseded, FormVersion.form_id)
        .join(Submission, Submission.id == Visit.submission_id)
        .join(FormVersion, FormVersion.id == Submission.form_version_id)
        .where(Visit.round_id == rnd.id, Submission.draft.is_(False)))
    out = []
    for (sub, building, chosen, day, at, outcome, units, suspect, who, review, superseded,
         form) in rows:  # suspect: read from the flags' JSON text (no list decoded per visit)
        street = buildings.get(building if building is not None else chosen, (None,))[0]
        counted = (review != "rejected" and not superseded and building is not None
                   and (not forms or form in forms))
        out.append(VisitFact(sub, building, street, day or localtime.local_date(at), outcome,
                             units or 0, bool(suspect),
                             counted, superseded, who))
    return out


def _submissions(rnd: Round, buildings: dict, in_round: set[int] | None) -> list[SubmissionFact]:
    """Submissions whose day falls in the round, in its streets (or of no street)."""
    first, last = rnd.starts_on, rnd.ends_on
    rows = db.session.execute(
        sa.select(Submission.id, Submission.instance_id, Submission.submitter_id,
                  Submission.review_state, Submission.superseded, Submission.received_at,
                  Visit.visited_on, Visit.building_id, Visit.chosen_building_id)
        .outerjoin(Visit, Visit.submission_id == Submission.id)
        .where(Submission.draft.is_(False))
        .where(sa.or_(
            Visit.visited_on.between(first, last),
            sa.and_(Visit.visited_on.is_(None),
                    Submission.received_at >= localtime.utc_start_of(first),
                    Submission.received_at < localtime.utc_end_of(last)))))
    found: dict[int, SubmissionFact] = {}
    instance: dict[str, int] = {}
    for sub, inst, who, review, superseded, received, day, building, chosen in rows:
        b = building if building is not None else chosen
        street = buildings.get(b, (None,))[0] if b is not None else None
        found[sub] = SubmissionFact(sub, day or localtime.local_date(received), who, review,
                                    superseded, street)
        instance[inst] = sub
    _locate_by_records(found)
    _reviews(found, instance)
    return [s for s in found.values()
            if s.street_id is None or in_round is None or s.street_id in in_round]


def _locate_by_records(found: dict[int, SubmissionFact]) -> None:
    """A submission that visited no building (a departure) belongs to its records' street."""
    unplaced = [s.id for s in found.values() if s.street_id is None]
    for i in range(0, len(unplaced), 500):
        for sub, area in db.session.execute(
            sa.select(EntityVersion.submission_id, Entity.area_id)
            .join(Entity, Entity.id == EntityVersion.entity_id)
            .where(EntityVersion.submission_id.in_(unplaced[i:i + 500]),
                   Entity.area_id.is_not(None))
            .order_by(EntityVersion.id)):
            if found[sub].street_id is None:
                found[sub].street_id = area


def _reviews(found: dict[int, SubmissionFact], instance: dict[str, int]) -> None:
    """When each was sent back (the audit log of review decisions) and when its correction
    (a newer submission naming it as deprecatedID) arrived."""
    for object_id, at, detail in db.session.execute(
        sa.select(AuditEvent.object_id, AuditEvent.at, AuditEvent.detail).where(
            AuditEvent.action == "submission.review", AuditEvent.object_type == "submission")):
        sub = found.get(int(object_id)) if object_id.isdigit() else None
        if sub is not None and (detail or {}).get("new") in RETURNED_STATES:
            sub.returned_at.append(at)
    edits = db.session.execute(
        sa.select(Submission.deprecated_id, sa.func.min(Submission.received_at))
        .where(Submission.deprecated_id.is_not(None), Submission.draft.is_(False))
        .group_by(Submission.deprecated_id))
    for replaced, at in edits:
        sub = found.get(instance.get(replaced, -1))
        if sub is not None:
            sub.corrected_at = at


def _versions(rnd: Round, in_round: set[int] | None) -> list[VersionFact]:
    rows = db.session.execute(
        sa.select(EntityVersion.entity_id, Entity.dataset, EntityVersion.version,
                  EntityVersion.properties, EntityVersion.created_at, Entity.area_id,
                  Submission.submitter_id, Submission.received_at, Visit.visited_on)
        .join(Entity, Entity.id == EntityVersion.entity_id)
        .outerjoin(Submission, Submission.id == EntityVersion.submission_id)
        .outerjoin(Visit, Visit.submission_id == EntityVersion.submission_id)
        .where(Entity.dataset.in_(("households", "persons")), Entity.deleted.is_(False))
        .order_by(EntityVersion.entity_id, EntityVersion.version))
    out = []
    for entity, dataset, version, props, created, area, who, received, visited in rows:
        if in_round is not None and area not in in_round:
            continue
        day = visited or localtime.local_date(received or created)
        if day <= rnd.ends_on:
            out.append(VersionFact(entity, dataset, version, day,
                                   (props or {}).get("status") == DEPARTED, area, who))
    return out


def tally(f: Facts, start: date, end: date, by: str = "street") -> dict[int | None, Counts]:
    """Counts in the window [start, end] per street id (`by="street"`, with the stock figures
    as of `end`) or per coordinator id (`by="coordinator"`)."""
    per: dict[int | None, Counts] = defaultdict(Counts)
    streets = by == "street"
    if streets:
        _coverage_at(f, end, per)
        _register_at(f, end, per)
    seen_buildings: dict[int | None, set[int]] = defaultdict(set)
    for v in f.visits:
        if not start <= v.day <= end or v.superseded or v.building_id is None:
            continue
        key = v.street_id if streets else v.coordinator_id
        per[key].visits += 1
        per[key].suspect_visits += v.suspect
        if v.counted:
            seen_buildings[key].add(v.building_id)
    for key, found in seen_buildings.items():
        per[key].buildings_visited += len(found)
    _flows(f, start, end, streets, per)
    for s in f.submissions:
        if not start <= s.day <= end:
            continue
        c = per[s.street_id if streets else s.submitter_id]
        if s.review_state == "approved":
            c.approved += 1
        if s.review_state != "received":
            c.reviewed += 1
        if s.review_state in RETURNED_STATES:
            c.returned += 1
            if s.corrected_at is not None:
                c.corrected += 1
                hours = s.correction_hours()
                if hours is not None:
                    c.correction_hours.append(hours)
    if streets:
        for day, street in f.conflicts:
            if start <= day <= end:
                per[street].held += 1
    return per


def _coverage_at(f: Facts, end: date, per: dict) -> None:  # (the day counts: not recounted)
    """Each street's buildings visited / complete as of `end` (the coverage state rule applied
    to the round's counted visits up to that day), read from the per-street day counts kept in
    step with the visits (server/services/coverage/timeline.py), not by replaying visits."""
    sizes, visited, complete = _coverage_as_of(f, end)
    for street, n in sizes.items():
        c = per[street]
        c.buildings += n
        row = street or 0  # row 0: buildings without a street
        if row < len(visited):
            c.visited += int(visited[row])
            c.complete += int(complete[row])


def _coverage_as_of(f: Facts, end: date):
    sizes: dict[int | None, int] = defaultdict(int)
    for street, _ in f.buildings.values():
        sizes[street] += 1
    m = day_moves.read(f.round.id)[0].as_of(end)
    return sizes, m.sum(axis=1) - m[:, _UNVISITED], m[:, _COMPLETE]


def _register_at(f: Facts, end: date, per: dict) -> None:
    """Persons living in each street at `end`, and those of them confirmed in the round."""
    last: dict[int, VersionFact] = {}
    confirmed: set[int] = set()
    for v in f.versions:
        if v.dataset != "persons" or v.day > end:
            continue
        if v.entity_id not in last or v.version > last[v.entity_id].version:
            last[v.entity_id] = v
        if v.day >= f.round.starts_on:
            confirmed.add(v.entity_id)
    for entity, v in last.items():
        if not v.departed:
            c = per[v.street_id]
            c.on_register += 1
            c.confirmed += entity in confirmed


def _flows(f: Facts, start: date, end: date, streets: bool, per: dict) -> None:
    """Registered (first version in the window), updated (a later version, not a departure,
    of a record not registered in the window), departed; and, per coordinator, the records
    their submissions touched."""
    was_departed: dict[int, bool] = {}
    marks: dict[tuple[int | None, str, str], set[int]] = defaultdict(set)
    for v in f.versions:  # in (entity, version) order
        before = was_departed.get(v.entity_id, False)
        was_departed[v.entity_id] = v.departed
        if not start <= v.day <= end:
            continue
        key = v.street_id if streets else v.submitter_id
        marks[(key, v.dataset, "touched")].add(v.entity_id)
        if v.version == 1:
            marks[(key, v.dataset, "registered")].add(v.entity_id)
        elif v.departed and not before:
            marks[(key, v.dataset, "departed")].add(v.entity_id)
        elif not v.departed:
            marks[(key, v.dataset, "updated")].add(v.entity_id)
    for (key, dataset, what), ids in marks.items():
        if what == "updated":
            ids = ids - marks.get((key, dataset, "registered"), set())
        name = f"{dataset}_{what}"
        if hasattr(per[key], name):
            setattr(per[key], name, getattr(per[key], name) + len(ids))
