"""The visits step over a whole batch: its lookups read at once, its writes made at once.

`prepare` reads, for every submission of the batch, what server.services.coverage.visits
looks up for one (the rounds' signature, the highest building id, the chosen buildings by code
and by `buildings` entity, the form versions' md5, each submission's visit and the visit of the
submission an edit replaces) in a few queries; each run records its visit's insert, update or
delete here; `finish` writes them in three statements and re-derives every touched building in
one pass (server.services.coverage.refresh `refresh_many`). Buildings and entities the entities
step created or changed earlier in the batch are read from its lookups, so a building found in
the field is visited by its own submission as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from server.extensions import db
from server.models import Building, Entity, FormVersion, Submission
from server.models import Visit as VisitRow
from server.services.coverage import refresh as coverage_refresh
from server.services.coverage import rounds
from server.services.register import lookups
from server.services.step_batch import Batch

NAME = "visits"
CHUNK = 500


@dataclass
class Prepared:
    """The batch's lookups, and the writes its runs collected."""

    signature: tuple = ()
    top_building_id: int | None = None
    codes: dict[str, int] = field(default_factory=dict)  # building code -> id
    entities: dict[str, Entity] = field(default_factory=dict)  # uuid -> entity (live)
    md5: dict[int, str | None] = field(default_factory=dict)  # form version -> md5
    visits: dict[int, tuple] = field(default_factory=dict)  # submission -> (id, building, round)
    priors: dict[str, int] = field(default_factory=dict)  # deprecatedID -> submission id
    inserts: dict[int, dict] = field(default_factory=dict)  # submission id -> values
    updates: dict[int, dict] = field(default_factory=dict)  # visit id -> values
    deletes: set[int] = field(default_factory=set)
    touched: set[tuple[int, int]] = field(default_factory=set)
    reads: dict[int, object] = field(default_factory=dict)  # submission -> its fields (visits)
    # submission -> (index, the inputs it was matched with, its match): visits._match_rest
    matched: dict[int, tuple] = field(default_factory=dict)

    def visit_of(self, submission_id: int | None) -> tuple | None:
        """(id, building, round) of a submission's visit as the batch left it; the id of one
        the batch is about to insert is ("new", submission id)."""
        if submission_id is None:
            return None
        if submission_id in self.inserts:
            v = self.inserts[submission_id]
            return ("new", submission_id), v["building_id"], v["round_id"]
        found = self.visits.get(submission_id)
        return None if found is None or found[0] in self.deletes else found

    def delete(self, visit_id) -> None:
        if isinstance(visit_id, tuple):
            self.inserts.pop(visit_id[1], None)
        else:
            self.deletes.add(visit_id)
            self.updates.pop(visit_id, None)

    def building(self, chosen: str) -> int | None:
        """The chosen building's id: by code, else by a `buildings` entity's id."""
        made = lookups.current()
        if made is not None and (b := made.buildings.get(chosen)) is not None and b.id:
            return b.id
        if chosen in self.codes:
            return self.codes[chosen]
        entity = (made.entities.get(chosen) if made is not None else None) \
            or self.entities.get(chosen)
        return entity.building_id if entity is not None else None

    def top(self) -> int | None:
        made = lookups.current()
        ids = [b.id for b in (made.buildings.values() if made is not None else ())
               if b is not None and b.id is not None]
        return max([*ids, self.top_building_id or 0]) or self.top_building_id


def current(group: Batch | None) -> Prepared | None:
    return group.state(NAME, Prepared) if group is not None and group.has(NAME) else None


def prepare(group: Batch, chosen_of: Callable[[Submission], str | None]) -> None:
    """The batch's lookups: `chosen_of` reads a submission's chosen building (None: none)."""
    found = Prepared()
    session = db.session
    row = session.execute(sa.select(*rounds.signature_columns(),
                                    sa.select(sa.func.max(Building.id)).scalar_subquery())).one()
    found.signature, found.top_building_id = tuple(row[:3]), row[3]
    chosen = {c for c in map(chosen_of, group.subs) if c}
    versions = {sub.form_version_id for sub in group.subs}
    edits = {sub.deprecated_id for sub in group.subs if sub.deprecated_id}
    ids = [sub.id for sub in group.subs]
    for part in lookups.chunks(chosen):
        found.codes.update(session.execute(
            sa.select(Building.code, Building.id).where(Building.code.in_(part))).all())
        found.entities.update((e.uuid, e) for e in session.scalars(
            sa.select(Entity).where(Entity.uuid.in_(part))))
    for part in lookups.chunks(versions):
        found.md5.update(session.execute(
            sa.select(FormVersion.id, FormVersion.md5).where(FormVersion.id.in_(part))).all())
    for part in lookups.chunks(edits):
        found.priors.update(session.execute(
            sa.select(Submission.instance_id, Submission.id)
            .where(Submission.instance_id.in_(part)).order_by(Submission.id.desc())).all())
    wanted = ids + [found.priors[e] for e in edits if e in found.priors]
    for part in lookups.chunks(wanted):
        for sub_id, visit_id, building_id, round_id in session.execute(
            sa.select(VisitRow.submission_id, VisitRow.id, VisitRow.building_id,
                      VisitRow.round_id).where(VisitRow.submission_id.in_(part))):
            found.visits[sub_id] = (visit_id, building_id, round_id)
    group.state(NAME, lambda: found)


def finish(group: Batch) -> None:
    """The batch's visits written (deletes, updates, inserts), then its buildings refreshed."""
    found = current(group)
    if found is None:
        return
    table = VisitRow.__table__
    conn = db.session.connection()
    if found.deletes:
        conn.execute(sa.delete(table).where(table.c.id.in_(sorted(found.deletes))))
    if found.updates:
        conn.execute(table.update().where(table.c.id == sa.bindparam("vid")),
                     [{"vid": vid, **values} for vid, values in found.updates.items()])
    if found.inserts:
        conn.execute(table.insert(), [{"submission_id": sub_id, **values}
                                      for sub_id, values in found.inserts.items()])
    coverage_refresh.refresh_many(found.touched)
