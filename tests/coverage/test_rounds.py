"""Rounds by hand: creating, editing and closing rounds moves visits between rounds and
"outside any round", and the counts follow; overlapping rounds on one area are refused.

The township (tests/support/rounds.py): village T01 with streets T01-01 (A1..A3) and T01-02
(B1..B3), village T02 with street T02-01 (C1..C3); every building expects one household, and
every visit below records one, so a visited building is complete.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import AuditEvent, Round, RoundJob, Visit
from server.services.coverage import rederive, round_plans, rounds
from server.services.coverage import rollups as coverage_rollups
from server.services.coverage.round_plans import RoundError
from tests.support.rounds import build_township, near, on, states

VISITS = [("A1", "2026-03-02"), ("A2", "2026-03-05"), ("B1", "2026-03-10"),
          ("C1", "2026-03-03"), ("C2", "2026-03-20"), ("A3", "2026-04-02")]  # fmt: skip


@pytest.fixture
def town(app, submit):
    centres = build_township()
    for code, day in VISITS:
        submit("household", building=code, location=near(centres, code), start=on(day))
    return centres


def _create(**raw) -> Round:
    r, job = round_plans.create_round(None, raw)
    assert job.state == "queued"  # the change itself derives nothing: the worker does
    assert rederive.run_pending() == 1
    return db.session.get(Round, r.id)


def _edit(round_id: int, **raw) -> Round:
    round_plans.edit_round(None, round_id, raw)
    assert rederive.run_pending() == 1
    return db.session.get(Round, round_id)


def _complete(round_id: int) -> set[str]:
    return {code for code, state in states(round_id).items() if state == "complete"}


def _counts(round_id: int) -> tuple[int, int]:
    """(buildings in the round's areas, complete among them)."""
    c = coverage_rollups.counts_over(round_id, rounds.streets_of(round_id))
    return c["total"], c["complete"]


def test_create_edit_and_overlap_by_hand(town):
    # No round yet: all six visits are outside any round, none is lost.
    assert rounds.outside(None) == {"count": 6, "first": date(2026, 3, 2),
                                    "last": date(2026, 4, 2)}
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) == 6

    # March over village T01: A1, A2, B1 move in; C1, C2 (T02) and A3 (April) stay out.
    march = _create(name="三月一村", starts_on="2026-03-01", ends_on="2026-03-31", areas=["T01"])
    assert _complete(march.id) == {"A1", "A2", "B1"}
    assert _counts(march.id) == (6, 3)
    assert rounds.outside(None)["count"] == 3
    assert rederive.latest(march.id).moved == 3

    # The whole township overlapping March is refused, naming the round; nothing changes.
    with pytest.raises(RoundError, match=r"Overlaps round «三月一村» \(2026-03-01 – 2026-03-31\)"):
        round_plans.create_round(None, {"name": "全乡", "starts_on": "2026-03-15",
                                        "ends_on": "2026-04-15", "areas": ["T"]})
    assert db.session.scalar(sa.select(sa.func.count(Round.id))) == 1

    # Village T02 on overlapping days is another area: allowed, and C2 (03-20) moves in.
    t02 = _create(name="二村", starts_on="2026-03-15", ends_on="2026-04-15", areas=["T02"])
    assert _complete(t02.id) == {"C2"}
    assert _counts(t02.id) == (3, 1)
    assert rounds.outside(None)["count"] == 2  # C1 (03-03) and A3 (T01, April)

    # March shortened to 03-06: B1 (03-10) leaves it and is counted outside.
    march = _edit(march.id, ends_on="2026-03-06")
    assert _complete(march.id) == {"A1", "A2"}
    assert _counts(march.id) == (6, 2)
    assert rounds.outside(None)["count"] == 3

    # March narrowed to street T01-01: three buildings, two complete.
    march = _edit(march.id, areas=["T01-01"])
    assert _counts(march.id) == (3, 2)

    # T02 from 03-01 takes C1 too; widening March to the township would overlap T02: refused.
    t02 = _edit(t02.id, starts_on="2026-03-01")
    assert _counts(t02.id) == (3, 2)
    with pytest.raises(RoundError, match="Overlaps round «二村»"):
        round_plans.edit_round(None, march.id, {"areas": ["T"]})
    assert [ra.area.code for ra in db.session.get(Round, march.id).areas] == ["T01-01"]
    assert rounds.outside(None)["count"] == 2  # B1 and A3

    # Back to the first March: the same three again.
    march = _edit(march.id, areas=["T01"], ends_on="2026-03-31")
    assert _complete(march.id) == {"A1", "A2", "B1"}
    assert rounds.outside(None)["count"] == 1  # A3
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert [a for a in actions if a.startswith("round.")] == [
        "round.create", "round.create", "round.edit", "round.edit", "round.edit", "round.edit"]


def test_a_new_visit_finds_its_round_by_day_and_street(town, submit):
    march = _create(name="三月一村", starts_on="2026-03-01", ends_on="2026-03-31", areas=["T01"])
    in_round = submit("household", building="B2", location=near(town, "B2"),
                      start=on("2026-03-12"))
    other_village = submit("household", building="C3", location=near(town, "C3"),
                           start=on("2026-03-12"))
    round_of = dict(db.session.execute(sa.select(Visit.submission_id, Visit.round_id)).all())
    assert round_of[in_round.id] == march.id
    assert round_of[other_village.id] is None
    assert _counts(march.id) == (6, 4)
    assert rounds.outside(None)["count"] == 4  # C1, C2, A3, C3


