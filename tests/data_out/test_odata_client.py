"""The OData feed read by a real OData v4 client library (python-odata; SAP's pyodata speaks
only OData v2) over real HTTP, with HTTP Basic and a personal API token as Excel and Power BI
send them: metadata parsed, a set paged with $top/$skip, filtered, masked per role."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from odata import ODataService

from server.extensions import db
from server.models import AuditEvent, Role
from tests.support.data_out import PEOPLE

ID_NUMBERS = {pid: id_number for pid, _name, id_number, _phone in PEOPLE}


def _service(live: str, credentials: tuple[str, str]) -> ODataService:
    return ODataService(f"{live}/odata/", auth=credentials, reflect_entities=True,
                        quiet_progress=True)


def _id(entity) -> str:
    return getattr(entity, "__id")


def test_the_client_parses_the_metadata(township, token_of, live):
    service = _service(live, token_of(Role.ADMIN))
    assert {"Persons", "Households", "Buildings", "RentedUnits", "Submissions_household",
            "Submissions_building_listing"} <= set(service.entities)
    person = service.entities["Persons"]
    assert {"__id", "full_name", "id_number", "phone", "household", "status"} <= set(
        person.__odata_schema__["properties"][i]["name"]
        for i in range(len(person.__odata_schema__["properties"])))
    assert person.__odata_schema__["type"] == "Doorstep.Person"


def test_a_set_paged_with_top_and_skip(township, token_of, live):
    service = _service(live, token_of(Role.ADMIN))
    person = service.entities["Persons"]
    first = [_id(p) for p in service.query(person).limit(2)]
    second = [_id(p) for p in service.query(person).offset(2).limit(2)]
    beyond = [_id(p) for p in service.query(person).offset(4).limit(2)]
    assert first == ["P1", "P2"] and second == ["P3", "P4"] and beyond == []
    assert service.query(person).count() == 4


def test_the_client_follows_next_links(app, township, token_of, live):
    app.config["ODATA_PAGE_SIZE"] = 3  # four persons: a page of 3, then a nextLink to 1
    service = _service(live, token_of(Role.ADMIN))
    assert [_id(p) for p in service.query(service.entities["Persons"])] == [
        "P1", "P2", "P3", "P4"]
    reads = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "odata.read", AuditEvent.object_id == "Persons")).all()
    assert [(e.detail["skip"], e.detail["count"]) for e in reads] == [(0, 3), (3, 1)]


def test_a_filter_applied(township, token_of, live):
    service = _service(live, token_of(Role.SUPERVISOR, ["T"]))
    person = service.entities["Persons"]
    assert [p.full_name for p in service.query(person).filter(person.household == "H1")] == [
        "张伟", "李娜"]
    assert [_id(p) for p in service.query(person).filter(person.full_name == "王芳")] == ["P3"]
    both = service.query(person).filter(person.household == "H1").filter(
        person.full_name != "张伟")
    assert [_id(p) for p in both] == ["P2"]
    submissions = service.entities["Submissions_household"]
    rented = service.query(submissions).filter(submissions.dwelling_tenure == "rented")
    assert sorted(s.household_id for s in rented) == ["H1", "H3"]


@pytest.mark.parametrize(("role", "areas", "masked"), [
    (Role.ADMIN, [], True),  # admins run the system: ID and phone numbers masked
    (Role.SUPERVISOR, ["T"], False),
    (Role.COORDINATOR, ["T01-01"], False),
])
def test_id_numbers_masked_for_a_role_that_may_not_see_them(township, token_of, live, role,
                                                            areas, masked):
    service = _service(live, token_of(role, areas))
    person = service.entities["Persons"]
    got = {_id(p): (p.id_number, p.phone) for p in service.query(person)}
    assert got  # the role sees people
    for pid, (id_number, phone) in got.items():
        full = ID_NUMBERS[pid]
        if masked:
            assert id_number == full[:3] + "*" * 13 + full[-2:] and full not in id_number
            assert phone.startswith("139") and "*" in phone
        else:
            assert id_number == full and "*" not in phone
    households = service.entities["Households"]
    phones = {h.landlord_phone for h in service.query(households)}
    assert phones == ({"138******00"} if masked else {"13800000000"})
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "odata.read", AuditEvent.object_id == "Persons")).all()
    assert events and all(e.detail["unmasked"] is (not masked) and e.detail["via"] == "token"
                          for e in events)
