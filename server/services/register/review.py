"""Registrations held for review, and a supervisor's decision on them.

Knowing a resident's ID number must not be enough to take their record over (issue 14, finding
4): a registration that would move a person out of another area, or change who they are, is kept
as a RegisterConflict (server.services.register.entities) while the person stays as recorded.
Only those who may see the person's street (server.services.scope: supervisors of that area,
admins) see the held registration and decide: accept applies it exactly as submitted, reject
leaves the person as they are. Either way the decision is audited; the raw submission is kept.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.extensions import db
from server.models import Entity, RegisterConflict, Role, User
from server.models._types import utcnow
from server.services import audit, scope
from server.services.errors import ServiceError
from server.services.register import entities

OPEN, ACCEPTED, REJECTED = "open", "accepted", "rejected"
DECIDERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


class ReviewError(ServiceError):
    """A decision on a held registration that cannot be made."""

    code = "review_refused"


def _visible(user: User | None) -> sa.Select:
    query = sa.select(RegisterConflict).join(Entity, Entity.id == RegisterConflict.entity_id)
    return scope.where_street(query, Entity.area_id, user)


def open_conflicts(user: User | None, limit: int = 200) -> list[RegisterConflict]:
    """Held registrations of persons on the user's streets, oldest first."""
    query = _visible(user).where(RegisterConflict.state == OPEN)
    return list(db.session.scalars(query.order_by(RegisterConflict.id).limit(limit)))


def get_visible(user: User | None, conflict_id: int) -> RegisterConflict | None:
    return db.session.scalar(_visible(user).where(RegisterConflict.id == conflict_id))


def decide(user: User, conflict_id: int, accept: bool) -> RegisterConflict:
    """Accept (apply the registration) or reject (the person stays) one held registration."""
    if user is None or user.role not in DECIDERS:
        raise ReviewError("Only a supervisor of the person's area decides.", status=403)
    conflict = get_visible(user, conflict_id)
    if conflict is None:
        raise ReviewError("No held registration {conflict_id} in your areas.", status=404,
                          conflict_id=conflict_id)
    if conflict.state != OPEN:
        raise ReviewError("Held registration {conflict_id} was already {state}.", status=409,
                          conflict_id=conflict_id, state=conflict.state)
    person = conflict.entity
    if accept:
        entities.apply_held(conflict)
    conflict.state = ACCEPTED if accept else REJECTED
    conflict.decided_by_id, conflict.decided_at = user.id, utcnow()
    db.session.flush()
    still_open = db.session.scalar(sa.select(sa.func.count(RegisterConflict.id)).where(
        RegisterConflict.entity_id == person.id, RegisterConflict.state == OPEN))
    if not still_open and person.conflict:
        rest = [n for n in person.conflict.split("; ") if n != entities.HELD_NOTE]
        person.conflict = "; ".join(rest) or None
    audit.record(f"register.conflict.{conflict.state}", user=user,
                 object_type="register_conflict", object_id=conflict.id, person=person.uuid,
                 submission_id=conflict.submission_id, reason=conflict.reason)
    db.session.commit()
    return conflict
