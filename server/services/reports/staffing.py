"""Floating residents per area and the 1 : 500 staffing rule (docs/DOMAIN.md).

A person is a floating resident (流动人口) when their household registration (户籍) is outside the
township's county: the register's structured `origin_code` (a six-digit region code) when the
household form recorded one, else the code the first six digits of their resident ID number
suggest. One full-time coordinator per FLOATING_RESIDENTS_PER_COORDINATOR floating residents
(Kunming's 500 : 1) tells which villages are understaffed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from server.extensions import db
from server.models import Area, Assignment, Entity, Role, User
from server.services import scope
from server.services.register.residence import DEPARTED

_REGION_CODE = re.compile(r"^[1-9]\d{5}$")


def origin_code(props: dict[str, Any]) -> str | None:
    """The six-digit region code of a person's household registration, or None if unknown."""
    recorded = str(props.get("origin_code") or "").strip()
    if _REGION_CODE.match(recorded):
        return recorded
    suggested = str(props.get("id_number") or "")[:6]
    return suggested if _REGION_CODE.match(suggested) else None


def is_floating(props: dict[str, Any], home_code: str) -> bool | None:
    """True for a resident registered elsewhere, False for a local, None when unknown."""
    code = origin_code(props)
    return None if code is None else code != home_code


@dataclass(frozen=True, slots=True)
class AreaStaffing:
    code: str
    name: str
    residents: int  # persons living there now
    floating: int
    unknown_origin: int
    coordinators: int
    required: int  # coordinators the rule asks for

    @property
    def understaffed(self) -> bool:
        return self.coordinators < self.required

    @property
    def missing(self) -> int:
        return max(self.required - self.coordinators, 0)


def by_village(user: User | None) -> list[AreaStaffing]:
    """Each village in the user's scope, understaffed ones first; a township row last."""
    ratio = current_app.config["FLOATING_RESIDENTS_PER_COORDINATOR"]
    home = current_app.config["HOME_REGION_CODE"]
    streets = scope.street_ids(user)
    villages = _villages(streets)
    counts: dict[int, Counter[str]] = {v.id: Counter() for v in villages}
    village_of = {street_id: v.id for v in villages for street_id in _street_ids(v)}
    persons = sa.select(Entity.area_id, Entity.properties).where(
        Entity.dataset == "persons", Entity.deleted.is_(False), Entity.area_id.is_not(None))
    for area_id, props in db.session.execute(scope.where_street(persons, Entity.area_id, user)):
        village = village_of.get(area_id)
        if village is None or (props or {}).get("status") == DEPARTED:
            continue
        floating = is_floating(props or {}, home)
        counts[village]["residents"] += 1
        counts[village]["floating" if floating else "unknown" if floating is None else "local"] += 1
    staff = {v.id: set(_coordinator_ids(v)) for v in villages}
    rows = [_row(v.code, v.name_zh, counts[v.id], len(staff[v.id]), ratio) for v in villages]
    rows.sort(key=lambda r: (not r.understaffed, -r.missing, r.code))
    if rows:  # the whole scope: a coordinator working in two villages counts once
        total: Counter[str] = sum((counts[v.id] for v in villages), Counter())
        rows.append(_row("", "", total, len(set().union(*staff.values())), ratio))
    return rows


def _row(code: str, name: str, counts: Counter[str], coordinators: int,
         ratio: int) -> AreaStaffing:
    floating = counts["floating"]
    return AreaStaffing(code=code, name=name, residents=counts["residents"], floating=floating,
                        unknown_origin=counts["unknown"], coordinators=coordinators,
                        required=math.ceil(floating / ratio) if floating else 0)


def _villages(streets: frozenset[int] | None) -> list[Area]:
    villages = db.session.scalars(
        sa.select(Area).where(Area.level == "village").order_by(Area.code)).all()
    if streets is None:
        return list(villages)
    return [v for v in villages if set(_street_ids(v)) & streets]


def _street_ids(village: Area) -> list[int]:
    return list(scope.streets_under_paths([village.path]))


def _coordinator_ids(village: Area) -> list[int]:
    """Active coordinators assigned to the village or to any street in it."""
    return list(db.session.scalars(
        sa.select(User.id).distinct()
        .join(Assignment, Assignment.user_id == User.id)
        .join(Area, Area.id == Assignment.area_id)
        .where(User.role == Role.COORDINATOR.value, User.active.is_(True),
               sa.or_(Area.path == village.path, Area.path.like(village.path + "/%")))))
