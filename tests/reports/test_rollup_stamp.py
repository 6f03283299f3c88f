"""A round's roll-up arrays are read once per process and kept while the token of
server/services/coverage/rollup_stamp.py holds: a review decision or a visit committed here or
in another process gives a new token and the next page reads them again; a change not yet
committed is read around the kept copies and leaves nothing behind if it rolls back."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from server.extensions import db
from server.models import DataVersion
from server.services.coverage import report_days, rollup_stamp
from server.services.reports import facts, metrics
from tests.support import report_recount as recount
from tests.support.elsewhere import run_in_another_process

WINDOW = (date(2016, 10, 1), date(2016, 10, 20))


def _approved(f) -> int:
    return metrics.table(f, *WINDOW).total().approved


def _agrees_with_recount(rnd) -> None:
    f, old = facts.load(rnd), recount.load(rnd)
    got = {k: (c.approved, c.reviewed, c.visits, c.visited) for k, c in
           metrics.tally(f, *WINDOW).items()}
    want = {k: (c.approved, c.reviewed, c.visits, c.visited) for k, c in
            recount.tally(old, *WINDOW).items() if any((c.approved, c.reviewed, c.visits,
                                                        c.visited, c.buildings))}
    assert {k: v for k, v in got.items() if any(v) or k in want} == want


def _token() -> int | None:
    return db.session.scalar(sa.select(DataVersion.version).where(
        DataVersion.name == rollup_stamp.NAME))


def test_the_arrays_are_kept_until_a_decision_is_committed(plan):
    rnd = plan.round
    first, again = facts.load(rnd), facts.load(rnd)
    assert again.visits[0] is first.visits[0]  # kept: not read again
    metrics.coverage_as_of(first, WINDOW[1])
    metrics.coverage_as_of(again, WINDOW[1])
    assert again.derived["coverage"] is first.derived["coverage"]
    before, token = _approved(first), _token()
    plan.review("s7", "approved")  # was has_issues
    assert _token() != token
    after = facts.load(rnd)
    assert after.visits[0] is not first.visits[0]
    assert _approved(after) == before + 1
    _agrees_with_recount(rnd)


def test_an_uncommitted_change_is_read_around_and_rolled_back_with_its_transaction(plan):
    rnd = plan.round
    before = _approved(facts.load(rnd))
    sub = plan.subs["s7"]
    sub.review_state = "approved"
    report_days.refresh_submission(sub.id)  # flushed, not committed
    assert _approved(facts.load(rnd)) == before + 1
    db.session.rollback()
    assert _approved(facts.load(rnd)) == before  # the kept copy is the committed one


def test_a_decision_committed_by_another_process_is_seen(plan, app):
    rnd = plan.round
    before = _approved(facts.load(rnd))
    run_in_another_process(app, f"""
        sub = db.session.get(Submission, {plan.subs['s7'].id})
        sub.review_state = 'approved'
        report_days.refresh_submission(sub.id)
        db.session.commit()
    """, imports="""
        from server.extensions import db
        from server.models import Submission
        from server.services.coverage import report_days
    """)
    db.session.expire_all()
    assert _approved(facts.load(rnd)) == before + 1
