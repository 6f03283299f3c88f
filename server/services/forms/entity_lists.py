"""Entity lists for phones: streets.csv, buildings.csv and one CSV per dataset, as form media.

ODK Collect and the phone app read these through `select_one_from_file`; each user gets the rows
of the streets server.services.scope lets them see. Buildings merge every imported footprint with
what the building listing recorded about it, so a coordinator can pick a building never visited.
Personal columns (ID and phone numbers) are masked unless server.services.privacy lets the reader
see them (never through a draft's test link), and a list served unmasked is audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from forms.entities_csv import EntityRow, properties_of, render_entity_csv
from server.extensions import db
from server.models import Area, Building, Entity, FormVersion, User
from server.services import privacy, scope, sql_lists

#: Columns each list must carry for the township forms' choice filters and lookups.
REQUIRED_COLUMNS = {
    "buildings": ["street"],
    "households": ["building", "street"],
    "persons": ["household", "status", "id_number"],
}


def declared_properties(dataset: str) -> list[str]:
    """The list's columns: those the township forms need, then every save_to of any form."""
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


def _scoped(query: sa.Select, column: Any, street_ids: frozenset[int] | None) -> sa.Select:
    return query if street_ids is None else query.where(sql_lists.one_of(column, street_ids))


def list_csv(name: str, user: User | None, *, via_link: bool = False,
             hashes_only: bool = False) -> str | None:
    """The CSV text of a generated list (streets.csv, buildings.csv, <dataset>.csv), or None.

    `via_link`: read through a link anyone may hold (a draft's test link): always masked.
    `hashes_only`: the caller shows only a hash of the text (a manifest): nothing is audited.
    """
    if not name.endswith(".csv"):
        return None
    dataset = name[: -len(".csv")]
    streets = scope.street_ids(user)
    if dataset == "streets":
        return _streets_csv(streets)
    if dataset == "buildings":
        rows = _building_rows(streets)
    else:
        known = db.session.scalar(sa.select(Entity.id).where(Entity.dataset == dataset).limit(1))
        if known is None and dataset not in REQUIRED_COLUMNS and not _declared_anywhere(dataset):
            return None
        query = _scoped(
            sa.select(Entity).where(Entity.dataset == dataset, Entity.deleted.is_(False)),
            Entity.area_id, streets,
        ).order_by(Entity.id)
        rows = [EntityRow(e.uuid, e.label, e.version, e.properties or {})
                for e in db.session.scalars(query)]
    columns = declared_properties(dataset)
    unmasked = privacy.can_see_personal_data(user, via_link=via_link)
    shown_rows, shown = [], False
    for row in rows:
        props, row_shown = privacy.shown_fields(
            {c: row.properties.get(c) for c in columns}, unmasked)
        shown = shown or row_shown
        shown_rows.append(EntityRow(row.uuid, row.label, row.version, props))
    if shown and not hashes_only:
        privacy.audit_unmasked("personal_data.view", user, object_type="entity_list",
                               object_id=dataset, count=len(shown_rows), via="phone")
    return render_entity_csv(shown_rows, columns)


def _declared_anywhere(dataset: str) -> bool:
    return any(
        d.get("dataset") == dataset
        for entities in db.session.scalars(sa.select(FormVersion.entities))
        for d in entities or []
    )


def _streets_csv(street_ids: frozenset[int] | None) -> str:
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


def _building_rows(street_ids: frozenset[int] | None) -> list[EntityRow]:
    """Every footprint of the user's streets (name = building code), merged with what the
    building listing recorded about it."""
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
    return rows
