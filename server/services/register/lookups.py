"""The entities step's lookups for a whole batch, read in a few set-based queries.

Before the batch's submissions run, `prepare` parses their entity actions and reads at once
every entity, building, street, person (by ID number) and last version they name, whether each
submission was applied already, and the submissions edits replace. While the batch runs, what
its earlier submissions created or changed is recorded here too, so that every answer is the
one a query would have given at that moment; a question the batch did not foresee (or whose
answer a change made uncertain) is still asked of the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from forms.instance import InstanceInfo
from server.extensions import db
from server.models import Area, Building, Entity, EntityVersion, RegisterConflict, Submission
from server.services import scope, step_batch
from server.services.register.residence import normalise_id, person_by_id_number
from server.services.step_batch import Batch

CHUNK = 500
NAME = "entities"  # the step's state in the batch
MISSING = object()  # not read by the batch: ask the database


def chunks(values: Iterable) -> list[list]:
    items = sorted({v for v in values if v is not None and v != ""}, key=str)
    return [items[k:k + CHUNK] for k in range(0, len(items), CHUNK)]


@dataclass
class Lookups:
    """What the batch read, and what its submissions changed since."""

    applied: set[int] = field(default_factory=set)  # submissions whose entities are recorded
    infos: dict[int, InstanceInfo | Exception] = field(default_factory=dict)
    priors: dict[str, int] = field(default_factory=dict)  # deprecatedID -> submission id
    entities: dict[str, Entity | None] = field(default_factory=dict)  # uuid ->
    of_building: dict[str, Entity | None] = field(default_factory=dict)  # building code ->
    buildings: dict[str, Building | None] = field(default_factory=dict)  # code ->
    areas: dict[str, int | None] = field(default_factory=dict)  # street code -> id
    persons: dict[str, Entity | None] = field(default_factory=dict)  # ID number ->
    last_by: dict[Entity, int | None] = field(default_factory=dict)  # last version's submission
    streets: dict[int | None, frozenset[int] | None] = field(default_factory=dict)  # submitter
    held: set[tuple[int, str]] = field(default_factory=set)  # (submission, uuid) held here
    households: dict[int, list[Entity]] = field(default_factory=dict)  # written, by submission

    def entity(self, uuid: str):
        return self.entities.get(uuid, MISSING)

    def info(self, submission_id: int) -> InstanceInfo:
        info = self.infos[submission_id]
        if isinstance(info, Exception):
            raise info
        return info

    def created(self, entity: Entity) -> None:
        self.entities[entity.uuid] = entity

    def keyed(self, entity: Entity, old_key: str | None) -> None:
        """A person's ID number changed (or was set): the batch's answer for the new number is
        this person (just updated: the newest); for the old one the database must say."""
        if entity.dataset != "persons" or old_key == entity.natural_key:
            return
        if old_key is not None:
            self.persons.pop(old_key, None)
        if entity.natural_key is not None:
            self.persons[entity.natural_key] = entity

    def touched(self, entity: Entity, submission_id: int | None) -> None:
        """A version of `entity` by this submission was added."""
        self.last_by[entity] = submission_id
        if entity.dataset == "households" and submission_id is not None:
            written = self.households.setdefault(submission_id, [])
            if entity not in written:
                written.append(entity)

    def located(self, entity: Entity, building: Building | None) -> None:
        """A `buildings` entity now records this building: its code names the entity (the first
        by id: one the batch created comes after those already stored)."""
        if building is None or entity.dataset != "buildings":
            return
        self.buildings.setdefault(building.code, building)
        if self.of_building.get(building.code) is None:
            self.of_building[building.code] = entity


def current() -> Lookups | None:
    """The lookups of the batch being processed, if any."""
    group = step_batch.current()
    return None if group is None else group.state(NAME, Lookups)


def last_by(entity: Entity) -> int | None:
    """The submission that wrote the entity's last version."""
    found = current()
    if found is not None and entity in found.last_by:
        return found.last_by[entity]
    return entity.versions[-1].submission_id if entity.versions else None


def person(id_number: str) -> Entity | None:
    """The person holding this ID number (server.services.register.residence)."""
    found = current()
    number = normalise_id(id_number or "")
    if found is not None and number in found.persons:
        return found.persons[number]
    return person_by_id_number(number)


def streets(submission: Submission) -> frozenset[int] | None:
    """The submitter's streets (server.services.scope), read once per batch and submitter."""
    found = current()
    if found is None:
        return scope.street_ids(submission.submitter)
    if submission.submitter_id not in found.streets:
        found.streets[submission.submitter_id] = scope.street_ids(submission.submitter)
    return found.streets[submission.submitter_id]


