"""A supervisor's review decision reaches the coverage map without a manual recompute."""

from __future__ import annotations

import pytest

from server.extensions import db
from server.models import Building, Submission, Visit
from server.services.coverage import store as coverage
from server.services.submissions.exports import set_review_state
from tests.support.coverage_scenario import LAT0, LON0, offset


@pytest.mark.parametrize("undo_to", ["approved", "has_issues"])
def test_rejecting_a_visit_uncovers_its_building_and_undoing_restores_it(
    scenario, submit, make_user, undo_to
) -> None:
    rid = scenario["round_id"]
    b14 = db.session.scalar(db.select(Building).where(Building.code == "B14"))
    lon, lat = offset(LON0 + 13 * 0.001 + 0.00005, LAT0 + 0.00005, 0, 0)
    sub = submit("building_listing", building="B14", outcome="vacant", location=(lon, lat, 4.0))
    assert coverage.stored_states(rid)[b14.id] == "complete"

    supervisor = make_user("supervisor")
    set_review_state(supervisor, db.session.get(Submission, sub.id), "rejected", "not_visited")
    assert coverage.stored_states(rid).get(b14.id, "unvisited") == "unvisited"

    set_review_state(supervisor, db.session.get(Submission, sub.id), undo_to, "incomplete")
    assert coverage.stored_states(rid)[b14.id] == "complete"


def test_a_correction_of_a_rejected_visit_counts_the_building_again(scenario, submit,
                                                                   make_user) -> None:
    """Issue 10, item 5: rejected with a reason -> unvisited; the coordinator's edit (meta/
    deprecatedID) replaces it, starts as received, and its visit counts."""
    rid = scenario["round_id"]
    b14 = db.session.scalar(db.select(Building).where(Building.code == "B14"))
    lon, lat = offset(LON0 + 13 * 0.001 + 0.00005, LAT0 + 0.00005, 0, 0)
    sub = submit("building_listing", building="B14", outcome="vacant", location=(lon, lat, 4.0))
    set_review_state(make_user("supervisor"), sub, "rejected", "not_visited", "")
    assert coverage.stored_states(rid).get(b14.id, "unvisited") == "unvisited"

    fixed = submit("building_listing", building="B14", outcome="vacant",
                   location=(lon, lat, 4.0), deprecated_id=sub.instance_id)
    assert fixed.review_state == "received" and db.session.get(Submission, sub.id).superseded
    assert coverage.stored_states(rid)[b14.id] == "complete"
    visits = db.session.scalars(db.select(Visit).where(Visit.building_id == b14.id)).all()
    assert [v.submission_id for v in visits] == [fixed.id]
