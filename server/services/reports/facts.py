"""What the plan's numbers are counted from, read once per round: the visits and the
submissions of visits summed per street, person and day by the roll-up (daysums.py, kept by
server/services/coverage/report_days.py), the few submissions it leaves out and the returned ones
one by one with their reviews, the register's versions and held registrations (kept per process
until the register's token moves: server/services/register/stamp.py).

Every fact carries its **day** in the township's zone: a visit's day is the form's start
(server/services/coverage/visits.py), a submission's day is its visit's, and a register version's
day is the day of the submission that wrote it (else when it was written). So a register replayed
or a correction sent later still counts on the day the coordinator met the household, and a
period's figures do not move when the server re-derives them. Each fact also carries the street
it belongs to: a visit its building's, a submission its visit's building's (else the street of
the records it wrote), a version its record's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import (
    Area,
    AuditEvent,
    Building,
    Entity,
    EntityVersion,
    RegisterConflict,
    Round,
    Submission,
    Visit,
)
from server.models.submissions import RETURNED_STATES
from server.services.coverage import counts, rollup_stamp, rounds
from server.services.register import stamp as register_stamp
from server.services.register.residence import DEPARTED
from server.services.reports import daysums


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
    instance_id: str = ""

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
    sizes: dict[int | None, int]  # buildings per street of the round (None: of no street)
    visits: tuple[daysums.Rows, daysums.Rows]  # visits, suspect: per street, per coordinator
    firsts: tuple[daysums.Rows, daysums.Rows]  # counted visits with the previous one's day
    sums: tuple[daysums.Rows, daysums.Rows]  # submissions approved, reviewed (placed ones)
    submissions: list[SubmissionFact]  # of no street of the round by their visit: counted whole
    returned: list[SubmissionFact]  # the placed ones returned: their returns and corrections
    versions: list[VersionFact]  # up to the round's last day, every one before it included
    # held registrations: (day, street, how many, how many of them still open)
    conflicts: list[tuple[date, int | None, int, int]]
    derived: dict = field(default_factory=dict, repr=False)  # what the tallies build once

    @property
    def buildings(self) -> dict[int, tuple[int | None, int | None]]:
        """id -> (street id, expected units) of the round's buildings (read when asked)."""
        found = self.derived.get("buildings")
        if found is None:
            in_round = self.derived["in_round"]
            found = self.derived["buildings"] = {
                b_id: (street, units) for b_id, street, units in db.session.execute(
                    sa.select(Building.id, Building.street_id, Building.expected_units))
                if in_round is None or street in in_round}
        return found


def load(rnd: Round) -> Facts:
    """Everything the round's figures need: visits and submissions summed by the database
    per street, person and day (daysums.py), the few others one by one."""
    span = rounds.span(rnd.id)
    codes = span.streets if span is not None else None
    street_rows = db.session.execute(
        sa.select(Area.id, Area.code).where(Area.level == "street")).all()
    streets = {i: c for i, c in street_rows if codes is None or c in codes}
    in_round = None if codes is None else set(streets)
    totals = counts.street_totals()[1]
    sizes: dict[int | None, int] = {
        s: int(totals[s]) for s in sorted(streets) if 0 < s < len(totals) and totals[s]}
    if in_round is None and len(totals) and totals[0]:
        sizes[None] = int(totals[0])
    visits, firsts, sums = daysums.visit_rows(  # (kept, moved by the roll-up's moves)
        rnd.id, rnd.starts_on, rnd.ends_on, streets, in_round)
    submissions = _submissions(rnd, streets, in_round)
    returned = _returned(daysums.returned_ids(rnd.starts_on, rnd.ends_on, in_round), streets)
    _reviews(submissions + returned)
    versions, conflicts = register_stamp.STAMP.kept(  # read again after the register changed
        ("register_facts", rnd.id, rnd.ends_on, None if in_round is None else tuple(
            sorted(in_round))),
        lambda: (_versions(rnd, in_round), _conflicts(in_round)),
        rollup_stamp.STAMP)  # (and after a visit's day moved: the roll-ups' token)
    return Facts(rnd, streets, sizes, visits, firsts, sums, submissions, returned, versions,
                 conflicts, {"in_round": in_round})


