"""The demo's current round has households and residents registered through the household form,
so the plan's numbers and the meeting reports show a register, not only buildings."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import Entity, RentalRectification, RentalUnit, Submission
from server.services import demo
from server.services.coverage import rounds
from server.services.reports import facts, meeting, metrics, periods
from server.services.reports.metrics import Counts

TODAY = date(2031, 5, 20)


def test_the_demo_registers_households_the_reports_count(app, monkeypatch):
    monkeypatch.setattr(localtime, "today", lambda: TODAY)
    demo.load_demo(buildings=120, today=TODAY)
    households = db.session.scalar(sa.select(sa.func.count(Entity.id)).where(
        Entity.dataset == "households"))
    persons = db.session.scalar(sa.select(sa.func.count(Entity.id)).where(
        Entity.dataset == "persons", Entity.area_id.is_not(None)))
    assert households >= 3 and persons == 2 * households
    approved = db.session.scalar(sa.select(sa.func.count(Submission.id)).where(
        Submission.review_state == "approved"))
    current = rounds.current_round(None)
    so_far = sum(metrics.tally(facts.load(current), current.starts_on, TODAY).values(),
                 Counts())
    assert so_far.persons_registered == persons and so_far.on_register == persons
    assert so_far.update_rate == 1.0  # every resident was registered in this round
    assert so_far.approved == approved > 0 and so_far.accuracy == 1.0
    report = meeting.build(None, "xun", periods.containing(TODAY, "xun"),
                           meeting.area_for(None, None, "xun"))
    assert report.to_date.on_register == persons and report.map_png.startswith(b"\x89PNG")


def test_the_demo_inspects_rented_units_and_closes_a_rectification(app, monkeypatch):
    """server/services/demo_rentals.py: the small demo's three rented units inspected, two
    breaking rules (one renting a basement, one crowded with an unfiled contract), the basement
    put right and its rectification closed."""
    monkeypatch.setattr(localtime, "today", lambda: TODAY)
    demo.load_demo(buildings=120, today=TODAY)
    inspected = db.session.scalars(sa.select(RentalUnit).where(
        RentalUnit.last_inspection.is_not(None)).order_by(RentalUnit.id)).all()
    assert len(inspected) == 3
    assert [sorted(u.violations) for u in inspected] == [
        [], [], ["area_per_tenant", "contract_unfiled"]]
    assert [len(u.inspections) for u in inspected] == [1, 2, 1]  # the basement re-inspected
    assert len({u.landlord_id for u in inspected}) == 2
    rect = db.session.scalar(sa.select(RentalRectification))
    assert (rect.rule, rect.state, rect.household_uuid) == (
        "basement", "closed", inspected[1].household_uuid)
    report = meeting.build(None, "xun", periods.containing(TODAY, "xun"),
                           meeting.area_for(None, None, "xun"))
    assert [f.code for f in report.rentals.open] == ["area_per_tenant", "contract_unfiled"]
    # (closed now, in the clock's own period, not in TODAY's: the closing is a real action)
