"""The entity registry, driven by XML instances built from the township XForms."""

from __future__ import annotations

import csv
import io
import uuid as uuidlib

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, Building, Entity, EntityVersion, Role
from server.services.forms import entity_lists
from server.services.forms import lifecycle as service
from server.services.register import entities
from server.services.register import residence as register
from tests.support.township import LI, WANG, ZHANG, household, listing, person
from tests.support.xforms import build_instance


@pytest.fixture
def township(area_tree, make_building, township_published, make_user):
    b1 = make_building("B1", area_tree["T01-01"], lon=102.60, lat=24.60)
    b2 = make_building("B2", area_tree["T01-02"], lon=102.61, lat=24.61)
    coordinator = make_user(Role.COORDINATOR, areas=["T01-01"])
    return {"areas": area_tree, "b1": b1, "b2": b2, "coordinator": coordinator,
            "forms": township_published}


@pytest.fixture
def submit(township, store_submission):
    """Store and process a submission of a township form; returns the Submission."""

    def do(form_id: str, values: dict, deprecated_id: str | None = None):
        xml = build_instance(township["forms"][form_id].xform, values)
        sub = store_submission(xml, form_id, township["coordinator"], deprecated_id)
        entities.apply_submission(sub, xml)
        db.session.commit()
        do.last_xml = xml
        return sub

    return do


def _csv(name: str, user) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(entity_lists.list_csv(name, user))))


def _entity(uuid: str) -> Entity:
    found = entities.get_entity(uuid)
    assert found is not None, uuid
    return found


def test_listing_an_imported_building(township, submit):
    sub = submit("building_listing", listing("B1"))
    e = _entity("B1")
    assert (e.dataset, e.version, e.conflict) == ("buildings", 1, None)
    assert e.building_id == township["b1"].id
    assert e.area_id == township["areas"]["T01-01"].id
    assert e.properties["units"] == "4" and e.properties["outcome"] == "done"
    assert [v.submission_id for v in e.versions] == [sub.id]
    db.session.refresh(township["b1"])
    assert (township["b1"].expected_units, township["b1"].floors) == (4, 3)

    rows = _csv("buildings.csv", township["coordinator"])
    assert [r["name"] for r in rows] == ["B1"]  # B2 is on another coordinator's street
    assert rows[0]["street"] == "T01-01" and rows[0]["units"] == "4"
    assert rows[0]["__version"] == "1" and rows[0]["label"] == "B1 号"

    # A revisit where nobody is home keeps the counts recorded before.
    submit("building_listing", listing("B1", outcome="nobody_home", units="", floors=""))
    e = _entity("B1")
    assert e.version == 2 and e.properties["units"] == "4"
    assert e.properties["outcome"] == "nobody_home"


def _found_in_the_field(new_id: str, address: str, street: str = "T01-01") -> dict:
    return {
        "street": street, "building_mode": "new", "new_location": "24.605 102.605 0 4",
        "new_address": address, "new_building_id": new_id, "building_id": new_id,
        "building_label": address, "outcome": "vacant",
        "visit_location": "24.605 102.605 0 4",
        "__entity": {"create": "1", "update": "0", "id": new_id, "label": address},
    }


def test_new_building_found_in_the_field(township, submit):
    new_id = str(uuidlib.uuid4())
    submit("building_listing", _found_in_the_field(new_id, "夕阳路 8 号"))
    e = _entity(new_id)  # the entity keeps the phone's uuid …
    building = db.session.get(Building, e.building_id)
    # … the building gets a readable code: its street's code and the next field number.
    assert (building.code, building.source, building.street_id) == (
        "T01-01-F001", "field", township["areas"]["T01-01"].id)
    assert building.lat == pytest.approx(24.605) and building.lon == pytest.approx(102.605)
    names = [r["name"] for r in _csv("buildings.csv", township["coordinator"])]
    assert names == ["B1", "T01-01-F001"]

    second = str(uuidlib.uuid4())
    submit("building_listing", _found_in_the_field(second, "夕阳路 10 号"))
    assert db.session.get(Building, _entity(second).building_id).code == "T01-01-F002"
    other = str(uuidlib.uuid4())
    submit("building_listing", _found_in_the_field(other, "二组 1 号", street="T01-02"))
    assert db.session.get(Building, _entity(other).building_id).code == "T01-02-F001"


