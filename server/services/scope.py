"""Who may see which areas: the one rule every reader asks, and it fails closed.

The map, tiles, statistics, walk lists and coverage exports, the submission list and its exports,
the register and the phones' entity lists all narrow their queries here, so a principal sees the
same streets everywhere:

- the command line (no user), admins and form designers: every area (personal data is masked
  for admins and designers by server.services.privacy, not here);
- supervisors and coordinators: the streets under their assigned areas (a village expands to its
  streets); none assigned means nothing, never everything;
- any other or unknown role: nothing.

Submissions follow people rather than places: a coordinator sees their own, a supervisor those
sent by anyone assigned inside their areas. A handover (server.services.handover) keeps that
true when someone leaves: the successor sees the leaver's returned submissions (the open work to
correct), and supervisors keep seeing everything the leaver sent through the successor.
"""

from __future__ import annotations

import bisect
from typing import Any

import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Assignment, DataVersion, Role, Submission, User
from server.models.submissions import RETURNED_STATES
from server.services import versions

#: Roles whose scope is every area.
EVERYWHERE = frozenset({Role.ADMIN, Role.DESIGNER})
#: Roles whose scope is their assigned areas.
ASSIGNED = frozenset({Role.SUPERVISOR, Role.COORDINATOR})


def _under(paths: list[str]) -> Any:
    """Areas at or below any of the paths (the area tree is a materialised path)."""
    if not paths:
        return sa.false()
    return sa.or_(*[sa.or_(Area.path == p, Area.path.like(p + "/%")) for p in paths])


def _role(user: User | None) -> Role | None:
    """The role that decides, or None: anonymous, deactivated or unknown roles see nothing."""
    if user is None or not getattr(user, "active", False):
        return None
    try:
        return Role(user.role)
    except ValueError:
        return None


def sees_everything(user: User | None) -> bool:
    return user is None or _role(user) in EVERYWHERE


_PATHS: versions.Kept[list[str]] = versions.Kept(4096)


def assigned_paths(user: User) -> list[str]:
    """Paths of the user's assigned areas (kept per process and user while the areas and the
    staff's assignments are unchanged: a request reads no assignment)."""
    def read() -> list[str]:
        return [a.area.path for a in user.assignments]

    if user.id is None:  # not stored yet: nothing to key it by
        return read()
    return list(_PATHS.get(user.id, versions.stamp(), read))


def area_paths(user: User | None) -> list[str] | None:
    """Paths of the areas at and under which the user sees everything; None: every area."""
    if sees_everything(user):
        return None
    return assigned_paths(user) if _role(user) in ASSIGNED else []


_STREETS: versions.Kept[dict[int, str]] = versions.Kept(1024)


def streets_under_paths(paths: list[str]) -> dict[int, str]:
    """Street id -> street code for every street at or below the paths (kept per process
    until an area is added or an areas import bumps the `areas` version)."""
    def read() -> dict[int, str]:
        return dict(db.session.execute(
            sa.select(Area.id, Area.code).where(Area.level == "street", _under(paths))).all())

    return dict(_STREETS.get(tuple(sorted(paths)), areas_signature(), read))


def streets_under_select(paths: list[str]) -> sa.Select:
    """The streets of `streets_under_paths`, as a subquery: a query narrowed to an area's
    streets without sending their ids (a township holds thousands; one bound parameter each
    costs its compile, and SQLite takes at most 32,766)."""
    return sa.select(Area.id).where(Area.level == "street", _under(paths))


def areas_signature() -> tuple:
    """What changes whenever areas are added or an areas import edits them (per-process
    copies of the area tree compare it)."""
    return versions.stamp().areas


def areas_edited() -> None:
    """Call inside the transaction that changed areas' paths or levels (an areas import)."""
    versions.forget()
    t = DataVersion.__table__
    if not db.session.execute(sa.update(t).where(t.c.name == "areas")
                              .values(version=t.c.version + 1)).rowcount:
        db.session.execute(sa.insert(t).values(name="areas", version=1))


def assigned_streets(user: User) -> dict[int, str]:
    """The streets a user is assigned to work in (whatever their role may see)."""
    return streets_under_paths(assigned_paths(user))


