"""The entity registry: submissions create and update buildings, households and persons.

Follows the ODK Entities model: each `meta/entity` block of a submission creates or updates
one record; every change is kept as an EntityVersion naming the submission that made it, so
the register can be rebuilt by replaying submissions. Choices made here (documented because
ODK leaves them to the server):

- A stale baseVersion (the phone edited an older version) is still applied, and the entity is
  marked with `conflict` for a supervisor to review.
- An empty value in a submission does not erase a value already recorded (a revisit where
  nobody was home must not wipe the floors and units counted before).
- An update of an entity the server does not know creates it; for buildings that is normal
  (the phone picked an imported footprint, whose entity id is the building code), for other
  lists it is flagged as a conflict.
- Processing one submission twice changes nothing (its EntityVersions and held registrations
  are looked up first).
- A change of an existing person that would move them out of another area, or change who they
  are, is held for review instead (server.services.register.residence `hold_reason`;
  decisions in server.services.register.review).

Entity lists go back to phones as CSV form media: server.services.forms.entity_lists.
"""

from __future__ import annotations

from typing import Any

import shapely
import sqlalchemy as sa

from forms.instance import (
    EntityAction,
    InstanceInfo,
    InstanceSchema,
    instance_schema,
    parse_geopoint,
    read_instance,
    read_root,
)
from server.extensions import db
from server.models import (
    Area,
    Building,
    Entity,
    EntityVersion,
    FormVersion,
    RegisterConflict,
    Submission,
    User,
)
from server.models._types import utcnow
from server.services import scope
from server.services.register import lookups as batch_lookups
from server.services.register import residence as register
from server.services.register.lookups import MISSING
from server.services.step_batch import Batch

_SCHEMAS: dict[tuple[int, str], InstanceSchema] = {}
#: The flag a person carries while a registration of them waits for a supervisor.
HELD_NOTE = "registration held for review"


def key(entity_id: str | None) -> str:
    """Entity ids as stored: ODK writes bare UUIDs, some clients prefix 'uuid:'."""
    text = (entity_id or "").strip()
    return text[5:] if text.lower().startswith("uuid:") else text


def _schema(version: FormVersion) -> InstanceSchema:
    cache_key = (version.id, version.md5)
    if cache_key not in _SCHEMAS:
        if len(_SCHEMAS) > 256:
            _SCHEMAS.clear()
        _SCHEMAS[cache_key] = instance_schema(version.xform)
    return _SCHEMAS[cache_key]


# --- processing ---------------------------------------------------------------------------


_batch = batch_lookups.current


def prepare_batch(group: Batch) -> None:
    """The batch's lookups in a few queries, before its submissions run."""
    group.state(batch_lookups.NAME, lambda: batch_lookups.prepare(group, _schema, read_root))


def finish_batch(_group: Batch) -> None:
    """The batch's entities, versions and held registrations, written together."""
    batch_lookups.number_new(Entity, EntityVersion, RegisterConflict)
    db.session.flush()


def apply_submission(submission: Submission, xml: bytes) -> None:
    """Apply the submission's entity actions (the pipeline's "entities" step)."""
    found = _batch()
    if found is not None and (submission.id in found.infos or submission.id in found.applied):
        if submission.id not in found.applied:
            apply_instance(found.info(submission.id), submission)
        return
    applied = db.session.scalar(sa.select(
        sa.exists().where(EntityVersion.submission_id == submission.id)
        | sa.exists().where(RegisterConflict.submission_id == submission.id)
    ))
    if applied:
        return
    info = read_instance(xml, _schema(submission.form_version))
    apply_instance(info, submission)


def apply_instance(info: InstanceInfo, submission: Submission) -> list[Entity]:
    """Top-level entities first: a household must exist before the persons living in it."""
    actions = [a for a in info.entities if a.action is not None and key(a.id)]
    actions.sort(key=lambda a: a.path.count("/"))
    prior = _prior_submission_id(submission)
    if prior is not None:  # an edit replaces what its original left waiting for review
        db.session.execute(sa.update(RegisterConflict).where(
            RegisterConflict.submission_id == prior, RegisterConflict.state == "open",
        ).values(state="superseded"))
    return [apply_action(a, submission, prior) for a in actions]


def _prior_submission_id(submission: Submission) -> int | None:
    """The submission an edit replaces (meta/deprecatedID), if it is stored."""
    if not submission.deprecated_id:
        return None
    found = _batch()
    if found is not None and submission.id in found.infos:
        return found.priors.get(submission.deprecated_id)
    return db.session.scalar(
        sa.select(Submission.id).where(Submission.instance_id == submission.deprecated_id)
    )


def get_entity(uuid: str) -> Entity | None:
    found = _batch()
    if found is not None and (entity := found.entity(key(uuid))) is not MISSING:
        return entity
    return db.session.scalar(sa.select(Entity).where(Entity.uuid == key(uuid)))


