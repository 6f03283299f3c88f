"""Rectification follow-up (整改): a supervisor orders a unit's violation put right by a due
date; a later rental inspection of the unit is its re-inspection; the supervisor closes it
once a re-inspection no longer finds the rule broken. Every order and closing is audited.

Rectifications are decisions, not derived data: they name the household's uuid and the rule's
code, so rebuilding the rental register (server.services.rentals.derive) keeps them, and the
re-inspection is looked up among the unit's inspections each time it is read.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import RentalRectification, User
from server.models._types import utcnow
from server.services import audit
from server.services.errors import ServiceError
from server.services.rentals import ledger
from server.services.rentals.ledger import CLOSED, OPEN, reinspection

NOTE_LIMIT = 500


class RectificationError(ServiceError):
    """A rectification that cannot be ordered or closed as asked."""

    code = "rectification"


def order(user: User, household_uuid: str, rule: str, due_on: date | None, note: str = ""
          ) -> RentalRectification:
    """Order a violation the unit has now put right by `due_on` (today or later); one open
    rectification per unit and rule."""
    unit = ledger.unit(user, household_uuid)
    if rule not in (unit.violations or {}):
        raise RectificationError("this unit does not break the rule {rule} now", status=409,
                                 rule=rule)
    if due_on is None:
        raise RectificationError("give a due date (YYYY-MM-DD)")
    if due_on < localtime.today():
        raise RectificationError("the due date {day} has already passed", day=due_on.isoformat())
    note = _note(note)
    taken = db.session.scalar(sa.select(RentalRectification.id).where(
        RentalRectification.household_uuid == unit.household_uuid,
        RentalRectification.rule == rule, RentalRectification.state == OPEN))
    if taken is not None:
        raise RectificationError("a rectification of this rule is already open for this unit",
                                 status=409)
    rect = RentalRectification(household_uuid=unit.household_uuid, rule=rule, due_on=due_on,
                               note=note, opened_by_id=user.id, opened_at=utcnow())
    db.session.add(rect)
    db.session.flush()
    audit.record("rental.rectification.order", user=user, object_type="rental_unit",
                 object_id=unit.household_uuid, rectification=rect.id, rule=rule,
                 due_on=due_on.isoformat())
    db.session.commit()
    return rect


def close(user: User, rect_id: int, note: str = "") -> RentalRectification:
    """Close a rectification after a re-inspection that no longer finds its rule broken."""
    rect = db.session.get(RentalRectification, rect_id)
    if rect is None:
        raise RectificationError("no such rectification", status=404)
    unit = ledger.unit(user, rect.household_uuid)  # 404 outside the user's areas
    if rect.state == CLOSED:
        raise RectificationError("this rectification is already closed", status=409)
    found = reinspection(rect, unit)
    if found is None:
        raise RectificationError("the unit has not been re-inspected since the rectification "
                                 "was ordered", status=409)
    if rect.rule in found.violations:
        raise RectificationError("the re-inspection of {day} still finds the violation",
                                 status=409, day=found.inspected_on.isoformat())
    rect.state, rect.closed_by_id, rect.closed_at = CLOSED, user.id, utcnow()
    rect.closing_submission_id, rect.close_note = found.submission_id, _note(note)
    audit.record("rental.rectification.close", user=user, object_type="rental_unit",
                 object_id=unit.household_uuid, rectification=rect.id, rule=rect.rule,
                 reinspection=found.submission_id, inspected_on=found.inspected_on.isoformat())
    db.session.commit()
    return rect


def _note(text: str) -> str:
    text = (text or "").strip()
    if len(text) > NOTE_LIMIT:
        raise RectificationError("a note is at most {n} characters", n=NOTE_LIMIT)
    return text
