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
- Processing one submission twice changes nothing (its EntityVersions are looked up first).

Entity lists go back to phones as CSV form media (`list_csv`), filtered to the user's areas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import shapely
import sqlalchemy as sa

from forms.entities_csv import EntityRow, properties_of, render_entity_csv
from forms.instance import (
    EntityAction,
    InstanceInfo,
    InstanceSchema,
    instance_schema,
    read_instance,
)
from server.extensions import db
from server.models import Area, Building, Entity, EntityVersion, FormVersion, Role, Submission, User
from server.models._types import utcnow
from server.services import register
from server.services.processing import register_processor

#: Columns each list must carry for the township forms' choice filters and lookups.
REQUIRED_COLUMNS = {
    "buildings": ["street"],
    "households": ["building", "street"],
    "persons": ["household", "status", "id_number"],
}

_SCHEMAS: dict[tuple[int, str], InstanceSchema] = {}


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


def process_submission(submission: Submission, xml: bytes) -> None:
    """Apply the submission's entity actions (the "entities" processor)."""
    applied = db.session.scalar(
        sa.select(EntityVersion.id).where(EntityVersion.submission_id == submission.id).limit(1)
    )
    if applied is not None:
        return
    info = read_instance(xml, _schema(submission.form_version))
    apply_instance(info, submission)


def apply_instance(info: InstanceInfo, submission: Submission) -> list[Entity]:
    """Top-level entities first: a household must exist before the persons living in it."""
    actions = [a for a in info.entities if a.action is not None and key(a.id)]
    actions.sort(key=lambda a: a.path.count("/"))
    prior = _prior_submission_id(submission)
    return [apply_action(a, submission, prior) for a in actions]


def _prior_submission_id(submission: Submission) -> int | None:
    """The submission an edit replaces (meta/deprecatedID), if it is stored."""
    if not submission.deprecated_id:
        return None
    return db.session.scalar(
        sa.select(Submission.id).where(Submission.instance_id == submission.deprecated_id)
    )


def get_entity(uuid: str) -> Entity | None:
    return db.session.scalar(sa.select(Entity).where(Entity.uuid == key(uuid)))


def apply_action(action: EntityAction, submission: Submission, prior: int | None = None) -> Entity:
    uuid = key(action.id)
    props = {k: v for k, v in action.properties.items()}
    entity = get_entity(uuid)
    redirected = False
    if action.dataset == "persons" and entity is None:
        entity = register.person_by_id_number(props.get("id_number", ""))
        redirected = entity is not None
    conflicts: list[str] = []
    if entity is None:
        if action.action == "update" and not _is_building_code(action.dataset, uuid):
            conflicts.append(f"update of unknown {action.dataset} entity {uuid}; created")
        entity = Entity(dataset=action.dataset, uuid=uuid, label="", properties={}, version=0)
        db.session.add(entity)
    elif entity.dataset != action.dataset:
        conflicts.append(f"submission named list {action.dataset}; entity is in {entity.dataset}")
    else:
        last_by = entity.versions[-1].submission_id if entity.versions else None
        is_edit = prior is not None and last_by == prior
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
    entity.natural_key = natural_key(entity.dataset, new)
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
            submission_id=submission.id,
        )
    )
    db.session.flush()
    return entity


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


def _is_building_code(dataset: str, uuid: str) -> bool:
    if dataset != "buildings":
        return False
    return db.session.scalar(sa.select(Building.id).where(Building.code == uuid)) is not None


def _area_id(code: str | None) -> int | None:
    if not code:
        return None
    return db.session.scalar(sa.select(Area.id).where(Area.code == code))


def _building_for(ref: str | None) -> Building | None:
    """A building named in a form: an imported footprint's code or a building entity."""
    ref = key(ref)
    if not ref:
        return None
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


