"""A report's suspect visits are read through the round's flagged visits (ix_visits_flagged, a
few in a hundred of a round's visits), on both databases, and a visit with no day of its own
is still listed on the day it was made."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Visit
from server.services.reports import facts, meeting

PERIOD = (date(2016, 10, 1), date(2016, 10, 10))  # the scenario's first ten days


def _suspects(plan) -> tuple[list[tuple[str, str, str]], list[tuple[str, object]]]:
    """The township's suspect visits of the period, and the statements that read them."""
    sent: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if " FROM visits " in " ".join(statement.split()):
            sent.append((statement, parameters))

    f = facts.load(plan.round)
    township = db.session.scalar(sa.select(Area).where(Area.code == "T"))
    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        found = meeting._suspects(f, township, *PERIOD)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    return found, sent


def _plans(sent: list[tuple[str, object]]) -> list[str]:
    conn = db.session.connection()
    out = []
    for statement, parameters in sent:
        cursor = conn.connection.driver_connection.cursor()
        if conn.dialect.name == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: could it, not would
            cursor.execute("EXPLAIN " + statement, parameters)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        out.append(" ".join(str(row[-1]) for row in cursor.fetchall()))
        cursor.close()
    return out


def _read_through_the_flagged_index(plan) -> None:
    found, sent = _suspects(plan)
    assert found == [("C2", "2016-10-06", "协管员乙")]  # s4, 150 m away
    assert len(sent) == 2  # the period's days, then the visits with no day
    for detail in _plans(sent):
        assert "ix_visits_flagged" in detail, detail


def test_suspect_visits_are_read_through_the_flagged_visits(plan):
    _read_through_the_flagged_index(plan)


def test_suspect_visits_are_read_through_the_flagged_visits_on_postgresql(pg_plan):
    _read_through_the_flagged_index(pg_plan)


def test_a_suspect_visit_with_no_day_is_listed_on_the_day_it_was_made(plan):
    visit = db.session.scalar(sa.select(Visit).where(Visit.submission_id == plan.subs["s4"].id))
    visit.visited_on = None
    visit.visited_at = datetime(2016, 10, 5, 23, 30)  # UTC, as stored: 10-06 in Beijing
    db.session.commit()
    assert _suspects(plan)[0] == [("C2", "2016-10-06", "协管员乙")]
    visit.visited_at = datetime(2016, 10, 10, 16, 30)  # 10-11 in Beijing: after the period
    db.session.commit()
    assert _suspects(plan)[0] == []