def _conflicts(in_round: set[int] | None) -> list[tuple[date, int | None, int, int]]:
    """Held registrations counted per (day, street) by the database, and how many of them are
    still open: dated by the visit of the submission that was held, else (no visit) when it
    was held, in the township's zone."""
    still_open = sa.case((RegisterConflict.state == "open", 1), else_=0)

    def held(*columns) -> sa.Select:
        return (sa.select(*columns).select_from(RegisterConflict)
                .join(Entity, Entity.id == RegisterConflict.entity_id)
                .outerjoin(Visit, Visit.submission_id == RegisterConflict.submission_id))

    dated = (held(Visit.visited_on, Entity.area_id, sa.func.count(), sa.func.sum(still_open))
             .where(Visit.visited_on.is_not(None)).group_by(Visit.visited_on, Entity.area_id))
    undated = held(RegisterConflict.created_at, Entity.area_id, still_open).where(
        Visit.visited_on.is_(None))
    rows = [*db.session.execute(dated), *(
        (localtime.local_date(at), area, 1, is_open)
        for at, area, is_open in db.session.execute(undated))]
    return [(day, area, n, int(opened)) for day, area, n, opened in rows
            if in_round is None or area in in_round]


def _submissions(rnd: Round, streets: dict[int, str], in_round: set[int] | None
                 ) -> list[SubmissionFact]:
    """Submissions whose day falls in the round that the roll-up does not sum (no visit; a
    visit of no building, no round or no stored day; a building of no street of the round), in
    its streets (or of no street). One query per case, each one found through an index."""
    first, last = rnd.starts_on, rnd.ends_on
    received = sa.and_(Submission.received_at >= localtime.utc_start_of(first),
                       Submission.received_at < localtime.utc_end_of(last))
    cols = (Submission.id, Submission.instance_id, Submission.submitter_id,
            Submission.review_state, Submission.superseded, Submission.received_at,
            Visit.visited_on, Building.street_id)
    building = sa.func.coalesce(Visit.building_id, Visit.chosen_building_id)
    no_visit = (sa.select(*cols).select_from(Submission)
                .outerjoin(Visit, Visit.submission_id == Submission.id)
                .outerjoin(Building, Building.id == building)
                .where(Submission.draft.is_(False), Visit.id.is_(None)))
    # A processed submission has its visit unless an edit replaced it (the visits step): the
    # ones without are among those two few sets, each found by its own index (the replaced
    # ones' received range checked here: SQLite would read the round's range by its index)
    not_processed = no_visit.where(Submission.processing_state.in_(("pending", "error")),
                                   received)
    replaced = no_visit.where(Submission.superseded == sa.true())  # ix_submissions_superseded
    since, until = localtime.utc_start_of(first), localtime.utc_end_of(last)
    of_visit = (sa.select(*cols).select_from(Visit)
                .join(Submission, Submission.id == Visit.submission_id)
                .outerjoin(Building, Building.id == building)
                .where(Submission.draft.is_(False), sa.or_(
                    Visit.visited_on.between(first, last),
                    sa.and_(Visit.visited_on.is_(None), received))))
    cases = [Visit.building_id.is_(None), Visit.round_id.is_(None), Visit.visited_on.is_(None)]
    off = sa.select(Building.id).where(Building.street_id.is_(None))  # few: by its index
    others = [] if in_round is None else sorted(db.session.scalars(sa.select(Area.id).where(
        Area.level == "street", Area.id.not_in(sorted(in_round)))))
    if others:  # the streets of no round's (by the street index, not a scan of buildings)
        off = off.union_all(sa.select(Building.id).where(Building.street_id.in_(others)))
    rows = list(db.session.execute(not_processed)) + [
        row for row in db.session.execute(replaced) if since <= row.received_at < until]
    off_ids = sorted(db.session.scalars(off))
    for i in range(0, len(off_ids), 500):
        rows += db.session.execute(
            of_visit.where(Visit.building_id.in_(off_ids[i:i + 500]))).all()
    for case in cases:
        rows += db.session.execute(of_visit.where(case)).all()
    found: dict[int, SubmissionFact] = {}
    for sub, inst, who, review, superseded, received, day, street in rows:
        fact = SubmissionFact(sub, day or localtime.local_date(received), who, review,
                              superseded, street if street in streets else None)
        fact.instance_id = inst
        found[sub] = fact
    _locate_by_records(found)
    return [s for s in found.values()
            if s.street_id is None or in_round is None or s.street_id in in_round]