def test_a_field_building_picked_by_its_code_updates_its_own_entity(township, submit):
    """Phones pick it from buildings.csv by its readable code afterwards: the revisit and the
    households reach the same entity and building, and no second entity appears."""
    new_id = str(uuidlib.uuid4())
    submit("building_listing", _found_in_the_field(new_id, "夕阳路 8 号"))
    building_id = _entity(new_id).building_id
    submit("building_listing", listing("T01-01-F001", units="6"))
    e = _entity(new_id)
    assert (e.version, e.properties["units"], e.conflict) == (2, "6", None)
    assert entities.get_entity("T01-01-F001") is None
    assert db.session.scalar(sa.select(sa.func.count(Entity.id))) == 1
    assert db.session.get(Building, building_id).expected_units == 6
    hid = str(uuidlib.uuid4())
    submit("household", household(hid, "T01-01-F001", "T01-01", []))
    assert _entity(hid).building_id == building_id


def test_household_with_persons_and_idempotent_replay(township, submit, make_user):
    hid, p1, p2 = (str(uuidlib.uuid4()) for _ in range(3))
    sub = submit("household", household(hid, "B1", "T01-01",
                                         [person(p1, ZHANG, hid), person(p2, WANG, hid,
                                                                         name="王五")]))
    hh = _entity(hid)
    assert hh.dataset == "households" and hh.building_id == township["b1"].id
    assert hh.area_id == township["areas"]["T01-01"].id
    assert hh.properties["tenure"] == "rented" and hh.properties["person_count"] == "2"
    for pid, number in ((p1, ZHANG), (p2, WANG)):
        p = _entity(pid)
        assert p.properties["id_number"] == number and p.properties["status"] == "resident"
        assert (p.area_id, p.building_id) == (hh.area_id, hh.building_id)
        assert p.conflict is None

    persons = _csv("persons.csv", township["coordinator"])
    assert {r["name"] for r in persons} == {p1, p2}
    assert {r["household"] for r in persons} == {hid}
    assert [r["name"] for r in _csv("households.csv", township["coordinator"])] == [hid]
    outsider = make_user(Role.COORDINATOR, areas=["T01-02"])  # the other street sees none
    assert _csv("persons.csv", outsider) == []

    count = db.session.scalar(sa.select(sa.func.count(EntityVersion.id)))
    entities.apply_submission(sub, submit.last_xml)  # replay: nothing changes
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(EntityVersion.id))) == count == 3
    assert _entity(hid).version == 1


def test_stale_base_version_is_applied_and_flagged(township, submit):
    hid = str(uuidlib.uuid4())
    submit("household", household(hid, "B1", "T01-01", []))
    submit("household", household(hid, "B1", "T01-01", [], new=False, base="1",
                                  tenure="owned"))
    hh = _entity(hid)
    assert (hh.version, hh.conflict, hh.properties["tenure"]) == (2, None, "owned")
    # A phone still holding version 1 sends an update: applied, and flagged for review.
    submit("household", household(hid, "B1", "T01-01", [], new=False, base="1",
                                  tenure="lent"))
    hh = _entity(hid)
    assert hh.version == 3 and hh.properties["tenure"] == "lent"
    assert "stale base version 1 < 2" in hh.conflict
    assert [v.base_version for v in hh.versions] == [None, 1, 1]


