"""Register integrity (issue 14, finding 4): knowing an ID number does not hand a person over.

A registration that would move a person out of another coordinator's area, or change who they
are, is held for a supervisor of the person's area; until then the person stays as recorded and
the submitter sees nothing of them."""

from __future__ import annotations

import csv
import io
import uuid as uuidlib

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, Entity, RegisterConflict, Role
from server.services.forms import entity_lists
from server.services.register import entities, review
from tests.support.township import WANG, ZHANG, household, person
from tests.support.xforms import build_instance


@pytest.fixture
def town(area_tree, make_building, township_published, make_user):
    make_building("B1", area_tree["T01-01"], lon=102.60, lat=24.60)
    make_building("B2", area_tree["T01-02"], lon=102.61, lat=24.61)
    return {"forms": township_published,
            "a": make_user(Role.COORDINATOR, username="coord-a", areas=["T01-01"]),
            "b": make_user(Role.COORDINATOR, username="coord-b", areas=["T01-02"]),
            "village": make_user(Role.COORDINATOR, username="coord-v", areas=["T01"])}


@pytest.fixture
def send(town, store_submission):
    """Store and process a township-form submission sent by coordinator `who`."""

    def do(who: str, form_id: str, values: dict, deprecated_id: str | None = None):
        xml = build_instance(town["forms"][form_id].xform, values)
        sub = store_submission(xml, form_id, town[who], deprecated_id)
        entities.apply_submission(sub, xml)
        db.session.commit()
        do.last = (sub, xml)
        return sub

    return do


def _ids(n: int) -> list[str]:
    return [str(uuidlib.uuid4()) for _ in range(n)]


def _persons_csv(user) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(entity_lists.list_csv("persons.csv", user))))


def _person(uuid: str) -> Entity:
    found = entities.get_entity(uuid)
    assert found is not None
    return found


def _held() -> list[RegisterConflict]:
    return list(db.session.scalars(sa.select(RegisterConflict).order_by(RegisterConflict.id)))


@pytest.fixture
def taken_over(town, send):
    """A's resident ZHANG in h1 (B1, T01-01); B registers the same ID number in h2 (B2)."""
    h1, h2, p1, p2 = _ids(4)
    send("a", "household", household(h1, "B1", "T01-01", [person(p1, ZHANG, h1)]))
    sub = send("b", "household", household(h2, "B2", "T01-02", [
        person(p2, ZHANG, h2, arrival="2016-10-01", name="张三")]))
    return {"h1": h1, "h2": h2, "p1": p1, "p2": p2, "sub": sub}


def test_another_areas_coordinator_cannot_take_a_person_over(town, taken_over):
    p = _person(taken_over["p1"])
    assert p.properties["household"] == taken_over["h1"] and p.version == 1
    assert p.area_id == db.session.scalar(sa.select(Entity.area_id).where(
        Entity.uuid == taken_over["h1"]))
    assert entities.get_entity(taken_over["p2"]) is None  # no second record either
    assert p.conflict == entities.HELD_NOTE
    # B's phone learns nothing: no row, no ID number, no name.
    text = entity_lists.list_csv("persons.csv", town["b"])
    assert ZHANG not in text and taken_over["p1"] not in text and _persons_csv(town["b"]) == []
    (held,) = _held()
    assert (held.state, held.entity_id, held.submission_id, held.uuid) == (
        "open", p.id, taken_over["sub"].id, taken_over["p2"])
    assert held.reason == "registered from outside the person's area"
    assert held.properties["household"] == taken_over["h2"]


def test_replaying_a_held_registration_holds_it_once(send, taken_over):
    sub, xml = send.last
    entities.apply_submission(sub, xml)
    db.session.commit()
    assert len(_held()) == 1 and _person(taken_over["p1"]).version == 1


def test_an_edit_of_the_held_registration_supersedes_it(send, taken_over):
    h2, p2 = taken_over["h2"], taken_over["p2"]
    send("b", "household", household(h2, "B2", "T01-02", [person(p2, WANG, h2)]),
         deprecated_id=taken_over["sub"].instance_id)
    assert [c.state for c in _held()] == ["superseded"]
    assert _person(p2).properties["id_number"] == WANG  # the corrected person is B's own


@pytest.mark.parametrize(
    ("mover", "target", "held"),
    [
        ("a", ("B2", "T01-02"), False),  # the person's own coordinator moves them (as before)
        ("village", ("B2", "T01-02"), False),  # both streets are the mover's
        ("b", ("B2", "T01-02"), True),  # out of another coordinator's area
    ],
)
def test_who_may_move_a_person(town, send, mover, target, held):
    h1, h2, p1, p2 = _ids(4)
    send("a", "household", household(h1, "B1", "T01-01", [person(p1, ZHANG, h1)]))
    send(mover, "household", household(h2, *target, [person(p2, ZHANG, h2,
                                                                arrival="2016-10-01")]))
    assert (_person(p1).properties["household"] == h1) is held
    assert len(_held()) == int(held)


@pytest.mark.parametrize(
    ("change", "held"),
    [
        ({}, False),
        ({"name": "张 三"}, False),  # spacing is not a change of name
        ({"name": "李四"}, True),
    ],
)
def test_a_change_of_identity_waits_for_review(send, change, held):
    h1, p1 = _ids(2)
    send("a", "household", household(h1, "B1", "T01-01", [person(p1, ZHANG, h1)]))
    send("a", "household", household(h1, "B1", "T01-01", [
        person(p1, ZHANG, h1, create=False, base="1", **change)], new=False, base="1"))
    assert _person(p1).version == (1 if held else 2)
    reasons = [c.reason for c in _held()]
    assert reasons == (["would change full_name"] if held else [])


