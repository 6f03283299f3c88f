"""The register as people read it: building → households → persons → residence history.

Records link to each other by entity UUID; nobody reads UUIDs. These readers name a household
by its address and householder and count only the persons living there now: one who moved to
another household or departed is a former resident (they stay in the history), so a household
never keeps counting them (a household's own `person_count` is what its last visit counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from server.extensions import db
from server.models import Entity, EntityVersion
from server.services.register.residence import DEPARTED

HEAD = "head"  # the household form's relation choice for the household head


@dataclass(slots=True)
class Residents:
    current: list[Entity] = field(default_factory=list)
    former: list[Entity] = field(default_factory=list)

    @property
    def head(self) -> Entity | None:
        """The householder: the current resident recorded as head, else the first one."""
        heads = [p for p in self.current if (p.properties or {}).get("relation") == HEAD]
        return (heads or self.current or [None])[0]


def lives_in(person: Entity, household_uuid: str) -> bool:
    props = person.properties or {}
    return props.get("household") == household_uuid and props.get("status") != DEPARTED


def residents(household: Entity) -> Residents:
    """Everyone the register ever placed in this household, split into who lives there now
    and who moved on or departed."""
    ever = db.session.scalars(
        sa.select(Entity)
        .where(Entity.dataset == "persons", Entity.deleted.is_(False),
               Entity.id.in_(_ever_in_household(household.uuid)))
        .order_by(Entity.id)
    )
    out = Residents()
    for person in ever:
        (out.current if lives_in(person, household.uuid) else out.former).append(person)
    return out


def current_counts(households: list[Entity]) -> dict[str, int]:
    """Persons living in each household now, for a list page (one query)."""
    uuids = [h.uuid for h in households]
    if not uuids:
        return {}
    household = Entity.properties["household"].as_string()
    rows = db.session.execute(
        sa.select(household, Entity.properties["status"].as_string())
        .where(Entity.dataset == "persons", Entity.deleted.is_(False), household.in_(uuids))
    )
    counts = dict.fromkeys(uuids, 0)
    for uuid, status in rows:
        if status != DEPARTED:
            counts[uuid] += 1
    return counts


def households_of(building: Entity) -> list[Entity]:
    """The households registered in a building (a `buildings` register record)."""
    if building.building_id is None:
        return []
    return list(db.session.scalars(
        sa.select(Entity)
        .where(Entity.dataset == "households", Entity.deleted.is_(False),
               Entity.building_id == building.building_id)
        .order_by(Entity.label, Entity.id)
    ))


def building_of(household: Entity) -> Entity | None:
    """The `buildings` register record a household is in, if the building was listed."""
    if household.building_id is None:
        return None
    return db.session.scalar(
        sa.select(Entity)
        .where(Entity.dataset == "buildings", Entity.deleted.is_(False),
               Entity.building_id == household.building_id)
        .order_by(Entity.id).limit(1)
    )


def by_uuid(uuids: list[str]) -> dict[str, Entity]:
    """Records named in other records (a residence's household), to show them by name."""
    wanted = [u for u in dict.fromkeys(uuids) if u]
    if not wanted:
        return {}
    return {e.uuid: e for e in db.session.scalars(sa.select(Entity).where(Entity.uuid.in_(wanted)))}


def _ever_in_household(household_uuid: str) -> sa.Select:
    return (
        sa.select(EntityVersion.entity_id)
        .where(EntityVersion.properties["household"].as_string() == household_uuid)
        .distinct()
    )
