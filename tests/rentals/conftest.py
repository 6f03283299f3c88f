"""Fixtures for the rental register: the hand-built scenario (tests/rentals/test_scenario.py
spells out what it must give) registered through OpenRosa and the real pipeline."""

from __future__ import annotations

import pytest

from server.extensions import db
from server.models import Role
from server.services.forms import lifecycle
from server.services.processing import pipeline
from tests.support.rentals import LI_ID, LI_PHONE, WANG_PHONE, household, inspection, post

FIRST_DAY = "2016-10-20"


@pytest.fixture
def rental_township(app, client, two_villages, make_building, make_user) -> dict:
    """Village T01 (streets T01-01, T01-02) and village T02 (street T02-01); buildings B1
    (T01-01), B2 (T01-02), B3 (T02-01); coordinators c1 (T01), c2 (T02); forms published."""
    versions = {v.form.xml_form_id: v.xform for v in lifecycle.publish_township()}
    db.session.commit()
    make_building("B1", two_villages["T01-01"], lon=102.60, lat=24.60)
    make_building("B2", two_villages["T01-02"], lon=102.61, lat=24.61)
    make_building("B3", two_villages["T02-01"],
                  lon=102.62, lat=24.62)
    c1 = make_user(Role.COORDINATOR, username="c1", areas=["T01"])
    c2 = make_user(Role.COORDINATOR, username="c2", areas=["T02"])

    def send(coordinator, form: str, values: dict) -> None:
        post(client, coordinator, versions[form], values)
        counts = pipeline.process_pending()
        assert counts["error"] == 0, counts

    return {"c1": c1, "c2": c2, "send": send, "xforms": versions}


@pytest.fixture
def scenario(rental_township) -> dict:
    """Four rented units and one owner-occupied household (see test_scenario.py):

    U1 (B1, T01-01) rented from Li (ID number), inspected: 40 m² for 2, bedroom, contract
       filed — compliant.
    U2 (B1, T01-01) Li again (the same ID number), inspected: 30 m² for 4 (7.5 m²), bedroom
       and basement, one safety item missing, contract not filed — four violations.
    U3 (B2, T01-02) rented from Wang (name and phone), only the household form: bedroom and
       kitchen — the kitchen is flagged.
    U4 (B3, T02-01) owner-occupied, a room inspected as rented from Wang (same name and
       phone): partitioned — one violation.
    H5 (B1, T01-01) owner-occupied with a kitchen among its rooms: not a rented unit.
    """
    send, c1, c2 = rental_township["send"], rental_township["c1"], rental_township["c2"]
    li = ("李房东", LI_ID, LI_PHONE)
    send(c1, "household", household("U1", "B1", "T01-01", landlord=("李房东", LI_PHONE)))
    send(c1, "rental_inspection", inspection(
        "U1", "B1", "T01-01", day=FIRST_DAY, landlord=li, number="BA-2016-001",
        lessee="张伟", start="2016-09-01", end="2017-08-31"))
    send(c1, "household", household("U2", "B1", "T01-01", people=4, landlord=("李房东", "")))
    send(c1, "rental_inspection", inspection(
        "U2", "B1", "T01-01", day=FIRST_DAY, floor_area="30", tenants="4",
        rooms="bedroom basement", safety="extinguisher smoke_alarm escape_route wiring",
        filed="no", landlord=li))
    send(c1, "household", household("U3", "B2", "T01-02", rooms="bedroom kitchen",
                                    people=3, floor_area="60", landlord=("王房东", WANG_PHONE)))
    send(c2, "household", household("U4", "B3", "T02-01", tenure="owned", people=1,
                                    floor_area="90"))
    send(c2, "rental_inspection", inspection(
        "U4", "B3", "T02-01", day=FIRST_DAY, floor_area="20", tenants="1",
        partitioned="yes", number="BA-2016-002", landlord=("王房东", "", WANG_PHONE)))
    send(c1, "household", household("H5", "B1", "T01-01", tenure="owned",
                                    rooms="bedroom kitchen"))
    return rental_township
