"""Must show (issue 11, item 5): compliant and non-compliant rentals, registered by coordinators'
phones through the real pipeline → the rental register, the violation list per village for the
joint inspection, and a rectification closed after re-inspection.

The scenario (tests/rentals/conftest.py `scenario`), worked by hand with the standard of
10 m² per tenant (MIN_FLOOR_AREA_PER_TENANT_M2's default):

| unit | village | landlord | facts | violations |
| --- | --- | --- | --- | --- |
| U1 | T01 | Li (ID) | 40 m² / 2 = 20.0; bedroom; 5 safety items; filed | — |
| U2 | T01 | Li (ID) | 30 m² / 4 = 7.5; basement; 4 safety items; unfiled | area, basement, |
|    |     |         |                                                    | safety (1), unfiled |
| U3 | T01 | Wang (name, phone) | household form: 60 m² / 3; bedroom, kitchen | kitchen |
| U4 | T02 | Wang (name, phone) | owner's room inspected: 20 m² / 1; partitioned | partitioned |
| H5 | T01 | — | owner-occupied, its own kitchen | not a rented unit |
"""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import AuditEvent, RentalLandlord, RentalRectification, RentalUnit, Role
from server.services.rentals import derive
from tests.support.app import PASSWORD
from tests.support.rentals import LI_ID, LI_PHONE, WANG_PHONE, inspection

#: The hand-worked violations: unit -> rule codes, in the rules' order.
EXPECTED = {
    "U1": [],
    "U2": ["area_per_tenant", "basement", "safety", "contract_unfiled"],
    "U3": ["kitchen"],
    "U4": ["partitioned"],
}


def _register() -> dict[str, RentalUnit]:
    return {u.household_uuid: u for u in db.session.scalars(sa.select(RentalUnit))}


def _login(client, make_user, role: Role, areas: list[str]):
    user = make_user(role, areas=areas)
    answer = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert answer.status_code == 302
    return user


def test_the_register_holds_the_rented_units_as_worked_by_hand(scenario):
    units = _register()
    assert sorted(units) == ["U1", "U2", "U3", "U4"]  # H5 lives in its own house
    assert {uuid: list(u.violations) for uuid, u in units.items()} == EXPECTED
    assert (units["U1"].area_per_tenant, units["U2"].area_per_tenant,
            units["U3"].area_per_tenant, units["U4"].area_per_tenant) == (20.0, 7.5, 20.0, 20.0)
    assert units["U2"].violations["area_per_tenant"]["detail"] == {"area": 7.5, "min": 10.0}
    assert units["U2"].violations["safety"]["detail"] == {"n": 1}
    assert units["U2"].violations["basement"]["since"] == "2016-10-20"  # the inspection's day
    u1 = units["U1"]
    assert (u1.contract_filed, u1.contract_number, u1.contract_lessee,
            u1.contract_start.isoformat(), u1.contract_end.isoformat()) == (
        "yes", "BA-2016-001", "张伟", "2016-09-01", "2017-08-31")
    assert units["U3"].rooms == "bedroom kitchen" and not units["U3"].inspections


def test_one_landlord_record_links_all_their_units(scenario):
    units = _register()
    li, wang = units["U1"].landlord, units["U3"].landlord
    # U2's household form named Li without ID or phone; the inspection's ID number joined it.
    assert units["U2"].landlord is li and (li.id_number, li.phone) == (LI_ID, LI_PHONE)
    # U4's inspection named Wang by name and phone only: the same record as U3's.
    assert units["U4"].landlord is wang and (wang.id_number, wang.phone) == (None, WANG_PHONE)
    assert db.session.scalar(sa.select(sa.func.count(RentalLandlord.id))) == 2
    assert sorted(u.household_uuid for u in li.units) == ["U1", "U2"]


