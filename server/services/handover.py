"""Handover when a coordinator leaves (辞职替补): one action gives a named successor the
leaver's areas and open work, and keeps the history of who did what.

What moves: the leaver's assigned areas (and with them the unvisited buildings of those streets,
their walk lists and the phones' entity lists, which all follow assignments) and their returned
submissions (review state has_issues or rejected), which the successor may open and correct
(server.services.scope reads `User.successor_id`). What stays: every submission keeps its
submitter, every visit its coordinator, so the leaver's past visits keep counting for coverage.
The leaver is deactivated, which revokes their device link (the phone gets 403 at once), and an
audit event records the handover with its counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment, Building, BuildingCoverage, Role, Submission, User
from server.models.submissions import RETURNED_STATES
from server.services import audit, scope
from server.services.coverage import rounds
from server.services.users import UserError, set_active

#: Roles whose work can be handed over (a supervisor's areas move the same way).
HANDOVER_ROLES = frozenset({Role.COORDINATOR, Role.SUPERVISOR})


@dataclass
class Handover:
    """What a handover moved, for the person who did it (page, CLI) and the audit log."""

    leaver: str
    successor: str
    areas: list[str] = field(default_factory=list)
    streets: int = 0
    unvisited: int = 0
    returned: int = 0
    earlier: list[str] = field(default_factory=list)

    def detail(self) -> dict:
        return {"leaver": self.leaver, "successor": self.successor, "areas": self.areas,
                "streets": self.streets, "unvisited_buildings": self.unvisited,
                "returned_submissions": self.returned, "earlier_leavers": self.earlier}


def _user(username: str, what: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise UserError("no user {username!r} ({what})", username=username, what=what)
    return user


def _check(leaver: User, successor: User) -> None:
    if leaver.id == successor.id:
        raise UserError("the leaver and the successor must be two different users")
    if leaver.role_enum not in HANDOVER_ROLES:
        raise UserError("{leaver} is {role}: only coordinators' and supervisors' work is handed "
                        "over", leaver=leaver.username, role=leaver.role)
    if successor.role != leaver.role:
        raise UserError("{successor} is {successor_role}, {leaver} is {leaver_role}: the "
                        "successor must have the same role", successor=successor.username,
                        successor_role=successor.role, leaver=leaver.username,
                        leaver_role=leaver.role)
    if not successor.active:
        raise UserError("{successor} is deactivated: activate them first",
                        successor=successor.username)
    if successor.successor_id is not None:
        raise UserError("{successor} has left (handed over to {next}): choose someone still "
                        "working", successor=successor.username, next=successor.successor.username)
    if leaver.successor_id is not None:
        raise UserError("{leaver} was already handed over to {successor}",
                        leaver=leaver.username, successor=leaver.successor.username)


def _unvisited(street_ids: list[int]) -> int:
    """Buildings of these streets not yet visited in the current round (all, without one)."""
    if not street_ids:
        return 0
    total = db.session.scalar(
        sa.select(sa.func.count(Building.id)).where(Building.street_id.in_(street_ids)))
    rnd = rounds.current_round(None)
    if rnd is None:
        return total or 0
    seen = db.session.scalar(
        sa.select(sa.func.count(BuildingCoverage.building_id))
        .join(Building, Building.id == BuildingCoverage.building_id)
        .where(Building.street_id.in_(street_ids), BuildingCoverage.round_id == rnd.id,
               BuildingCoverage.state != "unvisited"))
    return (total or 0) - (seen or 0)


def handover(leaver_name: str, successor_name: str, *, by: User | None = None) -> Handover:
    """Move the leaver's areas and open work to the successor and deactivate the leaver.

    Refused with UserError, changing nothing, for unknown users, the same user twice, different
    roles, a deactivated or departed successor, or a leaver already handed over. The caller
    commits (the audit event is in the same transaction).
    """
    leaver = _user(leaver_name, "the leaver")
    successor = _user(successor_name, "the successor")
    _check(leaver, successor)
    moved = [a.area for a in leaver.assignments]
    held = {a.area_id for a in successor.assignments}
    for area in moved:
        if area.id not in held:
            successor.assignments.append(Assignment(area=area))
    streets = scope.streets_under_paths([a.path for a in moved])
    returned = db.session.scalar(
        sa.select(sa.func.count(Submission.id)).where(
            Submission.submitter_id.in_(
                sa.select(User.id).where(sa.or_(User.id == leaver.id,
                                                User.successor_id == leaver.id))),
            Submission.review_state.in_(RETURNED_STATES), Submission.superseded.is_(False),
            Submission.draft.is_(False)))
    result = Handover(leaver.username, successor.username,
                      areas=sorted(a.code for a in moved), streets=len(streets),
                      unvisited=_unvisited(sorted(streets)), returned=returned or 0)
    # Those who had handed over to the leaver now point at the successor: one hop always
    # reaches whoever holds the work.
    earlier = db.session.scalars(sa.select(User).where(User.successor_id == leaver.id)).all()
    for user in earlier:
        user.successor = successor
    result.earlier = sorted(u.username for u in earlier)
    leaver.assignments.clear()
    leaver.successor = successor
    set_active(leaver, False)
    db.session.flush()
    audit.record("user.handover", user=by, object_type="user", object_id=leaver.id,
                 **result.detail())
    return result