def apply_action(action: EntityAction, submission: Submission | None, prior: int | None = None,
                 *, approved: Entity | None = None) -> Entity:
    """Create or update the entity the action names; `approved` is a person a supervisor
    let this (held) action change."""
    uuid = key(action.id)
    props = {k: v for k, v in action.properties.items()}
    found = _batch() if submission is not None else None  # None: a step called on its own
    found = found if found is not None and submission.id in found.infos else None
    entity = approved or get_entity(uuid)
    if entity is None and action.dataset == "buildings":
        entity = _entity_of_building(uuid)  # a field building, named by its readable code
    redirected = approved is not None
    if action.dataset == "persons" and entity is None:
        entity = batch_lookups.person(props.get("id_number", ""))
        redirected = entity is not None
    if approved is None and _held(action, entity, props, submission, prior):
        return entity
    conflicts: list[str] = []
    if entity is None:
        if action.action == "update" and not _is_building_code(action.dataset, uuid):
            conflicts.append(f"update of unknown {action.dataset} entity {uuid}; created")
        entity = Entity(dataset=action.dataset, uuid=uuid, label="", properties={}, version=0)
        db.session.add(entity)
        if found is not None:
            found.created(entity)
    elif entity.dataset != action.dataset:
        conflicts.append(f"submission named list {action.dataset}; entity is in {entity.dataset}")
    else:
        is_edit = prior is not None and batch_lookups.last_by(entity) == prior
        if action.action == "create" and not redirected and not is_edit:
            conflicts.append("created again by another submission")
        if action.base_version is not None and action.base_version < entity.version and not is_edit:
            conflicts.append(f"stale base version {action.base_version} < {entity.version}")
    old = dict(entity.properties or {})
    new = merge_properties(old, props)
    if entity.dataset == "persons" and (note := register.apply_person_rules(old, new, submission)):
        conflicts.append(note)
    entity.version = (entity.version or 0) + 1
    entity.label = action.label or entity.label or ""
    entity.properties = new
    old_key, entity.natural_key = entity.natural_key, natural_key(entity.dataset, new)
    entity.updated_at = utcnow()
    if conflicts:
        entity.conflict = "; ".join(conflicts)[:256]
    _locate(entity, new)
    db.session.add(
        EntityVersion(
            entity=entity,
            version=entity.version,
            base_version=action.base_version,
            label=entity.label,
            properties=new,
            submission_id=submission.id if submission is not None else None,
        )
    )
    if found is None:
        db.session.flush()
        return entity
    found.keyed(entity, old_key)
    found.touched(entity, submission.id)
    return entity


def _held(action: EntityAction, entity: Entity | None, props: dict[str, str],
          submission: Submission | None, prior: int | None) -> bool:
    """Hold a change of an existing person for review (residence.hold_reason); True if held."""
    if entity is None or submission is None or entity.dataset != "persons":
        return False
    is_edit = prior is not None and batch_lookups.last_by(entity) == prior
    reason = register.hold_reason(entity, props, batch_lookups.streets(submission), is_edit)
    if reason is None:
        return False
    uuid = key(action.id)[:64]
    found = _batch()
    if found is not None and submission.id in found.infos:
        new = (submission.id, uuid) not in found.held  # none was held before its batch
        found.held.add((submission.id, uuid))
    else:
        new = db.session.scalar(sa.select(RegisterConflict.id).where(
            RegisterConflict.submission_id == submission.id,
            RegisterConflict.uuid == uuid)) is None
    if new:
        db.session.add(RegisterConflict(
            entity=entity, submission_id=submission.id, submitter_id=submission.submitter_id,
            uuid=uuid, label=(action.label or "")[:512], base_version=action.base_version,
            properties=props, reason=reason[:256]))
        if HELD_NOTE not in (entity.conflict or ""):
            entity.conflict = "; ".join(filter(None, [HELD_NOTE, entity.conflict]))[:256]
        if found is None:
            db.session.flush()
    return True


def apply_held(conflict: RegisterConflict) -> Entity:
    """Apply a held registration as it was submitted (a supervisor accepted it)."""
    submission = (db.session.get(Submission, conflict.submission_id)
                  if conflict.submission_id is not None else None)
    action = EntityAction("persons", conflict.uuid, "update", conflict.base_version,
                          conflict.label, dict(conflict.properties or {}))
    return apply_action(action, submission, approved=conflict.entity)


# Which property identifies a record of a list in the real world.
NATURAL_KEYS = {"persons": "id_number"}


def natural_key(dataset: str, properties: dict[str, Any]) -> str | None:
    name = NATURAL_KEYS.get(dataset)
    value = str(properties.get(name) or "").strip() if name else ""
    return value[:64] or None


def merge_properties(old: dict[str, Any], incoming: dict[str, str]) -> dict[str, Any]:
    """Incoming values win; an empty incoming value keeps what was recorded."""
    merged = dict(old)
    for name, value in incoming.items():
        if value != "" or name not in merged:
            merged[name] = value
    return merged