def number_new(*classes: type) -> None:
    """Give the batch's new rows their ids before the flush, on SQLite (which holds the only
    write lock meanwhile): the ids it would give them, in the order they were made, so that
    each table's rows go in one statement instead of one INSERT … RETURNING per row.
    PostgreSQL's driver sends them as one statement already."""
    if db.session.get_bind().dialect.name != "sqlite":
        return
    for cls in classes:
        new = sorted((o for o in db.session.new if type(o) is cls and o.id is None),
                     key=lambda o: sa.inspect(o).insert_order)
        if new:
            with db.session.no_autoflush:
                top = db.session.scalar(sa.select(sa.func.max(cls.id))) or 0
            for k, obj in enumerate(new, 1):
                obj.id = top + k


def prepare(group: Batch, schema_of, read_root) -> Lookups:
    """Read the batch's lookups: parse each submission's entity actions, then a few queries."""
    found = Lookups()
    ids = [sub.id for sub in group.subs]
    for part in chunks(ids):
        found.applied.update(db.session.scalars(
            sa.select(EntityVersion.submission_id).where(EntityVersion.submission_id.in_(part))
            .union(sa.select(RegisterConflict.submission_id)
                   .where(RegisterConflict.submission_id.in_(part)))))
    uuids, codes, streets, numbers, edits = set(), set(), set(), set(), set()
    for sub in group.subs:
        if sub.id in found.applied:
            continue
        if sub.deprecated_id:
            edits.add(sub.deprecated_id)
        try:
            root = group.root(sub)
            info = read_root(root, schema_of(sub.form_version))
        except Exception as err:  # its run fails on it, alone
            found.infos[sub.id] = err
            continue
        found.infos[sub.id] = info
        for action in info.entities:
            uuid, props = _key(action.id), action.properties
            uuids.add(uuid)
            streets.add(props.get("street") or "")
            if action.dataset == "buildings":
                codes.add(uuid)
            elif action.dataset == "households":
                ref = _key(props.get("building"))
                uuids.add(ref)
                codes.add(ref)
            elif action.dataset == "persons":
                uuids.add(_key(props.get("household")))
                numbers.add(normalise_id(props.get("id_number") or ""))
    _read(found, uuids, codes, streets, numbers, edits)
    return found


def _key(entity_id: Any) -> str:
    text = str(entity_id or "").strip()
    return text[5:] if text.lower().startswith("uuid:") else text


def _read(found: Lookups, uuids: set, codes: set, streets: set, numbers: set,
          edits: set) -> None:
    session = db.session
    found.entities[""] = None  # processing never makes an entity without an id
    for part in chunks(edits):
        found.priors.update(session.execute(
            sa.select(Submission.instance_id, Submission.id)
            .where(Submission.instance_id.in_(part))).all())
    for part in chunks(uuids):
        found.entities.update({u: None for u in part})
        found.entities.update((e.uuid, e) for e in session.scalars(
            sa.select(Entity).where(Entity.uuid.in_(part))))
    for part in chunks(codes):
        found.buildings.update({c: None for c in part})
        found.buildings.update((b.code, b) for b in session.scalars(
            sa.select(Building).where(Building.code.in_(part))))
        found.of_building.update({c: None for c in part})
        for code, entity in session.execute(
            sa.select(Building.code, Entity).join(Building, Building.id == Entity.building_id)
            .where(Building.code.in_(part), Entity.dataset == "buildings")
            .order_by(Entity.id.desc())):
            found.of_building[code] = entity  # the first by id wins
    for part in chunks(streets):
        found.areas.update({c: None for c in part})
        found.areas.update(session.execute(
            sa.select(Area.code, Area.id).where(Area.code.in_(part))).all())
    for part in chunks(numbers):
        found.persons.update({n: None for n in part})
        for entity in session.scalars(
            sa.select(Entity).where(Entity.dataset == "persons", Entity.deleted.is_(False),
                                    Entity.natural_key.in_(part))
            .order_by(Entity.updated_at, Entity.id)):
            found.persons[entity.natural_key] = entity  # the newest wins
    known = [e for e in {*found.entities.values(), *found.of_building.values(),
                         *found.persons.values()} if e is not None]
    for entity in known:
        found.last_by[entity] = None
    by_id = {e.id: e for e in known}
    for part in chunks(by_id):
        last = (sa.select(EntityVersion.entity_id, sa.func.max(EntityVersion.version).label("v"))
                .where(EntityVersion.entity_id.in_(part)).group_by(EntityVersion.entity_id)
                .subquery())
        for entity_id, submission_id in session.execute(
            sa.select(EntityVersion.entity_id, EntityVersion.submission_id)
            .join(last, sa.and_(last.c.entity_id == EntityVersion.entity_id,
                                last.c.v == EntityVersion.version))):
            found.last_by[by_id[entity_id]] = submission_id
    wanted = {e.building_id for e in known if e.building_id is not None}
    for part in chunks(wanted - {b.id for b in found.buildings.values() if b is not None}):
        session.scalars(sa.select(Building).where(Building.id.in_(part))).all()  # into the map
