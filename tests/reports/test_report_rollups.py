"""The reports' coverage as of a day comes from per-street day counts kept in step with the
visits (server/services/coverage/timeline.py): the same figures as replaying every building's
counted visits up to that day, and the same roll-up whether it was kept up visit by visit or
rebuilt by the full recompute."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa

from gis import coverage as engine
from server.extensions import db
from server.models import Building, CoverageCount, CoverageDayCount, CoverageStep, Visit
from server.services.coverage import recompute, refresh
from server.services.reports import facts, metrics
from tests.support import report_recount as recount


def _replayed(f: recount.Facts, day: date) -> dict:
    """Per street (visited, complete) as of `day`: each building's counted visits replayed
    (the visits one by one: tests/support/report_recount.py)."""
    visits = defaultdict(list)
    for v in f.visits:
        if v.counted and v.day <= day:
            visits[v.building_id].append((v.outcome, v.suspect, v.units))
    out: dict = defaultdict(lambda: [0, 0])
    for b, (street, expected) in f.buildings.items():
        state = engine.state_of_building(visits[b], expected)[0] if visits[b] else "unvisited"
        out[street][0] += state != "unvisited"
        out[street][1] += state == "complete"
    return {k: tuple(v) for k, v in out.items()}


def _every_day_agrees(rnd) -> int:
    """Compares the tally with the replay on each day of the round; returns the days with a
    building visited (so a test knows it compared something)."""
    f, one_by_one = facts.load(rnd), recount.load(rnd)
    busy, day = 0, rnd.starts_on - timedelta(days=1)
    while day <= rnd.ends_on:
        per = metrics.tally(f, rnd.starts_on, day)
        tallied = {k: (c.visited, c.complete) for k, c in per.items() if c.buildings}
        want = _replayed(one_by_one, day)
        assert tallied == want, day
        busy += any(v for v, _ in want.values())
        day += timedelta(days=1)
    return busy


def _snapshot(round_id: int) -> tuple[list, list, dict]:
    s, d = CoverageStep.__table__.c, CoverageDayCount.__table__.c
    steps = db.session.execute(sa.select(s.building_id, s.day, s.state, s.was).where(
        s.round_id == round_id).order_by(s.building_id, s.day)).all()
    days = db.session.execute(sa.select(d.street_id, d.day, d.state, d.buildings).where(
        d.round_id == round_id, d.buildings != 0).order_by(d.street_id, d.day, d.state)).all()
    final: dict = defaultdict(int)  # the day counts summed over every day
    for street, _day, state, n in days:
        final[(street, state)] += n
    return [tuple(r) for r in steps], [tuple(r) for r in days], {
        k: n for k, n in final.items() if n}


def _counts(round_id: int) -> dict:
    c = CoverageCount.__table__.c
    return {(street, state): n for street, state, n in db.session.execute(
        sa.select(c.street_id, c.state, c.buildings).where(c.round_id == round_id,
                                                            c.buildings != 0))}


def _reopen_a2(plan) -> None:
    """A2's visit of 10-03 becomes "nobody home" (it must be revisited) and a second visit on
    10-20 completes it: a building with two steps, refreshed one visit at a time."""
    a2 = db.session.scalar(sa.select(Building.id).where(Building.code == "A2"))
    visit = db.session.scalar(sa.select(Visit).where(Visit.submission_id == plan.subs["s2"].id))
    visit.outcome = "nobody_home"
    db.session.flush()
    refresh.refresh_building(a2, plan.round.id)
    db.session.commit()
    plan.uuids["H:s2b"] = plan.uuid("H:s2")  # the same household, visited again
    plan.home("s2b", plan.c1, "A2", "T01-01", [("p3", 3, False)], "2016-10-20", new=False)


def _incremental_is_the_recompute(plan) -> None:
    rnd = plan.round
    _reopen_a2(plan)
    plan.review("s1", "rejected")  # A1 loses its only visit
    kept = _snapshot(rnd.id)
    assert kept[0] and kept[1]
    assert ("revisit" in {r[2] for r in kept[0]}) and any(r[3] for r in kept[0])
    assert kept[2] == _counts(rnd.id)  # every day summed: the states now
    assert _every_day_agrees(rnd) >= 5
    recompute.recompute(rnd.id)
    assert _snapshot(rnd.id) == kept
    assert _every_day_agrees(rnd) >= 5


def test_the_states_as_of_each_day_are_a_replay_of_the_visits(plan):
    assert _every_day_agrees(plan.round) >= 5


def test_the_states_as_of_each_day_on_postgresql(pg_plan):
    assert _every_day_agrees(pg_plan.round) >= 5


def test_kept_visit_by_visit_equals_the_full_recompute(plan):
    _incremental_is_the_recompute(plan)


def test_kept_visit_by_visit_equals_the_full_recompute_on_postgresql(pg_plan):
    _incremental_is_the_recompute(pg_plan)


def test_a_street_moved_carries_its_day_counts(plan):
    """Buildings edited (a street changed): the import re-sums the day counts by the new
    streets (server/services/imports.py, after `buildings_edited`)."""
    from server.services.coverage import store, timeline

    rnd = plan.round
    b1 = db.session.get(Building, db.session.scalar(
        sa.select(Building.id).where(Building.code == "B1")))
    a1 = db.session.scalar(sa.select(Building).where(Building.code == "A1"))
    b1.street_id = a1.street_id
    store.buildings_edited()
    assert _snapshot(rnd.id)[2] != _counts(rnd.id)  # B1's count is still in T01-02's
    timeline.resum(None)
    db.session.commit()
    assert _snapshot(rnd.id)[2] == _counts(rnd.id)
    assert _every_day_agrees(rnd) >= 5


def test_the_round_at_once_equals_building_by_building():
    """The recompute's vectorised replay (`_steps_arrays`) and the refresh's one building at a
    time (`steps_of`) give the same steps on random visits: several a day, suspect ones,
    units short of or over the expected."""
    import numpy as np

    from gis.coverage import OUTCOMES, STATES
    from server.services.coverage import timeline

    rng = np.random.default_rng(7)
    n = 3000
    b = rng.integers(1, 400, n)
    day = rng.integers(date(2016, 10, 1).toordinal(), date(2016, 10, 20).toordinal(), n)
    outcome = rng.integers(0, len(OUTCOMES), n)
    units = rng.integers(0, 3, n)
    suspect = (rng.random(n) < 0.15).astype(np.int64)
    expected = (b % 3).astype(np.int64)
    rows = [(int(b[i]), int(expected[i]), date.fromordinal(int(day[i])), None, OUTCOMES[outcome[i]],
             int(units[i]), bool(suspect[i])) for i in range(n)]
    want = sorted((bb, d.toordinal(), STATES.index(st), STATES.index(steps[k - 1][1]) if k else -1)
                  for bb, steps in timeline.steps_of(rows).items()
                  for k, (d, st) in enumerate(steps))
    got = timeline._steps_arrays((b, day, outcome, units, suspect, expected))
    assert sorted(zip(*(a.tolist() for a in got), strict=True)) == want
    assert len(want) > 400  # buildings that changed state more than once


def _refresh_statements(round_id: int, building_id: int) -> list[str]:
    sent: list[str] = []

    def keep(conn, cursor, statement, *args):
        sent.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        refresh.refresh_building(building_id, round_id)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    db.session.commit()
    return sent


def _reads_its_visits_once(plan) -> None:
    a2 = db.session.scalar(sa.select(Building.id).where(Building.code == "A2"))
    steps = CoverageStep.__table__.c
    kept = _snapshot(plan.round.id)
    same = _refresh_statements(plan.round.id, a2)  # nothing changed: reads and the upsert
    locks = db.engine.dialect.name == "postgresql"  # the building's row lock first
    assert [s.split()[0] for s in same] == ["SELECT"] * (4 + locks) + ["INSERT"]
    assert sum(" FROM visits " in s for s in same) == 1
    assert sum(" FROM coverage_steps " in s for s in same) == 1
    assert sum(" FROM report_marks " in s for s in same) == 1
    assert _snapshot(plan.round.id) == kept
    visit = db.session.scalar(sa.select(Visit).where(Visit.submission_id == plan.subs["s2"].id))
    visit.outcome = "nobody_home"
    db.session.flush()
    moved = _refresh_statements(plan.round.id, a2)  # its steps and day counts rewritten
    assert sum(" FROM visits " in s for s in moved) == 1
    assert any(s.startswith("DELETE FROM coverage_steps") for s in moved)
    assert any(s.startswith("INSERT INTO coverage_day_counts") for s in moved)
    assert db.session.scalar(sa.select(sa.func.count()).where(
        steps.round_id == plan.round.id, steps.building_id == a2, steps.state == "revisit")) == 1
    assert _every_day_agrees(plan.round) >= 5


def test_a_buildings_refresh_reads_its_visits_once(plan):
    """One building's refresh derives its steps by day and its report marks from the visits it
    read for its row (timeline.refresh_one, report_days.refresh_one): one read of the visits,
    one of the steps, one of the marks, none of its street again, then only the writes of what
    changed."""
    _reads_its_visits_once(plan)


def test_a_buildings_refresh_reads_its_visits_once_on_postgresql(pg_plan):
    _reads_its_visits_once(pg_plan)


def test_a_buildings_steps_are_read_by_their_key(plan):
    """The steps of one building are found by the primary key (round, building, day), not by
    scanning the round's steps."""
    from server.services.coverage import timeline

    sql = str(timeline._ONE_STEPS.compile(dialect=db.engine.dialect))
    conn = db.session.connection().connection.driver_connection
    detail = " ".join(row[-1] for row in conn.execute(
        "EXPLAIN QUERY PLAN " + sql, (plan.round.id, 1)).fetchall())  # (r, b): qmark style
    assert "SEARCH coverage_steps USING" in detail, detail
    assert "(round_id=? AND building_id=?)" in detail, detail
