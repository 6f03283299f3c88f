"""The report pages tally many windows (each period of the trend, to date, the period before)
from one round's facts: the coverage as of each window's end is read from the per-street day
counts (server/services/coverage/timeline.py), so no building's visits are replayed per page
(at 200,000 buildings a page did not finish in 20 minutes when they were replayed per window)."""

from __future__ import annotations

from datetime import date, timedelta

from gis import coverage
from server.services.reports import facts, metrics


def test_no_visit_is_replayed_however_many_windows(plan, monkeypatch):
    f = facts.load(plan.round)
    calls = []
    real = coverage.visit_bit
    monkeypatch.setattr(coverage, "visit_bit", lambda *a: calls.append(a) or real(*a))
    first = date(2016, 10, 1)
    visited = [sum(c.visited for c in metrics.tally(f, first, first + timedelta(days=3 * k))
                   .values()) for k in range(10)]
    assert calls == [] and visited[-1] > visited[0]