def test_the_submitter_may_correct_a_name_by_editing_their_submission(send):
    h1, p1 = _ids(2)
    first = send("a", "household", household(h1, "B1", "T01-01", [person(p1, ZHANG, h1)]))
    send("a", "household", household(h1, "B1", "T01-01", [person(p1, ZHANG, h1, name="张山")]),
         deprecated_id=first.instance_id)
    assert _person(p1).properties["full_name"] == "张山" and _held() == []


@pytest.mark.parametrize("dataset", ["persons", "households"])
def test_an_update_by_uuid_from_outside_is_held(send, dataset):
    """A phone that names the person's uuid (a stale list, or a guess, or another list's
    update aimed at a person) changes nothing either."""
    h1, p1 = _ids(2)
    send("a", "household", household(h1, "B1", "T01-01", [person(p1, ZHANG, h1)]))
    if dataset == "households":
        form, values = "household", household(p1, "B2", "T01-02", [], new=False, base="1")
    else:
        form, values = "departure", {
            "street": "T01-02", "household": h1, "person": p1, "person_label": "张三",
            "departure_date": "2016-11-02", "destination": "成都", "reason": "work",
            "source": "landlord", "status": "departed", "visit_location": "24.6 102.6 0 5",
            "__entity": {"update": "1", "id": p1, "baseVersion": "1"},
        }
    send("b", form, values)
    p = _person(p1)
    assert p.version == 1 and p.properties.get("status") == "resident"
    assert len(_held()) == 1


def _login(client, user):
    from tests.support.app import PASSWORD

    client.post("/logout")
    assert client.post("/login", data={"username": user.username,
                                       "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize(
    ("areas", "sees"),
    [(["T01-01"], True), (["T01"], True), (["T01-02"], False), ([], False)],
)
def test_only_supervisors_of_the_persons_area_see_and_decide(client, make_user, taken_over,
                                                            areas, sees):
    supervisor = make_user(Role.SUPERVISOR, areas=areas)
    _login(client, supervisor)
    page = client.get("/register/conflicts").get_data(as_text=True)
    (held,) = _held()
    assert (ZHANG in page) is sees and (f'id="conflict-{held.id}"' in page) is sees
    assert ("登记来自该人员所在片区以外" in page) is sees
    answer = client.post(f"/register/conflicts/{held.id}", data={"decision": "reject"})
    assert answer.status_code == (303 if sees else 404)
    db.session.expire_all()
    assert held.state == ("rejected" if sees else "open")


def test_accepting_moves_the_person_and_is_audited(client, make_user, town, taken_over):
    _login(client, make_user(Role.SUPERVISOR, areas=["T01"]))
    (held,) = _held()
    assert client.post(f"/register/conflicts/{held.id}",
                       data={"decision": "maybe"}).status_code == 400
    answer = client.post(f"/register/conflicts/{held.id}?lang=en", data={"decision": "accept"})
    assert answer.status_code == 303
    db.session.expire_all()
    p = _person(taken_over["p1"])
    assert p.properties["household"] == taken_over["h2"] and p.version == 2
    assert p.properties["moved_from"] == taken_over["h1"] and p.conflict is None
    assert p.versions[-1].submission_id == taken_over["sub"].id
    assert [r["name"] for r in _persons_csv(town["b"])] == [taken_over["p1"]]
    assert _persons_csv(town["a"]) == []
    events = db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.action.like("register.conflict.%"))).all()
    assert events == ["register.conflict.accepted"]
    again = client.post(f"/register/conflicts/{held.id}", data={"decision": "reject"})
    assert again.status_code == 409


def test_rejecting_keeps_the_person_and_is_audited(make_user, taken_over):
    supervisor = make_user(Role.SUPERVISOR, areas=["T01"])
    (held,) = _held()
    review.decide(supervisor, held.id, accept=False)
    p = _person(taken_over["p1"])
    assert (held.state, p.version, p.conflict) == ("rejected", 1, None)
    assert p.properties["household"] == taken_over["h1"]
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "register.conflict.rejected"))
    assert event.user_id == supervisor.id and event.object_id == str(held.id)
    with pytest.raises(review.ReviewError, match="already rejected"):
        review.decide(supervisor, held.id, accept=True)


def test_viewing_held_registrations_is_audited_and_masked_for_admins(client, login, taken_over):
    login(Role.ADMIN)
    page = client.get("/register/conflicts").get_data(as_text=True)
    assert ZHANG not in page and ZHANG[:3] in page
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "personal_data.view")) == 0
    client.post("/logout")
    login(Role.SUPERVISOR, areas=["T01"])
    assert ZHANG in client.get("/register/conflicts").get_data(as_text=True)
    assert db.session.scalar(sa.select(AuditEvent.object_type).where(
        AuditEvent.action == "personal_data.view")) == "register_conflicts"


def test_coordinators_cannot_open_the_decision_page(client, login, taken_over):
    login(Role.COORDINATOR, areas=["T01-01"])
    assert client.get("/register/conflicts").status_code == 403
    (held,) = _held()
    assert client.post(f"/register/conflicts/{held.id}",
                       data={"decision": "accept"}).status_code == 403
