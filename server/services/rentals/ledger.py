"""The rental-housing register as the centre and the stations read it: units by village, a
landlord with all their units, and the violations of each village for a joint inspection
(联合执法) with where each rectification stands. Every reader is narrowed to the reader's
streets (server.services.scope); a unit or landlord outside them is "not found".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from server import localtime
from server.extensions import db
from server.models import (
    Area,
    RentalInspection,
    RentalLandlord,
    RentalRectification,
    RentalUnit,
    User,
)
from server.services import area_tree, scope, versions
from server.services.area_tree import AreaView
from server.services.errors import ServiceError
from server.services.rentals import rules

OPEN, CLOSED = "open", "closed"


class RentalNotFound(ServiceError):
    """A unit or landlord that does not exist or lies outside the reader's areas."""

    code = "rental_not_found"
    status = 404


@dataclass(frozen=True, slots=True)
class Place:
    """A unit's street and village (None when the household has no street)."""

    street: AreaView | None = None
    village: AreaView | None = None

    @property
    def village_code(self) -> str:
        return self.village.code if self.village is not None else ""


@dataclass(slots=True)
class VillageRow:
    code: str
    name: str
    units: int = 0
    violating: int = 0  # units breaking at least one rule
    violations: int = 0
    open_rectifications: int = 0
    overdue: int = 0


@dataclass(slots=True)
class ViolationRow:
    """One broken rule of one unit, as the joint-inspection list shows it."""

    unit: RentalUnit
    place: Place
    code: str
    since: str
    detail: dict[str, Any] = field(default_factory=dict)
    rectification: RentalRectification | None = None

    def text(self, locale: str) -> str:
        return rules.describe(self.code, self.detail, locale)


_PLACES: versions.Kept[Mapping[int, Place]] = versions.Kept(4)


def places() -> Mapping[int, Place]:
    """Street id -> its street and village, kept per process with the area tree (a city has
    thousands of streets: no ORM Area, boundary and all, per street per request; a report
    asks twice). Read-only: every request shares it."""
    return _PLACES.get(None, scope.areas_signature(), _places)


def _places() -> Mapping[int, Place]:
    areas, _chains = area_tree.tree()
    by_id = {a.id: a for a in areas if a.level in ("village", "street")}
    return MappingProxyType({a.id: Place(a, by_id.get(a.parent_id)) for a in by_id.values()
                             if a.level == "street"})


def _units(user: User | None, village: str | None = None) -> sa.Select:
    query = (sa.select(RentalUnit)
             .options(selectinload(RentalUnit.landlord), selectinload(RentalUnit.inspections))
             .order_by(RentalUnit.label, RentalUnit.id))
    query = scope.where_street(query, RentalUnit.area_id, user)
    if village:
        area = db.session.scalar(sa.select(Area).where(Area.code == village))
        if area is None:
            raise RentalNotFound("no area {code!r}", code=village)
        query = query.where(RentalUnit.area_id.in_(scope.streets_under_select([area.path])))
    return query


def units(user: User | None, village: str | None = None, *, violating: bool = False
          ) -> list[RentalUnit]:
    """The units the user may see (of one village, or only those breaking a rule)."""
    query = _units(user, village)
    if violating:
        query = query.where(RentalUnit.violation_count > 0)
    return list(db.session.scalars(query))


def unit(user: User | None, household_uuid: str) -> RentalUnit:
    """One unit, if the user may see it."""
    query = _units(user).where(RentalUnit.household_uuid == household_uuid)
    found = db.session.scalar(query)
    if found is None:
        raise RentalNotFound("no rented unit {uuid} in your areas", uuid=household_uuid)
    return found


def landlord(user: User | None, ref: str) -> tuple[RentalLandlord, list[RentalUnit]]:
    """A landlord and those of their units the user may see (none: not found)."""
    found = db.session.scalar(sa.select(RentalLandlord).where(RentalLandlord.ref == ref))
    mine = list(db.session.scalars(_units(user).where(RentalUnit.landlord_id == found.id))
                ) if found is not None else []
    if not mine:
        raise RentalNotFound("no such landlord in your areas")
    return found, mine


