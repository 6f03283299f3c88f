"""The hand-worked figures and an archived report on PostgreSQL (dates, JSON and bytea)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from server.extensions import db
from server.models import ArchivedReport
from server.services.reports import archive, facts, meeting, metrics, periods
from server.services.reports.metrics import Counts


def test_the_figures_and_the_archive_on_postgresql(pg_plan):
    f = facts.load(pg_plan.round)
    p2 = sum(metrics.tally(f, date(2016, 10, 11), date(2016, 10, 20)).values(), Counts())
    to_date = sum(metrics.tally(f, date(2016, 10, 1), date(2016, 10, 20)).values(), Counts())
    assert (p2.buildings_visited, p2.households_registered, p2.persons_departed, p2.held) == (
        3, 2, 1, 1)
    assert (to_date.update_rate, to_date.accuracy, to_date.correction_hours) == (
        0.875, 0.625, [30.0])
    period = periods.parse("2016-10-2")
    row, made = archive.generate(None, "xun", period, meeting.area_for(None, "T", "xun"))
    assert made and row.pdf.startswith(b"%PDF") and row.xlsx.startswith(b"PK")
    db.session.expire_all()
    kept = db.session.scalar(sa.select(ArchivedReport))
    assert kept.pdf == row.pdf and "87.5%" in kept.html
