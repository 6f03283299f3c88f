"""Buildings with their state under the map's filters, within what the user may see.

The user's streets come from server.services.scope; the round's streets (its areas) and the
filters (village, street, coordinator, state) narrow them further. A comparison round keeps the
buildings visited in it and not yet in the round shown ("visited last round, not this one").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from server import localtime
from server.extensions import db
from server.i18n import gettext as _
from server.models import (
    Area,
    Building,
    BuildingCoverage,
    Entity,
    Role,
    Round,
    Submission,
    SubmissionAttachment,
    User,
    Visit,
)
from server.services import choice_labels, scope, sql_lists, versions
from server.services.coverage import rounds
from server.services.coverage import store as coverage
from server.services.errors import ServiceError
from server.services.register import people


class FilterError(ServiceError):
    """A filter names something that does not exist: every surface answers 404."""

    status = 404
    code = "unknown_filter"


def coordinator(username: str) -> User:
    user = db.session.scalar(
        sa.select(User).where(User.username == username, User.role == Role.COORDINATOR.value)
    )
    if user is None:
        raise FilterError("no coordinator named {username!r}", username=username)
    return user


def area(code: str, level: str | None = None) -> Area:
    q = sa.select(Area).where(Area.code == code)
    if level:
        q = q.where(Area.level == level)
    found = db.session.scalar(q)
    if found is None and level == "street":
        raise FilterError("no street with code {code!r}", code=code)
    if found is None:
        raise FilterError("no area with code {code!r}", code=code)
    return found


def round_(round_id: int | None, user: User | None = None) -> Round:
    """The round asked for, else the user's current round (FilterError if there is none)."""
    if round_id is None:
        rnd = rounds.current_round(user)
        if rnd is None:
            raise FilterError("no collection round is defined yet")
        return rnd
    rnd = db.session.get(Round, round_id)
    if rnd is None:
        raise FilterError("no round with id {round_id}", round_id=round_id)
    return rnd


@dataclass(frozen=True)
class Filters:
    round: Round
    streets: frozenset[str] | None  # None = no street restriction
    state: str | None
    compare: Round | None = None  # keep buildings visited in it, unvisited in `round`
    street_ids: frozenset[int] | None = None  # the same streets by id (tiles, counts)

    def with_state(self, state: str | None) -> Filters:
        return replace(self, state=state)


def filters(
    user: User | None,
    *,
    round_id: int | None = None,
    village: str | None = None,
    street: str | None = None,
    coordinator_name: str | None = None,
    state: str | None = None,
    mine: bool = False,
    compare_id: int | None = None,
) -> Filters:
    """The user's scope narrowed by the round's streets and the filters; unknown names raise
    FilterError. Streets are narrowed as id -> code, so the result has both; they are kept per
    process (every tile and poll of a map asks the same) while the areas, the staff and the
    rounds are unchanged (versions.stamp)."""
    rnd = round_(round_id, user)
    compare = round_(compare_id) if compare_id is not None else None
    if compare is not None and compare.id == rnd.id:
        raise FilterError("compare the round with another round, not with itself")
    if state is not None and state not in coverage.STATES:
        raise FilterError("unknown state {state!r}; one of {states}", state=state,
                          states=", ".join(coverage.STATES))
    key = (user.id if user is not None else None, rnd.id, village, street, coordinator_name,
           bool(mine and user is not None))
    codes, ids = _STREETS.get(key, versions.stamp(), lambda: _streets(
        user, rnd.id, village, street, coordinator_name, mine))
    return Filters(rnd, codes, state, compare, ids)


_STREETS: versions.Kept[tuple] = versions.Kept(4096)


def _streets(user: User | None, round_id: int, village: str | None, street: str | None,
             coordinator_name: str | None, mine: bool
             ) -> tuple[frozenset[str] | None, frozenset[int] | None]:
    """(codes, ids) of the streets under the filters, or (None, None): every street."""
    streets = scope.visible_streets(user)

    def narrow(chosen: dict[int, str]) -> None:
        nonlocal streets
        streets = dict(chosen) if streets is None else {
            k: v for k, v in streets.items() if k in chosen}

    if mine and user is not None:
        narrow(scope.assigned_streets(user))
    if village:
        narrow(scope.streets_under_paths([area(village).path]))
    if street:
        found = area(street, "street")
        narrow({found.id: found.code})
    if coordinator_name:
        narrow(scope.assigned_streets(coordinator(coordinator_name)))
    if (covered := rounds.streets_of(round_id)) is not None:
        narrow(rounds.street_map_of(round_id) if streets is None else
               {k: v for k, v in streets.items() if v in covered})
    if streets is None:
        return None, None
    return frozenset(streets.values()), frozenset(streets)


