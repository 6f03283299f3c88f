"""Registrations held for review (ID conflicts) are counted per day and street by the database
(facts._conflicts); a window's figure is the sum of its days, as counting them one by one
(tests/support/report_recount.py) gives."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Entity, RegisterConflict
from server.services.reports import facts, meeting, metrics, periods
from tests.support import report_recount as recount


def _more_held(plan) -> int:
    """Two more held on s9's day (10-18) in its street, one with no visit held on 10-21 (its
    own time, in Beijing); returns the street."""
    held = db.session.scalar(sa.select(RegisterConflict))  # s9's: p3's ID number
    for k in range(2):  # (one per record a submission names: other records of s9)
        db.session.add(RegisterConflict(entity_id=held.entity_id, uuid=f"{held.uuid}-{k}",
                                        submission_id=held.submission_id, reason=held.reason))
    db.session.add(RegisterConflict(entity_id=held.entity_id, uuid=held.uuid, reason=held.reason,
                                    created_at=datetime(2016, 10, 20, 17, 0)))  # UTC
    db.session.commit()
    return db.session.get(Entity, held.entity_id).area_id


@pytest.mark.parametrize(("start", "end", "expected"), [
    (date(2016, 10, 18), date(2016, 10, 18), 3),
    (date(2016, 10, 21), date(2016, 10, 21), 1),
    (date(2016, 10, 11), date(2016, 10, 20), 3),  # the second 旬
    (date(2016, 10, 21), date(2016, 10, 31), 1),  # the third
    (date(2016, 10, 1), date(2016, 10, 31), 4),
    (date(2016, 10, 1), date(2016, 10, 17), 0),
])
def test_held_registrations_are_counted_in_their_window(plan, start, end, expected):
    street = _more_held(plan)
    f = facts.load(plan.round)
    got = metrics.tally(f, start, end, "street").get(street)
    assert (got.held if got else 0) == expected
    one_by_one = recount.tally(recount.load(plan.round), start, end, "street").get(street)
    assert (one_by_one.held if one_by_one else 0) == expected


def test_a_meeting_report_counts_the_registrations_still_held(plan):
    """The flag 'held for review: N open' counts the open ones of the area, whatever their
    day; a decided one is no longer held."""
    _more_held(plan)
    decided = db.session.scalars(sa.select(RegisterConflict).order_by(RegisterConflict.id)).all()
    decided[-1].state = "accepted"
    db.session.commit()
    area = meeting.area_for(None, "T", "xun")
    assert meeting.build(None, "xun", periods.parse("2016-10-1"), area).held_open == 3
    village = meeting.area_for(None, "T02", "xun")  # p3 lives in T01
    assert meeting.build(None, "xun", periods.parse("2016-10-1"), village).held_open == 0