def open_rectifications(household_uuids: list[str]) -> dict[tuple[str, str], RentalRectification]:
    """(household uuid, rule) -> its open rectification."""
    if not household_uuids:
        return {}
    rows = db.session.scalars(sa.select(RentalRectification).where(
        RentalRectification.household_uuid.in_(household_uuids),
        RentalRectification.state == "open"))
    return {(r.household_uuid, r.rule): r for r in rows}


def violations(user: User | None, village: str | None = None) -> list[ViolationRow]:
    """Every rule broken now in the user's areas (or one village), by village, street and
    unit, in the rules' order; each with its open rectification, if one was ordered."""
    where = places()
    found = units(user, village, violating=True)
    ordered = open_rectifications([u.household_uuid for u in found])
    order = {rule.code: i for i, rule in enumerate(rules.RULES)}
    rows = [ViolationRow(unit=u, place=where.get(u.area_id, Place()), code=code,
                         since=v.get("since", ""), detail=v.get("detail") or {},
                         rectification=ordered.get((u.household_uuid, code)))
            for u in found for code, v in (u.violations or {}).items()]
    rows.sort(key=lambda r: (r.place.village_code,
                             r.place.street.code if r.place.street else "",
                             r.unit.label, r.unit.id, order.get(r.code, 99)))
    return rows


def by_village(user: User | None, today: date) -> list[VillageRow]:
    """Units, violations and rectifications per village in the user's areas."""
    where = places()
    found = units(user)
    stages = of_units([u.household_uuid for u in found])
    out: dict[str, VillageRow] = {}
    for u in found:
        village = where.get(u.area_id, Place()).village
        code = village.code if village is not None else ""
        row = out.setdefault(code, VillageRow(code, village.name_zh if village else ""))
        row.units += 1
        row.violating += 1 if u.violation_count else 0
        row.violations += u.violation_count
        for rect in stages[u.household_uuid]:
            stage = status(rect, u, today).stage
            row.open_rectifications += stage != CLOSED
            row.overdue += stage == "overdue"
    return [out[code] for code in sorted(out)]


# --- rectifications: where each stands -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    """Where a rectification stands: its stage, and the re-inspection (if any) that decides."""

    stage: str  # open | overdue | failed (re-inspected, still broken) | resolved | closed
    reinspection: RentalInspection | None = None


def status(rect: RentalRectification, unit: RentalUnit | None, today: date | None = None
           ) -> Status:
    """The stage of a rectification: closed; else resolved or failed by the newest
    re-inspection since it was ordered; else overdue past its due date, or open."""
    if rect.state == CLOSED:
        return Status(CLOSED, _inspection_of(unit, rect.closing_submission_id))
    found = reinspection(rect, unit)
    if found is not None:
        return Status("failed" if rect.rule in found.violations else "resolved", found)
    today = today or localtime.today()
    return Status("overdue" if today > rect.due_on else OPEN)


def reinspection(rect: RentalRectification, unit: RentalUnit | None) -> RentalInspection | None:
    """The newest inspection of the unit made and received after the order."""
    if unit is None:
        return None
    ordered_on = localtime.local_date(rect.opened_at)
    later = [i for i in unit.inspections
             if i.received_at > rect.opened_at and i.inspected_on >= ordered_on]
    return later[-1] if later else None


def _inspection_of(unit: RentalUnit | None, submission_id: int | None) -> RentalInspection | None:
    if unit is None or submission_id is None:
        return None
    return next((i for i in unit.inspections if i.submission_id == submission_id), None)


def of_units(household_uuids: list[str]) -> dict[str, list[RentalRectification]]:
    """Each unit's rectifications, newest first (one query for a list page)."""
    out: dict[str, list[RentalRectification]] = {u: [] for u in household_uuids}
    if not household_uuids:
        return out
    rows = db.session.scalars(
        sa.select(RentalRectification)
        .where(RentalRectification.household_uuid.in_(household_uuids))
        .order_by(RentalRectification.opened_at.desc(), RentalRectification.id.desc()))
    for rect in rows:
        out[rect.household_uuid].append(rect)
    return out
