"""The rental register's pages: each reader's areas, landlords' numbers masked per role and
every unmasked view audited, rectifications refused with clear 4xx answers, Chinese by default."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import AuditEvent, RentalLandlord, RentalRectification, Role
from tests.support.app import PASSWORD
from tests.support.rentals import LI_ID, LI_PHONE

UNIT_ROW = re.compile(r'<tr data-unit="(\w+)"')


def _login(client, make_user, role: Role, areas: list[str] = ()):
    user = make_user(role, areas=list(areas))
    answer = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert answer.status_code == 302
    return user


@pytest.mark.parametrize(("role", "areas", "units"), [
    (Role.ADMIN, [], ["U1", "U2", "U3", "U4"]),
    (Role.SUPERVISOR, ["T"], ["U1", "U2", "U3", "U4"]),
    (Role.SUPERVISOR, ["T01"], ["U1", "U2", "U3"]),
    (Role.SUPERVISOR, ["T02"], ["U4"]),
    (Role.SUPERVISOR, ["T01-02"], ["U3"]),
    (Role.SUPERVISOR, [], []),
])
def test_each_reader_sees_the_units_of_their_areas(scenario, client, make_user, role, areas,
                                                   units):
    _login(client, make_user, role, areas)
    page = client.get("/rentals/").data.decode()
    assert sorted(set(UNIT_ROW.findall(page))) == units
    for uuid in ("U1", "U4"):
        assert client.get(f"/rentals/units/{uuid}").status_code == (200 if uuid in units
                                                                    else 404)


def test_pages_are_for_supervisors_and_admins(scenario, client, make_user):
    _login(client, make_user, Role.COORDINATOR, ["T01"])
    assert client.get("/rentals/").status_code == 403
    assert client.get("/rentals/violations").status_code == 403


def test_the_register_page_by_village_in_chinese(scenario, client, make_user):
    _login(client, make_user, Role.SUPERVISOR, ["T"])
    page = client.get("/rentals/").data.decode()
    assert "出租房屋台账" in page and "厨房出租居住" in page
    villages = re.findall(r'<tr data-code="(\w+)"[^>]*><td><a[^>]*>[^<]*</a></td><td>(\d+)</td>'
                          r'<td>(\d+)</td><td>(\d+)</td>', page)
    assert villages == [("T01", "3", "2", "5"), ("T02", "1", "1", "1")]
    one = client.get("/rentals/?village=T02").data.decode()
    assert sorted(set(UNIT_ROW.findall(one))) == ["U4"]
    assert client.get("/rentals/?village=T09").status_code == 404


def test_a_landlord_with_all_their_units(scenario, client, make_user):
    _login(client, make_user, Role.SUPERVISOR, ["T"])
    li = db.session.scalar(sa.select(RentalLandlord).where(RentalLandlord.id_number == LI_ID))
    page = client.get(f"/rentals/landlords/{li.ref}").data.decode()
    assert sorted(UNIT_ROW.findall(page)) == ["U1", "U2"]
    assert LI_ID in page and LI_PHONE in page  # a supervisor sees the numbers …
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "personal_data.view", AuditEvent.object_type == "rental_landlord"))
    assert event is not None and event.object_id == li.ref  # … and it is audited
    assert LI_ID not in f"/rentals/landlords/{li.ref}"  # the URL carries no ID number
    client.post("/logout")
    _login(client, make_user, Role.SUPERVISOR, ["T02"])  # Li has no unit in village two
    assert client.get(f"/rentals/landlords/{li.ref}").status_code == 404


def test_an_admin_sees_landlords_masked_and_nothing_is_audited_as_unmasked(scenario, client,
                                                                          make_user):
    _login(client, make_user, Role.ADMIN)
    li = db.session.scalar(sa.select(RentalLandlord).where(RentalLandlord.id_number == LI_ID))
    for url in ("/rentals/", f"/rentals/landlords/{li.ref}", "/rentals/units/U1",
                "/rentals/violations", "/rentals/violations/print"):
        page = client.get(url).data.decode()
        assert LI_ID not in page and LI_PHONE not in page, url
    page = client.get(f"/rentals/landlords/{li.ref}").data.decode()
    assert LI_ID[:3] + "*" * 13 + LI_ID[-2:] in page and "138******01" in page
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "personal_data.view")) == 0


def test_rectifications_refused_clearly(scenario, client, make_user):
    _login(client, make_user, Role.SUPERVISOR, ["T01"])
    due = (localtime.today() + timedelta(days=3)).isoformat()
    cases = [
        ("U1", {"rule": "kitchen", "due_on": due}, 409, "does not break the rule kitchen"),
        ("U2", {"rule": "basement", "due_on": "2016-01-01"}, 400, "has already passed"),
        ("U2", {"rule": "basement", "due_on": "next week"}, 400, "give a due date"),
        ("U2", {"rule": "basement", "due_on": due, "note": "x" * 501}, 400, "at most 500"),
        ("U4", {"rule": "partitioned", "due_on": due}, 404, "no rented unit U4"),
    ]
    for uuid, form, status, words in cases:
        answer = client.post(f"/rentals/units/{uuid}/rectifications?lang=en", data=form)
        assert (answer.status_code, words in answer.data.decode()) == (status, True), form
    assert db.session.scalar(sa.select(sa.func.count(RentalRectification.id))) == 0
    assert client.post("/rentals/units/U2/rectifications?lang=en", data={
        "rule": "basement", "due_on": due}).status_code == 303
    again = client.post("/rentals/units/U2/rectifications?lang=en",
                        data={"rule": "basement", "due_on": due})
    assert again.status_code == 409 and b"already open" in again.data
    chinese = client.post("/rentals/units/U2/rectifications?lang=zh_CN",
                          data={"rule": "basement", "due_on": due})
    assert "已有未销号的整改" in chinese.data.decode()
    assert client.post("/rentals/rectifications/999/close").status_code == 404


def test_only_supervisors_of_the_unit_act_on_it(scenario, client, make_user):
    from server.services.rentals import rectifications

    owner = make_user(Role.SUPERVISOR, areas=["T01"])
    rect = rectifications.order(owner, "U2", "basement",
                                localtime.today() + timedelta(days=3))
    _login(client, make_user, Role.SUPERVISOR, ["T02"])
    assert client.post(f"/rentals/rectifications/{rect.id}/close").status_code == 404
    client.post("/logout")
    _login(client, make_user, Role.ADMIN)
    assert client.post(f"/rentals/rectifications/{rect.id}/close").status_code == 403
    assert client.post("/rentals/units/U2/rectifications",
                       data={"rule": "safety"}).status_code == 403
    db.session.refresh(rect)
    assert rect.state == "open"


def test_an_overdue_rectification_shows_on_the_village_row(scenario, client, make_user):
    from server.services.rentals import rectifications

    owner = make_user(Role.SUPERVISOR, areas=["T01"])
    rect = rectifications.order(owner, "U3", "kitchen", localtime.today())
    rect.due_on = localtime.today() - timedelta(days=1)  # ordered earlier, now past its day
    db.session.commit()
    _login(client, make_user, Role.SUPERVISOR, ["T01"])
    page = client.get("/rentals/?lang=en").data.decode()
    row = re.search(r'<tr data-code="T01" class="warning">(.*?)</tr>', page).group(1)
    assert re.findall(r"<td>(\d+)</td>", row) == ["3", "2", "5", "1", "1"]
    unit = client.get("/rentals/units/U3?lang=en").data.decode()
    assert 'data-stage="overdue"' in unit and "Overdue" in unit