def _entity_of_building(code: str) -> Entity | None:
    """The `buildings` entity recording the building with this code, if one does.

    Phones pick buildings by code (buildings.csv names every building by its code); a building
    found in the field keeps its entity's uuid but gets a readable code, so an update naming
    that code must reach the entity that created it, not make a second one.
    """
    found = _batch()
    if found is not None and code in found.of_building:
        return found.of_building[code]
    return db.session.scalar(
        sa.select(Entity).join(Building, Building.id == Entity.building_id)
        .where(Building.code == code, Entity.dataset == "buildings")
        .order_by(Entity.id).limit(1)
    )


def _is_building_code(dataset: str, uuid: str) -> bool:
    if dataset != "buildings":
        return False
    if (found := _batch()) is not None and uuid in found.buildings:
        return found.buildings[uuid] is not None
    return db.session.scalar(sa.select(Building.id).where(Building.code == uuid)) is not None


def _area_id(code: str | None) -> int | None:
    if not code:
        return None
    if (found := _batch()) is not None and code in found.areas:
        return found.areas[code]
    return db.session.scalar(sa.select(Area.id).where(Area.code == code))


def _building_for(ref: str | None) -> Building | None:
    """A building named in a form: an imported footprint's code or a building entity."""
    ref = key(ref)
    if not ref:
        return None
    found = _batch()
    if found is not None and ref in found.buildings:
        building = found.buildings[ref]
    else:
        building = db.session.scalar(sa.select(Building).where(Building.code == ref))
    if building is None:
        entity = get_entity(ref)
        if entity is not None and entity.building_id is not None:
            building = db.session.get(Building, entity.building_id)
    return building


def _locate(entity: Entity, props: dict[str, Any]) -> None:
    """Set the street (area_id) and building so lists can be filtered to a coordinator."""
    if entity.dataset == "buildings":
        building = _building_for(entity.uuid) or _field_building(entity, props)
        entity.building_id = building.id if building is not None else entity.building_id
        if (found := _batch()) is not None:
            found.located(entity, building)
        entity.area_id = _area_id(props.get("street")) or (building.street_id if building else None)
        if building is not None and props.get("outcome") == "done":
            _copy_listing(building, props)
    elif entity.dataset == "households":
        building = _building_for(props.get("building"))
        entity.building_id = building.id if building is not None else entity.building_id
        entity.area_id = _area_id(props.get("street")) or (
            building.street_id if building is not None else entity.area_id
        )
    elif entity.dataset == "persons":
        household = get_entity(props.get("household") or "")
        if household is not None:
            entity.area_id, entity.building_id = household.area_id, household.building_id


def field_code(street_code: str | None) -> str:
    """A readable code for a building found in the field: its street's code and the next
    number of that street's field buildings (T01-01-F001, T01-01-F002 …; F001 without a street).
    """
    prefix = f"{street_code}-F" if street_code else "F"
    taken = db.session.scalars(
        sa.select(Building.code).where(Building.code.startswith(prefix, autoescape=True)))
    numbers = [int(c[len(prefix):]) for c in taken if c[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def _field_building(entity: Entity, props: dict[str, Any]) -> Building | None:
    """A building found in the field (not in the imported footprints) becomes a point with a
    readable code; its entity keeps the phone's uuid (visits and households find the building
    through either)."""
    point = parse_geopoint((props.get("geometry") or "").split(";")[0])
    if point is None:
        return None
    street_code = props.get("street") or ""
    street_id = _area_id(street_code)
    building = Building(code=field_code(street_code if street_id is not None else None),
                        street_id=street_id,
                        address=entity.label or "", source="field")
    building.set_shape(shapely.Point(point[1], point[0]))
    db.session.add(building)
    db.session.flush()
    return building


def _copy_listing(building: Building, props: dict[str, Any]) -> None:
    """The listing's counts feed coverage (expected units) and the building record."""
    for prop, attr in (("units", "expected_units"), ("floors", "floors")):
        value = str(props.get(prop) or "").strip()
        if value.isdigit():
            setattr(building, attr, int(value))


# --- reading the register -------------------------------------------------------------------


def history(entity: Entity) -> list[EntityVersion]:
    return list(entity.versions)


def query_entities(
    dataset: str, user: User | None, *, conflicts_only: bool = False, limit: int = 200,
    offset: int = 0, search: str = "",
) -> list[Entity]:
    """A page of a register list in the user's areas; `search` finds a name (part of the label)
    or an ID number (whole, any spacing or case) anywhere in the list, not only on this page."""
    query = scope.where_street(sa.select(Entity).where(Entity.dataset == dataset),
                               Entity.area_id, user)
    if conflicts_only:
        query = query.where(Entity.conflict.is_not(None))
    if search.strip():
        query = query.where(sa.or_(Entity.label.contains(search.strip(), autoescape=True),
                                   Entity.natural_key == register.normalise_id(search)))
    return list(db.session.scalars(query.order_by(Entity.id).limit(limit).offset(offset)))


def visible_to(entity: Entity, user: User | None) -> bool:
    streets = scope.street_ids(user)
    return streets is None or entity.area_id in streets