def test_rental_inspection_updates_the_household(township, submit):
    hid = str(uuidlib.uuid4())
    submit("household", household(hid, "B1", "T01-01", []))
    values = {
        "street": "T01-01", "building": "B1", "household": hid, "household_label": "B1 号 301",
        "occupancy/floor_area": "30", "occupancy/tenants": "4", "area_per_tenant": "7.5",
        "area_ok": "no", "rented_rooms": "bedroom basement", "forbidden_use": "yes",
        "safety/building_legal": "yes", "safety/use_changed": "no",
        "safety/safety_ok": "extinguisher", "safety/safety_missing": "4",
        "contract/contract_filed": "no", "inspection_result": "issues",
        "visit_location": "24.6 102.6 0 3", "last_inspection": "2016-10-20",
        "__entity": {"update": "1", "id": hid, "baseVersion": "1"},
    }
    submit("rental_inspection", values)
    hh = _entity(hid)
    assert hh.version == 2 and hh.conflict is None
    assert hh.properties["inspection_result"] == "issues"
    assert hh.properties["tenure"] == "rented"  # what the household form recorded stays
    assert hh.label == "B1 号 301"


def test_one_current_residence_person_moves(township, submit):
    h1, h2, p_old, p_new = (str(uuidlib.uuid4()) for _ in range(4))
    submit("household", household(h1, "B1", "T01-01", [person(p_old, ZHANG, h1)]))
    # Registered again on another street by a phone that did not have them in persons.csv:
    # a create with a new uuid for the same ID number.
    submit("household", household(h2, "B2", "T01-02",
                                  [person(p_new, ZHANG, h2, arrival="2016-10-01")]))
    assert entities.get_entity(p_new) is None  # no second record for the same person
    p = _entity(p_old)
    assert p.properties["household"] == h2 and p.properties["moved_from"] == h1
    assert p.properties["moved_on"] == "2016-10-01" and p.conflict is None
    assert p.area_id == township["areas"]["T01-02"].id
    history = register.residence_history(p)
    assert [(r["household"], r["left"]) for r in history] == [(h1, "2016-10-01"), (h2, None)]
    count = db.session.scalar(sa.select(sa.func.count(Entity.id)).where(
        Entity.dataset == "persons"))
    assert count == 1


def test_contradicting_residences_are_flagged(township, submit):
    h1, h2, p1, p2 = (str(uuidlib.uuid4()) for _ in range(4))
    submit("household", household(h1, "B1", "T01-01", [person(p1, LI, h1,
                                                               arrival="2016-09-01")]))
    submit("household", household(h2, "B2", "T01-02", [person(p2, LI, h2,
                                                               arrival="2016-05-01")]))
    p = _entity(p1)
    assert p.properties["household"] == h2  # the newest submission wins …
    assert "two current residences" in p.conflict  # … and a supervisor reviews it


def test_departure_deregisters_and_return_registers_again(township, submit):
    hid, pid = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    submit("household", household(hid, "B1", "T01-01", [person(pid, WANG, hid)]))
    values = {
        "street": "T01-01", "household": hid, "person": pid, "person_label": "张三",
        "departure_date": "2016-11-02", "destination": "成都", "reason": "work",
        "source": "landlord", "status": "departed", "visit_location": "24.6 102.6 0 5",
        "__entity": {"update": "1", "id": pid, "baseVersion": "1"},
    }
    submit("departure", values)
    p = _entity(pid)
    assert p.properties["status"] == "departed"
    assert p.properties["departed_on"] == "2016-11-02"
    assert p.properties["destination"] == "成都" and p.version == 2
    rows = _csv("persons.csv", township["coordinator"])
    assert [(r["name"], r["status"]) for r in rows] == [(pid, "departed")]
    assert register.residence_history(p)[0]["left"] == "2016-11-02"

    # Back a year later, registered in the same household by ID number.
    submit("household", household(hid, "B1", "T01-01", [
        person(str(uuidlib.uuid4()), WANG, hid, arrival="2017-10-01")], new=False, base="1"))
    p = _entity(pid)
    assert p.properties["status"] == "resident" and "departed_on" not in p.properties
    assert p.versions[1].properties["status"] == "departed"  # the departure stays in history


def test_bad_id_number_is_flagged(township, submit):
    hid, pid = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    submit("household", household(hid, "B1", "T01-01", [person(pid, "110105194912310021",
                                                                hid)]))
    assert "GB 11643" in _entity(pid).conflict