def test_the_forms_that_count_and_the_round_thresholds(town, submit):
    march = _create(name="三月一村", starts_on="2026-03-01", ends_on="2026-03-31", areas=["T01"])
    # 15 m east of B3's centre: within the server's 30 m, beyond this round's 8 m.
    submit("household", building="B3", location=near(town, "B3", east=15.0),
           start=on("2026-03-15"))
    assert states(march.id)["B3"] == "complete"
    march = _edit(march.id, match_distance_m="8")
    assert states(march.id)["B3"] == "suspect"
    # Only building listings count now: the household visits stay in the round, uncounted.
    march = _edit(march.id, forms=["building_listing"])
    assert _counts(march.id) == (6, 0)
    assert rounds.outside(None)["count"] == 3  # unchanged: they are not outside the round
    march = _edit(march.id, forms=[], match_distance_m="")
    assert _complete(march.id) == {"A1", "A2", "B1", "B3"}


def test_closing_ends_the_round_and_freezes_it(town, monkeypatch):
    monkeypatch.setattr(localtime, "today", lambda: date(2026, 3, 6))
    march = _create(name="三月一村", starts_on="2026-03-01", ends_on="2026-03-31", areas=["T01"])
    round_plans.close_round(None, march.id)
    rederive.run_pending()
    march = db.session.get(Round, march.id)
    assert (march.ends_on, rounds.status(march)) == (date(2026, 3, 6), "closed")
    assert _complete(march.id) == {"A1", "A2"}  # B1 (03-10) came after the close
    with pytest.raises(RoundError, match="«三月一村» is closed"):
        round_plans.edit_round(None, march.id, {"name": "x"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"starts_on": "2026-03-01", "ends_on": "2026-03-31"}, "A round needs a name"),
        ({"name": "x", "starts_on": "2026-03-01"}, "a first day and a last day"),
        ({"name": "x", "starts_on": "1 March", "ends_on": "2026-03-31"},
         "starts_on: '1 March' is not a date"),
        ({"name": "x", "starts_on": "2026-03-31", "ends_on": "2026-03-01"},
         r"The last day \(2026-03-01\) is before the first day \(2026-03-31\)"),
        ({"name": "x", "starts_on": "2026-03-01", "ends_on": "2026-03-31", "areas": ["NOPE"]},
         "No area with code NOPE"),
        ({"name": "x", "starts_on": "2026-03-01", "ends_on": "2026-03-31", "forms": ["nope"]},
         "No form with id nope"),
        ({"name": "x", "starts_on": "2026-03-01", "ends_on": "2026-03-31",
          "update_rate_target": "150"}, "at most 100 %"),
        ({"name": "x", "starts_on": "2026-03-01", "ends_on": "2026-03-31",
          "match_distance_m": "-3"}, "between 0 and 10000 metres"),
        ({"name": "x", "starts_on": "2026-03-01", "ends_on": "2026-03-31", "colour": "red"},
         "Unknown field colour"),
        ({"name": "x", "starts_on": "2026-03-01", "ends_on": "2026-03-31", "phase": "winter"},
         "No phase named winter"),
    ],
)
def test_bad_rounds_are_refused_with_a_message(town, raw, message):
    with pytest.raises(RoundError, match=message):
        round_plans.create_round(None, raw)
    assert db.session.scalar(sa.select(sa.func.count(Round.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(RoundJob.id))) == 0


def test_targets_come_from_the_phase_unless_given(town):
    push = _create(name="推进", starts_on="2026-03-01", ends_on="2026-03-31", areas=["T01"])
    assert (push.phase.name, push.update_rate_target, push.accuracy_target) == (
        "推进阶段 (push)", 0.9, 1.0)
    steady = _create(name="常态", starts_on="2026-04-01", ends_on="2026-04-30", areas=["T01"],
                     phase="steady state", update_rate_target="95%")
    assert (steady.phase.name, steady.update_rate_target, steady.accuracy_target) == (
        "常态管理阶段 (steady state)", 0.95, 1.0)


@pytest.mark.postgres
def test_rounds_on_postgresql_and_postgis(postgres_app, township_xforms):
    from server.services.coverage import recompute
    from tests.support.coverage_scenario import install_forms, submit_instance

    versions = install_forms(township_xforms)
    centres = build_township()
    for code, day in VISITS:
        submit_instance(versions, "household", building=code, location=near(centres, code),
                        start=on(day))
    march = _create(name="三月一村", starts_on="2026-03-01", ends_on="2026-03-31", areas=["T01"])
    assert _complete(march.id) == {"A1", "A2", "B1"}
    assert rounds.outside(None)["count"] == 3
    with pytest.raises(RoundError, match="Overlaps round «三月一村»"):
        round_plans.create_round(None, {"name": "全乡", "starts_on": "2026-03-15",
                                        "ends_on": "2026-04-15", "areas": ["T"]})

    def postgis_complete() -> set[str]:
        codes = dict(db.session.execute(sa.text("SELECT id, code FROM buildings")).all())
        return {codes[b] for b, (s, _, _) in recompute.postgis_round(march.id).items()
                if s == "complete"}

    assert postgis_complete() == {"A1", "A2", "B1"}
    march = _edit(march.id, forms=["building_listing"])  # the forms filter, in PostGIS too
    assert _counts(march.id) == (6, 0) and postgis_complete() == set()