def test_the_violation_list_per_village_and_a_rectification_closed_after_reinspection(
        scenario, client, make_user):
    supervisor = _login(client, make_user, Role.SUPERVISOR, ["T01"])
    page = client.get("/rentals/violations?lang=en").data.decode()
    listed = re.findall(r'data-unit="(\w+)" data-rule="(\w+)"', page)
    assert listed == [("U2", "area_per_tenant"), ("U2", "basement"), ("U2", "safety"),
                      ("U2", "contract_unfiled"), ("U3", "kitchen")]  # U4 is in T02
    assert "7.5 m² per tenant, the standard is 10.0 m²" in page
    assert "Kitchen rented to live in" in page
    printed = client.get("/rentals/violations/print?village=T01&lang=zh_CN").data.decode()
    assert re.findall(r'data-unit="(\w+)" data-rule="(\w+)"', printed) == listed
    assert "厨房出租居住" in printed and "header" not in printed.split("<main>")[0].lower()

    due = (localtime.today() + timedelta(days=14)).isoformat()
    ordered = client.post("/rentals/units/U2/rectifications",
                          data={"rule": "basement", "due_on": due, "note": "限期搬出地下室"})
    assert ordered.status_code == 303
    rect = db.session.scalar(sa.select(RentalRectification))
    assert (rect.household_uuid, rect.rule, rect.state, rect.due_on.isoformat()) == (
        "U2", "basement", "open", due)
    # Not re-inspected yet: it cannot be closed.
    refused = client.post(f"/rentals/rectifications/{rect.id}/close?lang=en")
    assert refused.status_code == 409 and b"not been re-inspected" in refused.data

    send, c1 = scenario["send"], scenario["c1"]
    today = localtime.today().isoformat()
    li = ("李房东", LI_ID, LI_PHONE)
    # The re-inspection still finds the basement rented: still open, and closing is refused.
    send(c1, "rental_inspection", inspection(
        "U2", "B1", "T01-01", day=today, floor_area="30", tenants="4",
        rooms="bedroom basement", filed="no", landlord=li))
    assert b'data-stage="failed"' in client.get("/rentals/units/U2").data
    refused = client.post(f"/rentals/rectifications/{rect.id}/close?lang=en")
    assert refused.status_code == 409 and b"still finds the violation" in refused.data
    # Put right: the basement emptied, three tenants in 30 m² (10.0, at the standard).
    send(c1, "rental_inspection", inspection(
        "U2", "B1", "T01-01", day=today, floor_area="30", tenants="3", rooms="bedroom",
        filed="no", landlord=li))
    assert list(_register()["U2"].violations) == ["contract_unfiled"]
    assert b'data-stage="resolved"' in client.get("/rentals/units/U2").data
    closed = client.post(f"/rentals/rectifications/{rect.id}/close", data={"note": "已整改"})
    assert closed.status_code == 303
    db.session.refresh(rect)
    assert (rect.state, rect.closed_by_id, rect.close_note) == ("closed", supervisor.id, "已整改")
    assert b'data-stage="closed"' in client.get("/rentals/units/U2").data
    after = client.get("/rentals/violations").data.decode()
    assert re.findall(r'data-unit="(\w+)" data-rule="(\w+)"', after) == [
        ("U2", "contract_unfiled"), ("U3", "kitchen")]
    actions = db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.action.like("rental.rectification.%")).order_by(AuditEvent.id)).all()
    assert actions == ["rental.rectification.order", "rental.rectification.close"]


def test_rebuilding_gives_the_same_register_and_keeps_rectifications(scenario, make_user):
    from server.services.rentals import rectifications

    before = {u: (list(v.violations.items()), v.landlord.key) for u, v in _register().items()}
    supervisor = make_user(Role.SUPERVISOR, areas=["T01"])
    due = localtime.today() + timedelta(days=7)
    rectifications.order(supervisor, "U3", "kitchen", due)
    db.session.execute(sa.delete(RentalUnit))
    db.session.execute(sa.delete(RentalLandlord))
    db.session.commit()
    done = derive.rebuild()
    assert (done.units, done.landlords, done.violations) == (4, 2, 6)
    after = {u: (list(v.violations.items()), v.landlord.key) for u, v in _register().items()}
    assert after == before
    assert db.session.scalar(sa.select(RentalRectification.rule)) == "kitchen"


def test_a_new_standard_takes_effect_on_rebuild_from_the_command_line(scenario, app, runner):
    app.config["MIN_FLOOR_AREA_PER_TENANT_M2"] = 25.0
    result = runner.invoke(args=["rentals", "rebuild"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("rental register rebuilt: 4 units, 2 landlords, "
                                     "9 violations")
    units = _register()
    assert [u for u in sorted(units) if "area_per_tenant" in units[u].violations] == [
        "U1", "U2", "U3", "U4"]  # 20.0 m² each is now below 25
    assert units["U1"].violations["area_per_tenant"]["detail"] == {"area": 20.0, "min": 25.0}