def test_update_of_unknown_entity_is_created_and_flagged(township, submit):
    pid = str(uuidlib.uuid4())
    values = {
        "street": "T01-01", "household": "nope", "person": pid, "departure_date": "2016-11-02",
        "destination": "x", "reason": "work", "source": "self", "status": "departed",
        "visit_location": "24.6 102.6 0 5",
        "__entity": {"update": "1", "id": pid, "baseVersion": "3"},
    }
    submit("departure", values)
    assert "unknown persons entity" in _entity(pid).conflict


def test_manifest_media_for_a_coordinator(township, submit):
    hid, pid = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    submit("household", household(hid, "B1", "T01-01", [person(pid, ZHANG, hid)]))
    version = service.find_version("household", None)
    files = {f.name: f for f in service.media_for(version, township["coordinator"])}
    assert sorted(files) == ["buildings.csv", "households.csv", "persons.csv", "streets.csv"]
    streets = list(csv.DictReader(io.StringIO(files["streets.csv"].content.decode())))
    assert [(r["name"], r["village"]) for r in streets] == [("T01-01", "T01")]
    persons = files["persons.csv"].content.decode().splitlines()
    assert persons[0].startswith("name,label,__version,household,status,id_number")
    assert files["persons.csv"].md5 == service.md5_hex(files["persons.csv"].content)
    assert all(f.content_type == "text/csv" for f in files.values())


def test_entities_api_masks_and_audits(township, submit, client, login):
    hid, pid = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    submit("household", household(hid, "B1", "T01-01", [person(pid, ZHANG, hid)]))
    login(Role.ADMIN)
    body = client.get(f"/api/v1/entities/persons/{pid}").json
    assert body["properties"]["id_number"] != ZHANG and "*" in body["properties"]["id_number"]
    assert [v["submission_id"] for v in body["versions"]] == [1]
    client.post("/logout")
    login(Role.SUPERVISOR, areas=["T01"])
    body = client.get("/api/v1/entities/persons").json
    assert body["entities"][0]["properties"]["id_number"] == ZHANG
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "personal_data.view")) == 1
    client.post("/logout")
    login(Role.COORDINATOR, areas=["T01-02"])
    assert client.get(f"/api/v1/entities/persons/{pid}").status_code == 404
    assert client.get("/api/v1/entities/persons").json["entities"] == []
    client.post("/logout")
    login(Role.DESIGNER)
    assert client.get("/api/v1/entities/persons").status_code == 403


def test_register_pages(township, submit, client, login):
    h1, h2, pid = (str(uuidlib.uuid4()) for _ in range(3))
    submit("household", household(h1, "B1", "T01-01", [person(pid, ZHANG, h1)]))
    submit("household", household(h2, "B2", "T01-02", [
        person(str(uuidlib.uuid4()), ZHANG, h2, arrival="2016-10-01")]))
    login(Role.SUPERVISOR, areas=["T01"])
    page = client.get("/register/?list=persons").data.decode()
    assert ZHANG in page and "张三" in page
    detail = client.get(f"/register/persons/{pid}").data.decode()
    assert h1 in detail and h2 in detail and "2016-10-01" in detail
    assert client.get(f"/register/persons/{pid}?q=x").status_code == 200
    assert client.get("/register/?list=nope").status_code == 404
    assert client.get("/register/persons/no-such").status_code == 404
    views = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "personal_data.view"))
    assert views == 3
    client.post("/logout")
    login(Role.ADMIN)
    assert ZHANG not in client.get("/register/?list=persons").data.decode()
    client.post("/logout")
    login(Role.COORDINATOR, areas=["T01-01"])
    assert client.get("/register/").status_code == 403


def test_an_edit_of_a_submission_is_not_a_conflict(township, submit):
    hid = str(uuidlib.uuid4())
    first = submit("household", household(hid, "B1", "T01-01", []))
    edited = household(hid, "B1", "T01-01", [], tenure="owned")  # same create, fixed answer
    submit("household", edited, deprecated_id=first.instance_id)
    hh = _entity(hid)
    assert (hh.version, hh.properties["tenure"], hh.conflict) == (2, "owned", None)
    submit("household", household(hid, "B1", "T01-01", []))  # another phone creates it again
    assert "created again" in _entity(hid).conflict
