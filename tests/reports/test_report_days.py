"""The report pages' roll-up (server/services/coverage/report_days.py) answers what a recount
from scratch answers (tests/support/report_recount.py: the pages' code before the roll-up, one
Python object per visit, submission and version), on a randomized township after a mix of
submissions, reviews (approved, returned, rejected, rejected then restored), corrections and
departures; the roll-up kept submission by submission is the one the full recompute rebuilds,
and the recompute repairs a wiped or corrupted one."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import ReportDayCount, ReportMark
from server.services.coverage import recompute, report_days
from server.services.reports import daysums, facts, figures, metrics, periods
from tests.support import report_recount as recount
from tests.support.reports import id_number

PLACES = {"A1": "T01-01", "A2": "T01-01", "A3": "T01-01", "B1": "T01-02", "B2": "T01-02",
          "B3": "T01-02", "C1": "T02-01", "C2": "T02-01", "C3": "T02-01"}
FIRST = date(2016, 10, 1)
WINDOWS = [  # to date, 旬, weeks (Monday 10-03 on), and windows no mark covers
    *((FIRST, FIRST + timedelta(days=k)) for k in range(0, 45, 4)),
    (date(2016, 10, 11), date(2016, 10, 20)), (date(2016, 10, 21), date(2016, 10, 31)),
    (date(2016, 10, 11), date(2016, 10, 15)), (date(2016, 11, 1), date(2016, 11, 10)),
    (date(2016, 10, 3), date(2016, 10, 9)), (date(2016, 10, 10), date(2016, 10, 16)),
    (date(2016, 10, 17), date(2016, 10, 19)), (date(2016, 10, 24), date(2016, 10, 30)),
    (date(2016, 10, 5), date(2016, 10, 12)), (date(2016, 10, 13), date(2016, 10, 27)),
]


def _mix(plan, seed: int, n: int) -> dict[str, int]:
    """n random household visits (some far from their building: suspect), with reviews,
    corrections of returned ones and departures of their people mixed in; returns how many
    of each happened (so the test knows it exercised them)."""
    rng = random.Random(seed)
    done = {"reviews": 0, "returned": 0, "rejected": 0, "restored": 0, "corrected": 0,
            "departed": 0}
    state: dict[str, str] = {}
    sent: list[tuple[str, str, int, str]] = []  # (name, building, person index, day)
    replaced: set[str] = set()
    for i in range(n):
        code = rng.choice(sorted(PLACES))
        who = plan.c1 if code[0] in "AB" else plan.c2
        day = (FIRST + timedelta(days=rng.randrange(0, 42))).isoformat()
        k = 100 + i
        plan.ids[k] = id_number(k)
        name = f"r{i}"
        plan.home(name, who, code, PLACES[code], [(f"q{i}", k, True)], day,
                  east=rng.choice([0.0, 0.0, 0.0, 150.0]))
        sent.append((name, code, k, day))
        state[name] = "received"
        roll = rng.random()
        live = [s for s in sent if s[0] not in replaced]
        target = rng.choice(live)
        if roll < 0.45:
            new = rng.choice(["approved", "has_issues", "rejected"])
            rejected = [s for s in live if state[s[0]] == "rejected"]
            if rejected and rng.random() < 0.35:  # a rejection taken back
                target, new = rng.choice(rejected), rng.choice(["approved", "has_issues"])
            if state[target[0]] == "rejected" and new != "rejected":
                done["restored"] += 1
            if new != state[target[0]]:
                plan.review(target[0], new, at=f"{target[3]}T12:00:00")
                state[target[0]] = new
                done["reviews"] += 1
                done["returned"] += new == "has_issues"
                done["rejected"] += new == "rejected"
        elif roll < 0.65:
            returned = [s for s in live if state[s[0]] == "has_issues"]
            if returned:
                name_, code_, k_, day_ = rng.choice(returned)
                t = _who(plan, code_)
                plan.home(name_, t, code_, PLACES[code_], [(f"q{k_ - 100}", k_, True)], day_,
                          as_=f"{name_}c", replaces=name_,
                          received=f"{day_}T{rng.randrange(10, 23)}:00:00")
                replaced.add(name_)
                sent.append((f"{name_}c", code_, k_, day_))
                state[f"{name_}c"] = "received"
                done["corrected"] += 1
        elif roll < 0.8:
            name_, code_, k_, day_ = target
            if not name_.endswith("c") and f"{name_}c" not in state:
                plan.send(f"d{i}", _who(plan, code_), "departure", {
                    "street": PLACES[code_], "household": plan.uuid(f"H:{name_}"),
                    "person": plan.uuid(f"q{k_ - 100}"), "person_label": "住户",
                    "departure_date": day_, "destination": "成都", "reason": "work",
                    "source": "landlord", "status": "departed", "visit_location": "",
                    "__entity": {"update": "1", "id": plan.uuid(f"q{k_ - 100}"),
                                 "baseVersion": "1"},
                }, day_)
                replaced.add(name_)  # (not corrected after its person left)
                done["departed"] += 1
    return done


def _who(plan, code: str):
    return plan.c1 if code[0] in "AB" else plan.c2


def _figures(per: dict) -> dict:
    """Every number of every key that has one (the hours sorted: the order is free)."""
    out = {}
    for key, c in per.items():
        numbers = tuple(getattr(c, name) for name in figures.NUMBERS)
        if any(numbers) or c.correction_hours:
            out[key] = (numbers, sorted(round(h, 6) for h in c.correction_hours))
    return out


def _agrees(rnd) -> int:
    """Every window, by street and by coordinator: the roll-up's tally is the recount's.
    Returns how many windows the marks answered (not the fallback)."""
    f, old = facts.load(rnd), recount.load(rnd)
    marked = 0
    for start, end in WINDOWS:
        marked += daysums.aligned(rnd.starts_on, start, end) is not None
        for by in ("street", "coordinator"):
            assert _figures(metrics.tally(f, start, end, by)) == _figures(
                recount.tally(old, start, end, by)), (start, end, by)
    return marked


def _snapshot(round_id: int) -> tuple[list, list]:
    d, m = ReportDayCount.__table__.c, ReportMark.__table__.c
    days = db.session.execute(
        sa.select(*d).where(d.round_id == round_id).order_by(
            d.street_id, d.person_id, d.day)).all()
    marks = db.session.execute(sa.select(m.building_id, m.marks).where(
        m.round_id == round_id).order_by(m.building_id)).all()
    nonzero = [tuple(r) for r in days if any(r[4:])]
    return nonzero, [tuple(r) for r in marks]


def _randomized(plan, seed: int, n: int) -> None:
    done = _mix(plan, seed, n)
    assert min(done.values()) >= 1, done  # each kind of change happened at least once
    rnd = plan.round
    assert _agrees(rnd) >= len(WINDOWS) - 2
    kept = _snapshot(rnd.id)
    assert kept[0] and kept[1]
    assert report_days.rebuild(rnd.id) == 0  # kept submission by submission = rebuilt
    db.session.commit()
    assert _snapshot(rnd.id) == kept


@pytest.mark.parametrize("seed", [3, 11])
def test_the_roll_up_answers_what_a_recount_answers(plan, seed):
    _randomized(plan, seed, 36)


def test_the_roll_up_answers_what_a_recount_answers_on_postgresql(pg_plan):
    _randomized(pg_plan, 5, 30)


def test_the_full_recompute_rebuilds_a_wiped_or_corrupted_roll_up(plan):
    _mix(plan, 7, 20)
    rnd = plan.round
    kept = _snapshot(rnd.id)
    d, m = ReportDayCount.__table__.c, ReportMark.__table__.c
    db.session.execute(sa.update(ReportDayCount).where(d.round_id == rnd.id, d.street_id > 0)
                       .values(visits=d.visits + 5, approved=0))
    db.session.execute(sa.delete(ReportDayCount).where(d.round_id == rnd.id, d.person_id ==
                                                        plan.c2.id))
    db.session.execute(sa.update(ReportMark).where(m.round_id == rnd.id).values(marks="[]"))
    db.session.commit()
    assert _snapshot(rnd.id) != kept
    recompute.recompute(rnd.id)
    assert _snapshot(rnd.id) == kept
    assert _agrees(rnd) >= len(WINDOWS) - 2
    db.session.execute(sa.delete(ReportDayCount))
    db.session.execute(sa.delete(ReportMark))
    db.session.commit()
    recompute.recompute(rnd.id)
    assert _snapshot(rnd.id) == kept


def test_the_marks_calendar_is_the_reports_calendar():
    """report_days.period_starts (coverage may not import reports) names the first day of the
    旬 and of the ISO week that periods.py gives for every day of two years."""
    day = date(2015, 12, 1)
    while day < date(2018, 1, 1):
        xun, week = report_days.period_starts(day.toordinal())
        assert (date.fromordinal(xun), date.fromordinal(week)) == (
            periods.containing(day, "xun").start, periods.containing(day, "week").start)
        day += timedelta(days=1)


def test_one_buildings_refresh_moves_the_sums(plan):
    """refresh.refresh_building (a visit refreshed outside a batch) moves the sums too: a visit
    moved to another day, made suspect and given to the other coordinator."""
    from server.models import Visit
    from server.services.coverage import refresh

    _mix(plan, 13, 10)
    rnd = plan.round
    for visit in db.session.scalars(sa.select(Visit).where(
            Visit.round_id == rnd.id, Visit.building_id.is_not(None)).order_by(Visit.id)
            .limit(4)):
        visit.visited_on = visit.visited_on + timedelta(days=9)
        visit.flags = ["far"]
        visit.coordinator_id = plan.c2.id if visit.coordinator_id == plan.c1.id else plan.c1.id
        db.session.flush()
        refresh.refresh_building(visit.building_id, rnd.id)
    db.session.commit()
    kept = _snapshot(rnd.id)
    assert report_days.rebuild(rnd.id) == 0
    db.session.commit()
    assert _snapshot(rnd.id) == kept
    assert _agrees(rnd) >= len(WINDOWS) - 2


def test_a_street_moved_carries_its_sums(plan):
    """Buildings edited (a street changed): resum (called by the import beside timeline.resum)
    adds the marks up again under the buildings' streets now."""
    from server.models import Building
    from server.services.coverage import store

    _mix(plan, 17, 8)
    rnd = plan.round
    b1 = db.session.scalar(sa.select(Building).where(Building.code == "B1"))
    a1 = db.session.scalar(sa.select(Building).where(Building.code == "A1"))
    b1.street_id = a1.street_id
    store.buildings_edited()
    db.session.commit()
    report_days.resum(None)
    db.session.commit()
    kept = _snapshot(rnd.id)
    assert report_days.rebuild(rnd.id) == 0
    db.session.commit()
    assert _snapshot(rnd.id) == kept
    assert _agrees(rnd) >= len(WINDOWS) - 2
