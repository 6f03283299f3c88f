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
    """Each village in the user's scope, understaffed ones first; a township row last (a few
    set-based queries: a city has over a thousand villages)."""
    ratio = current_app.config["FLOATING_RESIDENTS_PER_COORDINATOR"]
    home = current_app.config["HOME_REGION_CODE"]
    streets = scope.street_ids(user)
    villages, village_of = _villages(streets)
    counts: dict[int, Counter[str]] = {v.id: Counter() for v in villages}
    persons = sa.select(Entity.area_id, Entity.properties).where(
        Entity.dataset == "persons", Entity.deleted.is_(False), Entity.area_id.is_not(None))
    for area_id, props in db.session.execute(scope.where_street(persons, Entity.area_id, user)):
        village = village_of.get(area_id)
        if village is None or (props or {}).get("status") == DEPARTED:
            continue
        floating = is_floating(props or {}, home)
        counts[village]["residents"] += 1
        counts[village]["floating" if floating else "unknown" if floating is None else "local"] += 1
    staff = _coordinators_by_village(villages)
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


def _village_at(path: str, villages: dict[str, Any]) -> Any:
    """The village whose path is `path` or lies above it, if any."""
    parts = path.split("/")
    for k in range(len(parts), 0, -1):
        hit = villages.get("/".join(parts[:k]))
        if hit is not None:
            return hit
    return None


def _villages(streets: frozenset[int] | None) -> tuple[list[Any], dict[int, int]]:
    """The villages with a street the user sees (by code), and village id by street id."""
    villages = db.session.execute(
        sa.select(Area.id, Area.code, Area.name_zh, Area.path).where(Area.level == "village")
        .order_by(Area.code)).all()  # fmt: skip
    by_path = {v.path: v for v in villages}
    village_of = {}
    for sid, path in db.session.execute(
            sa.select(Area.id, Area.path).where(Area.level == "street")):
        v = _village_at(path, by_path)
        if v is not None:
            village_of[sid] = v.id
    if streets is not None:
        seen = {village_of[s] for s in streets if s in village_of}
        villages = [v for v in villages if v.id in seen]
    return list(villages), village_of


def _coordinators_by_village(villages: list[Any]) -> dict[int, set[int]]:
    """Active coordinators assigned to each village or to any street in it."""
    out: dict[int, set[int]] = {v.id: set() for v in villages}
    by_path = {v.path: v for v in villages}
    rows = db.session.execute(
        sa.select(Assignment.user_id, Area.path)
        .join(User, User.id == Assignment.user_id).join(Area, Area.id == Assignment.area_id)
        .where(User.role == Role.COORDINATOR.value, User.active.is_(True)))
    for user_id, path in rows:
        v = _village_at(path, by_path)
        if v is not None:
            out[v.id].add(user_id)
    return out