def _returned(ids: list[int], streets: dict[int, str]) -> list[SubmissionFact]:
    """The returned submissions daysums.py summed, one by one (their street and submitter)."""
    out = []
    building = sa.func.coalesce(Visit.building_id, Visit.chosen_building_id)
    for i in range(0, len(ids), 500):
        for sub, inst, who, review, superseded, day, street in db.session.execute(
            sa.select(Submission.id, Submission.instance_id, Submission.submitter_id,
                      Submission.review_state, Submission.superseded, Visit.visited_on,
                      Building.street_id)
            .join(Visit, Visit.submission_id == Submission.id)
            .join(Building, Building.id == building)
            .where(Submission.id.in_(ids[i:i + 500]))):
            fact = SubmissionFact(sub, day, who, review, superseded, street)
            fact.instance_id = inst
            out.append(fact)
    return out


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


def _reviews(subs: list[SubmissionFact]) -> None:
    """When each was sent back (the audit log of review decisions) and when its correction
    (a newer submission naming it as deprecatedID) arrived: read for these submissions only."""
    found = {s.id: s for s in subs}
    instance = {s.instance_id: s.id for s in subs}
    ids, names = [str(i) for i in found], list(instance)
    for i in range(0, len(ids), 500):
        for object_id, at, detail in db.session.execute(
            sa.select(AuditEvent.object_id, AuditEvent.at, AuditEvent.detail).where(
                AuditEvent.action == "submission.review", AuditEvent.object_type == "submission",
                AuditEvent.object_id.in_(ids[i:i + 500])).order_by(AuditEvent.id)):
            sub = found.get(int(object_id)) if object_id.isdigit() else None
            if sub is not None and (detail or {}).get("new") in RETURNED_STATES:
                sub.returned_at.append(at)
    for i in range(0, len(names), 500):
        for replaced, at in db.session.execute(
            sa.select(Submission.deprecated_id, sa.func.min(Submission.received_at))
            .where(Submission.deprecated_id.in_(names[i:i + 500]), Submission.draft.is_(False))
            .group_by(Submission.deprecated_id)):
            sub = found.get(instance.get(replaced, -1))
            if sub is not None:
                sub.corrected_at = at


def _versions(rnd: Round, in_round: set[int] | None) -> list[VersionFact]:
    rows = db.session.execute(
        sa.select(EntityVersion.entity_id, Entity.dataset, EntityVersion.version,
                  sa.case((EntityVersion.properties["status"].as_string() == DEPARTED, True),
                          else_=False),  # read by the database: no JSON decoded per version
                  EntityVersion.created_at, Entity.area_id,
                  Submission.submitter_id, Submission.received_at, Visit.visited_on)
        .join(Entity, Entity.id == EntityVersion.entity_id)
        .outerjoin(Submission, Submission.id == EntityVersion.submission_id)
        .outerjoin(Visit, Visit.submission_id == EntityVersion.submission_id)
        .where(Entity.dataset.in_(("households", "persons")), Entity.deleted.is_(False))
        .order_by(EntityVersion.entity_id, EntityVersion.version))
    out = []
    for entity, dataset, version, departed, created, area, who, received, visited in rows:
        if in_round is not None and area not in in_round:
            continue
        day = visited or localtime.local_date(received or created)
        if day <= rnd.ends_on:
            out.append(VersionFact(entity, dataset, version, day, bool(departed), area, who))
    return out
