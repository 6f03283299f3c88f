"""A submission the pipeline has not processed yet (pending, or failed) has no visit, so the
roll-up does not sum it: the reports still count it (facts.py finds it by the processing
index, and the ones an edit replaced by theirs), on its day and as its reviewer decided."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Submission
from server.services.reports import facts, metrics

WINDOW = (date(2016, 10, 1), date(2016, 10, 20))


def _counts(plan):
    return metrics.table(facts.load(plan.round), *WINDOW).total()


@pytest.mark.parametrize("state", ["pending", "error"])
def test_a_submission_not_processed_counts_as_reviewed(plan, state):
    before = _counts(plan)
    plan.home("u1", plan.c1, "A1", "T01-01", [("pu", 6, True)], "2016-10-19", process=False)
    sub = plan.subs["u1"]
    db.session.execute(sa.update(Submission).where(Submission.id == sub.id)
                       .values(processing_state=state))
    db.session.commit()
    plan.review("u1", "has_issues")  # (a rejection would process it: coverage changes)
    after = _counts(plan)
    assert (after.reviewed, after.returned, after.approved) == (
        before.reviewed + 1, before.returned + 1, before.approved)
    assert after.visits == before.visits  # no visit: nothing the roll-up sums
    assert db.session.get(Submission, sub.id).processing_state == state