def _field_building(entity: Entity, props: dict[str, Any]) -> Building | None:
    """A building found in the field (not in the imported footprints) becomes a point."""
    from forms.instance import parse_geopoint

    point = parse_geopoint((props.get("geometry") or "").split(";")[0])
    if point is None or len(entity.uuid) > 64:
        return None
    building = Building(code=entity.uuid, street_id=_area_id(props.get("street")),
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


register_processor("entities", process_submission)


# --- entity lists for phones ----------------------------------------------------------------


def street_ids_for(user: User | None) -> list[int] | None:
    """Streets a user works in; None means every street (admins, designers, no user)."""
    if user is None or user.role_enum in (Role.ADMIN, Role.DESIGNER):
        return None
    paths = [a.area.path for a in user.assignments]
    if not paths:
        return None if user.role_enum is Role.SUPERVISOR else []
    clauses = [sa.or_(Area.path == p, Area.path.like(p + "/%")) for p in paths]
    return list(
        db.session.scalars(sa.select(Area.id).where(Area.level == "street", sa.or_(*clauses)))
    )


def _declared_properties(dataset: str) -> list[str]:
    decls: list[dict[str, Any]] = []
    for entities in db.session.scalars(
        sa.select(FormVersion.entities).order_by(FormVersion.id.desc())
    ):
        decls.extend(entities or [])
    columns = list(REQUIRED_COLUMNS.get(dataset, []))
    for prop in properties_of(decls, dataset):
        if prop not in columns:
            columns.append(prop)
    return columns


def _scoped(query: sa.Select, column: Any, street_ids: list[int] | None) -> sa.Select:
    return query if street_ids is None else query.where(column.in_(street_ids))


def list_csv(name: str, user: User | None) -> str | None:
    """The CSV text of a generated list (streets.csv, buildings.csv, <dataset>.csv), or None."""
    if not name.endswith(".csv"):
        return None
    dataset = name[: -len(".csv")]
    streets = street_ids_for(user)
    if dataset == "streets":
        return _streets_csv(streets)
    if dataset == "buildings":
        return _buildings_csv(streets)
    known = db.session.scalar(sa.select(Entity.id).where(Entity.dataset == dataset).limit(1))
    if known is None and dataset not in REQUIRED_COLUMNS and not _declared_anywhere(dataset):
        return None
    query = _scoped(
        sa.select(Entity).where(Entity.dataset == dataset, Entity.deleted.is_(False)),
        Entity.area_id, streets,
    ).order_by(Entity.id)
    rows = (EntityRow(e.uuid, e.label, e.version, e.properties or {})
            for e in db.session.scalars(query))
    return render_entity_csv(rows, _declared_properties(dataset))


def _declared_anywhere(dataset: str) -> bool:
    return any(
        d.get("dataset") == dataset
        for entities in db.session.scalars(sa.select(FormVersion.entities))
        for d in entities or []
    )


def _streets_csv(street_ids: list[int] | None) -> str:
    village = sa.orm.aliased(Area)
    query = _scoped(
        sa.select(Area.code, Area.name_zh, Area.name_en, village.code)
        .outerjoin(village, village.id == Area.parent_id)
        .where(Area.level == "street"),
        Area.id, street_ids,
    ).order_by(Area.path)
    rows: Iterable[EntityRow] = (
        EntityRow(code, zh, 1, {"name_en": en, "village": v})
        for code, zh, en, v in db.session.execute(query)
    )
    return render_entity_csv(rows, ["name_en", "village"])


def _buildings_csv(street_ids: list[int] | None) -> str:
    """Every footprint of the user's streets (name = building code), merged with what the
    building listing recorded about it."""
    columns = _declared_properties("buildings")
    entities: dict[int, Entity] = {}
    orphans: list[Entity] = []
    for e in db.session.scalars(
        _scoped(sa.select(Entity).where(Entity.dataset == "buildings", Entity.deleted.is_(False)),
                Entity.area_id, street_ids)
    ):
        if e.building_id is not None:
            entities[e.building_id] = e
        else:
            orphans.append(e)
    query = _scoped(
        sa.select(Building.id, Building.code, Building.address, Area.code)
        .outerjoin(Area, Area.id == Building.street_id),
        Building.street_id, street_ids,
    ).order_by(Area.code, Building.code)
    rows: list[EntityRow] = []
    for building_id, code, address, street in db.session.execute(query):
        e = entities.get(building_id)
        props = dict(e.properties or {}) if e is not None else {}
        props["street"] = street or props.get("street", "")
        label = (e.label if e is not None and e.label else "") or address or code
        rows.append(EntityRow(code, label, e.version if e is not None else 1, props))
    rows.extend(EntityRow(e.uuid, e.label, e.version, e.properties or {}) for e in orphans)
    return render_entity_csv(rows, columns)


# --- reading the register -------------------------------------------------------------------


def history(entity: Entity) -> list[EntityVersion]:
    return list(entity.versions)


def query_entities(
    dataset: str, user: User | None, *, conflicts_only: bool = False, limit: int = 200,
    offset: int = 0,
) -> list[Entity]:
    query = _scoped(sa.select(Entity).where(Entity.dataset == dataset), Entity.area_id,
                    street_ids_for(user))
    if conflicts_only:
        query = query.where(Entity.conflict.is_not(None))
    return list(db.session.scalars(query.order_by(Entity.id).limit(limit).offset(offset)))


def visible_to(entity: Entity, user: User | None) -> bool:
    streets = street_ids_for(user)
    return streets is None or entity.area_id in streets
