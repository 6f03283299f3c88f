"""The demo township lives in the present: a closed round before, a current round around today
with partial coverage, real visits (a replay re-derives them), and a submission made today
counts in the current round at once."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import Building, Round, Submission, Visit
from server.services import demo
from server.services.coverage import rollups as coverage_rollups
from server.services.coverage import rounds
from server.services.coverage import store as coverage
from server.services.processing import pipeline
from tests.support.coverage_scenario import install_forms, submit_instance

TODAY = date(2031, 5, 20)


def _visits() -> dict[int, tuple]:
    return {v.submission_id: (v.round_id, v.building_id, v.outcome, v.units_recorded,
                              sorted(v.flags), v.visited_on)
            for v in db.session.scalars(sa.select(Visit))}  # fmt: skip


def test_the_demo_has_a_closed_round_and_a_current_one_around_today(app, monkeypatch):
    monkeypatch.setattr(localtime, "today", lambda: TODAY)
    demo.load_demo(buildings=300, today=TODAY)
    last, current = db.session.scalars(sa.select(Round).order_by(Round.starts_on)).all()
    assert rounds.status(last) == "closed" and last.ends_on < current.starts_on
    assert current.starts_on < TODAY < current.ends_on and rounds.status(current) == "current"
    assert rounds.current_round(None).id == current.id
    before = coverage_rollups.counts_over(last.id, None)
    now = coverage_rollups.counts_over(current.id, None)
    assert now["total"] == 300
    assert 0.15 < now["visited_rate"] < 0.6 < before["visited_rate"]  # partial, behind last
    assert now["suspect"] > 0 and now["revisit"] > 0
    assert rounds.outside(None)["count"] == 0
    days = db.session.execute(sa.select(sa.func.min(Visit.visited_on), sa.func.max(
        Visit.visited_on)).where(Visit.round_id == current.id)).one()  # fmt: skip
    assert current.starts_on <= days[0] and days[1] <= TODAY


def test_demo_visits_are_real_submissions_a_replay_re_derives(app, monkeypatch):
    monkeypatch.setattr(localtime, "today", lambda: TODAY)
    demo.load_demo(buildings=120, today=TODAY)
    before = _visits()
    sample = sorted(before)[::7]
    db.session.execute(sa.update(Submission).where(Submission.id.in_(sample))
                       .values(processing_state="pending"))
    db.session.commit()
    assert pipeline.process_pending() == {"done": len(sample), "error": 0, "skipped": 0}
    assert _visits() == before


def test_a_submission_made_today_counts_in_the_current_round(app, monkeypatch,
                                                              township_xforms):
    monkeypatch.setattr(localtime, "today", lambda: TODAY)
    demo.load_demo(buildings=120, today=TODAY)
    current = rounds.current_round(None)
    stored = coverage.stored_states(current.id)
    b = db.session.scalar(sa.select(Building).where(Building.id.not_in(list(stored)))
                          .order_by(Building.id).limit(1))
    versions = install_forms(township_xforms)
    submit_instance(versions, "building_listing", building=b.code,
                    location=(b.lon, b.lat, 5.0), outcome="vacant",
                    start=f"{TODAY.isoformat()}T11:00:00+08:00")
    assert coverage.stored_states(current.id)[b.id] == "complete"