def visible_streets(user: User | None) -> dict[int, str] | None:
    """Street id -> code of the streets the user may see; None means every area."""
    if sees_everything(user):
        return None
    if _role(user) in ASSIGNED:
        return assigned_streets(user)
    return {}


def street_ids(user: User | None) -> frozenset[int] | None:
    """Ids of the streets the user may see; None means every area (and unassigned buildings)."""
    visible = visible_streets(user)
    return None if visible is None else frozenset(visible)


def street_codes(user: User | None) -> frozenset[str] | None:
    """The same streets as `street_ids`, by code (the map's filters speak codes)."""
    visible = visible_streets(user)
    return None if visible is None else frozenset(visible.values())


def where_street(query: sa.Select, street_column: Any, user: User | None) -> sa.Select:
    """Narrow a query to rows whose street (an Area id column) the user may see: the same
    streets as `street_ids`, asked of the database as a subquery (a list of ids would be a
    bound parameter per street: past 32,766, SQLite refuses the statement)."""
    paths = area_paths(user)
    return query if paths is None else query.where(
        street_column.in_(streets_under_select(paths)))


def team(user: User | None) -> sa.Select | None:
    """Ids of the people whose work (submissions, names) the user sees; None: everyone's."""
    if sees_everything(user):
        return None
    role = _role(user)
    if role is Role.COORDINATOR:
        return sa.select(User.id).where(User.id == user.id)
    if role is Role.SUPERVISOR:
        assigned = sa.select(Assignment.user_id).join(Area).where(_under(assigned_paths(user)))
        # with those who left and handed their work to someone assigned here (辞职替补)
        return sa.select(User.id).where(
            sa.or_(User.id.in_(assigned), User.successor_id.in_(assigned)))
    return sa.select(User.id).where(sa.false())


def where_submission(query: sa.Select, user: User | None) -> sa.Select:
    """Narrow a query over Submission to those the user may see (drafts' tests: never)."""
    query = query.where(Submission.draft.is_(False))
    people = team(user)
    if people is None:
        return query
    visible = Submission.submitter_id.in_(people)
    if _role(user) is Role.COORDINATOR:  # and the returned work a leaver handed to them
        handed_over = sa.select(User.id).where(User.successor_id == user.id)
        visible = sa.or_(visible, sa.and_(Submission.submitter_id.in_(handed_over),
                                          Submission.review_state.in_(RETURNED_STATES)))
    return query.where(visible)


def team_coordinators(user: User | None) -> sa.Select:
    """Coordinators (User rows, by username) whose work the user sees: the names a filter
    of their submissions may offer."""
    query = sa.select(User).where(User.role == Role.COORDINATOR.value).order_by(User.username)
    people = team(user)
    return query if people is None else query.where(User.id.in_(people))


def coordinators_working_in(user: User | None) -> list[str]:
    """Usernames of the coordinators assigned to any street the user sees (map filters)."""
    visible = street_codes(user)
    return sorted(name for name, codes in coordinator_streets().items()
                  if visible is None or visible.intersection(codes))


_COORDINATORS: versions.Kept[dict[str, list[str]]] = versions.Kept(16)


def coordinator_streets() -> dict[str, list[str]]:
    """Coordinator username -> codes of the streets they are assigned (for the roll-ups; kept
    per process while the areas and the staff are unchanged: read it, never change it)."""
    return _COORDINATORS.get(None, versions.stamp(), _coordinator_streets)


def _coordinator_streets() -> dict[str, list[str]]:
    streets = db.session.execute(
        sa.select(Area.code, Area.path).where(Area.level == "street").order_by(Area.path)
    ).all()
    rows = db.session.execute(
        sa.select(User.username, Area.path)
        .join(Assignment, Assignment.user_id == User.id)
        .join(Area, Area.id == Assignment.area_id)
        .where(User.role == Role.COORDINATOR.value)
    ).all()
    streets = sorted(streets, key=lambda row: row[1])  # Python's order, not the collation's
    paths = [p for _code, p in streets]  # the streets under a path are one run of these
    out: dict[str, list[str]] = {}
    for username, path in rows:
        lo = bisect.bisect_left(paths, path)
        hi = bisect.bisect_left(paths, path + "0")  # "0" follows "/": past the path's subtree
        out.setdefault(username, []).extend(
            code for code, p in streets[lo:hi] if p == path or p.startswith(path + "/")
        )
    return out