def buildings(f: Filters, limit: int | None = None, bbox: tuple | None = None,
              footprints: bool = False) -> list:
    """Rows (Building, street code, state, visits, units) under the filters, by street, code;
    with `footprints`, the footprint's WKB in place of the Building (a map of the whole
    township builds no ORM object per building)."""
    state = sa.func.coalesce(BuildingCoverage.state, "unvisited")
    q = (
        sa.select(
            Building.footprint if footprints else Building, Area.code, state,
            BuildingCoverage.visits, BuildingCoverage.units_recorded
        )
        .outerjoin(Area, Area.id == Building.street_id)
        .outerjoin(
            BuildingCoverage,
            sa.and_(
                BuildingCoverage.building_id == Building.id, BuildingCoverage.round_id == f.round.id
            ),
        )
        .order_by(Area.code, Building.code)
    )
    if f.streets is not None:
        q = q.where(sql_lists.one_of(Area.code, f.streets))
    if f.state is not None:
        q = q.where(state == f.state)
    if f.compare is not None:
        before = aliased(BuildingCoverage)
        q = q.join(before, sa.and_(before.building_id == Building.id,
                                   before.round_id == f.compare.id))
        q = q.where(state == "unvisited")
    if bbox is not None:
        minx, miny, maxx, maxy = bbox
        q = q.where(
            Building.maxx >= minx,
            Building.minx <= maxx,
            Building.maxy >= miny,
            Building.miny <= maxy,
        )
    if limit is not None:
        q = q.limit(limit)
    return db.session.execute(q).all()


def building_detail(building_id: int, user: User, round_id: int | None) -> dict | None:
    """A building's households, visits and photos; None if unknown or out of scope."""
    b = db.session.get(Building, building_id)
    if b is None:
        return None
    streets = scope.street_codes(user)
    street = b.street.code if b.street is not None else None
    if streets is not None and street not in streets:
        return None
    rnd = round_(round_id, user) if round_id or rounds.current_round(user) else None
    cov = db.session.get(BuildingCoverage, (b.id, rnd.id)) if rnd else None
    households = db.session.scalars(
        sa.select(Entity)
        .where(
            Entity.building_id == b.id, Entity.dataset == "households", Entity.deleted.is_(False)
        )
        .order_by(Entity.label)
    ).all()
    visits = db.session.execute(
        sa.select(Visit, Submission.instance_id, Submission.review_state, User.display_name)
        .join(Submission, Submission.id == Visit.submission_id)
        .outerjoin(User, User.id == Visit.coordinator_id)
        .where(Visit.building_id == b.id)
        .order_by(Visit.visited_at.desc())
    ).all()
    photos = db.session.execute(
        sa.select(SubmissionAttachment.id, SubmissionAttachment.name, Visit.id)
        .join(Visit, Visit.submission_id == SubmissionAttachment.submission_id)
        .where(
            Visit.building_id == b.id,
            SubmissionAttachment.storage_key.is_not(None),
            SubmissionAttachment.content_type.like("image/%"),
        )
    ).all()
    household_words = choice_labels.DatasetWords("households")
    listing_words = choice_labels.DatasetWords("buildings")
    living = people.current_counts(list(households))

    def outcome_words(value: str | None) -> str | None:
        """A visit's outcome: a household visit's words first, else the building listing's."""
        if value in household_words.labels.get("outcome", {}):
            return household_words("outcome", value)
        return listing_words("outcome", value)

    return {
        "id": b.id,
        "code": b.code,
        "address": b.address,
        "street": street,
        "expected_units": b.expected_units,
        "floors": b.floors,
        "round": rnd.id if rnd else None,
        "state": cov.state if cov else "unvisited",
        "units_recorded": cov.units_recorded if cov else 0,
        "households": [
            {
                "id": h.uuid,
                "label": h.label,
                "outcome": h.properties.get("outcome"),
                "outcome_label": household_words("outcome", h.properties.get("outcome")),
                "person_count": h.properties.get("person_count"),
                "living": living.get(h.uuid, 0),
            }
            for h in households
        ],
        "visits": [
            {
                "id": v.id,
                "instance_id": iid,
                "round": v.round_id,
                "outcome": v.outcome,
                "units": v.units_recorded,
                "distance_m": v.distance_m,
                "flags": v.flags,
                "flag_labels": [_(coverage.FLAG_WORDS.get(f, f)) for f in v.flags],
                "outcome_label": outcome_words(v.outcome),
                "gps_accuracy": v.gps_accuracy,
                "coordinator": name,
                "review_state": review,
                "visited_at": localtime.export_text(v.visited_at),
            }
            for v, iid, review, name in visits
        ],
        "photos": [{"id": pid, "name": name, "visit": vid} for pid, name, vid in photos],
    }


