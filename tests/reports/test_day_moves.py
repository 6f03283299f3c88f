"""A process keeps a round's day counts per street and the report pages' sums, and moves its
copies by the rows of `coverage_day_moves` / `report_day_moves` committed since
(server/services/coverage/move_feed.py): after a visit is processed or a decision made, here
or in another process, the reports add the moves instead of reading the round again, and come
to the same figures as a whole read; a rewrite, a prune or a change not yet committed reads
the round whole."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from server.extensions import db
from server.services.coverage import day_moves, move_feed, report_days, timeline
from server.services.reports import daysums, facts
from tests.support.elsewhere import run_in_another_process
from tests.support.reports import id_number

DAYS = [date(2016, 10, 1) + timedelta(days=k) for k in range(0, 50, 3)]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def township(request):
    return request.getfixturevalue("plan" if request.param == "sqlite" else "pg_plan")


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """The rounds read whole from here on."""
    seen, whole = [], day_moves.read

    def counted(round_id: int):
        seen.append(round_id)
        return whole(round_id)

    monkeypatch.setattr(day_moves, "read", counted)
    return seen


def _same_counts(days: day_moves.StreetDays, round_id: int) -> None:
    """`days` as of every day of the round equal to the round read whole now."""
    whole = day_moves.read(round_id)[0]
    for end in DAYS:
        a, b = days.as_of(end), whole.as_of(end)
        size = max(len(a), len(b))
        a, b = (np.pad(m, ((0, size - len(m)), (0, 0))) for m in (a, b))
        np.testing.assert_array_equal(a, b, err_msg=str(end))


def _visit(plan, name: str, building: str, street: str, day: str, **kw):
    plan.ids[11] = id_number(11)
    return plan.home(name, plan.c1, building, street, [(f"p-{name}", 11, True)], day, **kw)


def test_a_visit_moves_the_kept_counts(township, reads):
    rnd = township.round
    kept = day_moves.street_days(rnd.id)
    assert day_moves.street_days(rnd.id) is kept  # nothing moved: the same copy
    before = kept.as_of(date(2016, 10, 19)).copy()
    _visit(township, "s10", "B2", "T01-02", "2016-10-19")  # processed and committed
    moved = day_moves.street_days(rnd.id)
    assert reads == [rnd.id]  # the first copy only: the visit's moves were added to it
    assert moved is not kept
    np.testing.assert_array_equal(kept.as_of(date(2016, 10, 19)), before)  # left alone
    assert moved.as_of(date(2016, 10, 19)).sum() == before.sum() + 1  # one building more
    _same_counts(moved, rnd.id)


def test_a_visit_processed_by_another_process_is_added(plan, app, reads):
    rnd = plan.round
    day_moves.street_days(rnd.id)
    _visit(plan, "s10", "B3", "T01-02", "2016-10-17", process=False)
    run_in_another_process(app, "assert pipeline.process_pending()['done'] == 1\n",
                           imports="from server.services.processing import pipeline")
    db.session.rollback()  # (a new snapshot)
    moved = day_moves.street_days(rnd.id)
    assert reads == [rnd.id]
    _same_counts(moved, rnd.id)


def test_a_rewrite_reads_the_round_whole(plan, reads):
    rnd = plan.round
    day_moves.street_days(rnd.id)
    timeline.resum(rnd.id)  # (what an areas import does when buildings change streets)
    db.session.commit()
    day_moves.street_days(rnd.id)
    assert reads == [rnd.id, rnd.id]


def test_a_prune_reads_every_round_whole(plan, reads, monkeypatch):
    rnd = plan.round
    day_moves.street_days(rnd.id)
    monkeypatch.setattr(move_feed, "KEEP", 1)  # the next commit's moves prune the rest
    _visit(plan, "s10", "B2", "T01-02", "2016-10-19")
    moved = day_moves.street_days(rnd.id)
    assert reads == [rnd.id, rnd.id]
    _same_counts(moved, rnd.id)


def test_moves_not_committed_are_read_around_the_kept_copy(plan, reads):
    rnd = plan.round
    kept = day_moves.street_days(rnd.id)
    timeline.resum(rnd.id)  # a rewrite in this transaction, not committed
    assert day_moves.street_days(rnd.id) is not kept
    assert reads == [rnd.id, rnd.id]
    db.session.rollback()
    assert day_moves.street_days(rnd.id) is kept  # nothing committed: the copy holds
    assert reads == [rnd.id, rnd.id]


def test_a_copy_that_took_max_moves_is_read_whole(plan, reads, monkeypatch):
    """A long push phase would grow the kept arrays a row per move without end."""
    rnd = plan.round
    day_moves.street_days(rnd.id)
    monkeypatch.setattr(move_feed, "MAX_MOVES", 0)
    _visit(plan, "s10", "B2", "T01-02", "2016-10-19")
    moved = day_moves.street_days(rnd.id)
    assert reads == [rnd.id, rnd.id]
    _same_counts(moved, rnd.id)


# --- the report pages' sums (report_day_counts), moved the same way ---------------------------

@pytest.fixture
def report_reads(monkeypatch) -> list[int]:
    seen, whole = [], report_days.read

    def counted(round_id: int, first, last):
        seen.append(round_id)
        return whole(round_id, first, last)

    monkeypatch.setattr(report_days, "read", counted)
    return seen


def _same_sums(rnd) -> None:
    """The kept sums equal to sums built from a whole read now, over every window."""
    f = facts.load(rnd)
    visits, subs, _top, _epoch = report_days.read(rnd.id, rnd.starts_on, rnd.ends_on)
    whole = daysums._sums(visits, subs, f.streets, f.derived["in_round"])
    for kept_pair, whole_pair in zip((f.visits, f.firsts, f.sums), whole, strict=True):
        for kept, fresh in zip(kept_pair, whole_pair, strict=True):
            for start in DAYS[::4]:
                for end in DAYS:
                    a, b = kept.columns(start, end), fresh.columns(start, end)
                    for name in a:
                        size = max(len(a[name]), len(b[name]))
                        np.testing.assert_array_equal(
                            np.pad(a[name], (0, size - len(a[name]))),
                            np.pad(b[name], (0, size - len(b[name]))), err_msg=name)


def test_a_visit_and_a_decision_move_the_kept_report_sums(township, report_reads):
    rnd = township.round
    first = facts.load(rnd)
    assert facts.load(rnd).visits[0] is first.visits[0]  # nothing moved: the same copy
    _visit(township, "s10", "B2", "T01-02", "2016-10-19")
    township.review("s10", "approved")
    township.review("s1", "has_issues")  # was approved: approved -1, reviewed unchanged
    moved = facts.load(rnd)
    assert report_reads == [rnd.id]  # only the first copy was read whole
    assert moved.visits[0] is not first.visits[0]
    _same_sums(rnd)
    assert len(report_reads) == 2  # (the whole read of the comparison)


def test_a_rewrite_of_the_report_sums_reads_them_whole(plan, report_reads):
    rnd = plan.round
    facts.load(rnd)
    report_days.resum(rnd.id)
    db.session.commit()
    facts.load(rnd)
    assert report_reads == [rnd.id, rnd.id]
