"""The rental register on PostgreSQL (JSONB versions, dates, booleans in ORDER BY): the same
scenario gives the same register, violation list and rectification as on SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from server import localtime
from server.extensions import db
from server.models import RentalLandlord, Role
from server.services.rentals import derive, ledger, rectifications
from tests.rentals.test_scenario import EXPECTED
from tests.support.rentals import LI_ID, LI_PHONE, inspection

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(postgres_app) -> Flask:
    return postgres_app


def test_the_scenario_on_postgresql(scenario, make_user):
    supervisor = make_user(Role.SUPERVISOR, areas=["T01"])
    found = {(r.unit.household_uuid, r.code) for r in ledger.violations(supervisor)}
    assert found == {(u, c) for u, codes in EXPECTED.items() for c in codes if u != "U4"}
    assert db.session.scalar(sa.select(sa.func.count(RentalLandlord.id))) == 2
    rect = rectifications.order(supervisor, "U2", "basement",
                                localtime.today() + timedelta(days=5))
    scenario["send"](scenario["c1"], "rental_inspection", inspection(
        "U2", "B1", "T01-01", day=localtime.today().isoformat(), floor_area="30",
        tenants="3", filed="no", landlord=("李房东", LI_ID, LI_PHONE)))
    closed = rectifications.close(supervisor, rect.id)
    assert closed.state == "closed"
    done = derive.rebuild()
    assert (done.units, done.landlords, done.violations) == (4, 2, 3)
    unit = ledger.unit(supervisor, "U2")
    assert list(unit.violations) == ["contract_unfiled"]
    assert ledger.status(closed, unit).stage == "closed"


def test_the_meeting_reports_rental_flags_on_postgresql(scenario, make_user):
    """The flags of tests/rentals/test_meeting_reports.py (times of closing compared in SQL)."""
    from tests.rentals.test_meeting_reports import (
        test_the_reports_flag_each_area_s_rental_violations as same_as_on_sqlite,
    )

    same_as_on_sqlite(scenario, make_user)
