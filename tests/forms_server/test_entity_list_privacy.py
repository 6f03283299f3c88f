"""The phones' entity lists show ID and phone numbers only to those who may see them, and say so
in the audit log (issue 14, finding 1): a draft's test link serves them masked to whoever holds
it; a coordinator's device gets them unmasked for their streets, audited."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid as uuidlib
from xml.etree import ElementTree as ET

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, Entity, Role
from server.services import privacy
from server.services.forms import entity_lists
from server.services.forms import lifecycle as service
from tests.support.township import WANG, ZHANG, township_file

OR = {"X-OpenRosa-Version": "1.0"}
NS = {"m": "http://openrosa.org/xforms/xformsManifest"}
PHONE = "13912345678"
LANDLORD = "13887654321"


@pytest.fixture
def register(area_tree):
    """A person in each street and a rented household with its landlord's phone."""
    for street, id_number in (("T01-01", ZHANG), ("T01-02", WANG)):
        db.session.add(Entity(
            dataset="persons", uuid=str(uuidlib.uuid4()), label="张三",
            area_id=area_tree[street].id,
            properties={"household": "h1", "status": "resident", "id_number": id_number,
                        "phone": PHONE, "full_name": "张三"}))
    db.session.add(Entity(dataset="households", uuid="h1", label="B1 号 301",
                          area_id=area_tree["T01-01"].id,
                          properties={"building": "B1", "street": "T01-01",
                                      "landlord_phone": LANDLORD}))
    db.session.commit()


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def _views() -> list[AuditEvent]:
    return list(db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "personal_data.view")))


@pytest.mark.parametrize("role", [Role.DESIGNER, Role.ADMIN])
def test_a_draft_link_serves_entity_lists_masked_and_unaudited(client, make_user, register,
                                                               role):
    path = township_file("household")
    fv = service.upload(path.read_bytes(), path.name, make_user(role)).version
    db.session.commit()
    base = f"/o/draft/{fv.draft_token}/forms/household"
    persons = client.get(f"{base}/media/persons.csv", headers=OR)
    assert persons.status_code == 200
    assert ZHANG.encode() not in persons.data and PHONE.encode() not in persons.data
    rows = _rows(persons.data)
    assert sorted(r["id_number"] for r in rows) == sorted(
        [privacy.mask(ZHANG), privacy.mask(WANG)])
    assert {r["phone"] for r in rows} == {privacy.mask(PHONE)}
    households = client.get(f"{base}/media/households.csv", headers=OR)
    assert LANDLORD.encode() not in households.data
    assert _rows(households.data)[0]["landlord_phone"] == privacy.mask(LANDLORD)
    manifest = ET.fromstring(client.get(f"{base}/manifest", headers=OR).data)
    hashes = {m.findtext("m:filename", namespaces=NS): m.findtext("m:hash", namespaces=NS)
              for m in manifest.findall("m:mediaFile", NS)}
    assert hashes["persons.csv"] == "md5:" + hashlib.md5(persons.data).hexdigest()
    assert _views() == []


def test_a_coordinator_gets_their_streets_unmasked_and_each_download_is_audited(
        client, make_user, register, township_published):
    coordinator = make_user(Role.COORDINATOR, areas=["T01-01"])
    base = f"/o/{coordinator.device_token}/forms/household"
    assert client.get(f"{base}/manifest", headers=OR).status_code == 200
    assert client.get(f"{base}/media/buildings.csv", headers=OR).status_code == 200
    assert _views() == []  # a manifest shows hashes; buildings.csv holds no personal data
    persons = client.get(f"{base}/media/persons.csv", headers=OR)
    assert [(r["id_number"], r["phone"]) for r in _rows(persons.data)] == [(ZHANG, PHONE)]
    (event,) = _views()
    assert (event.user_id, event.object_type, event.object_id) == (
        coordinator.id, "entity_list", "persons")
    assert event.detail == {"count": 1, "via": "phone"}
    assert LANDLORD.encode() in client.get(f"{base}/media/households.csv", headers=OR).data
    assert [e.object_id for e in _views()] == ["persons", "households"]


@pytest.mark.parametrize(
    ("role", "via_link", "unmasked"),
    [(Role.COORDINATOR, False, True), (Role.SUPERVISOR, False, True),
     (Role.COORDINATOR, True, False), (Role.DESIGNER, False, False), (Role.ADMIN, False, False),
     (None, False, False)],
)
def test_list_csv_masks_for_whoever_may_not_see(make_user, register, role, via_link, unmasked):
    user = make_user(role, areas=["T01-01"]) if role is not None else None
    text = entity_lists.list_csv("persons.csv", user, via_link=via_link)
    assert (ZHANG in text) is unmasked
    assert (privacy.mask(ZHANG) in text) is not unmasked
    assert len(_views()) == (1 if unmasked else 0)
    entity_lists.list_csv("persons.csv", user, via_link=via_link, hashes_only=True)
    assert len(_views()) == (1 if unmasked else 0)
