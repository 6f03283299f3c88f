"""Through the real stack: publish, a coordinator's phone downloads and submits over OpenRosa,
processing builds the register, the next manifest carries the new entities."""

from __future__ import annotations

import csv
import io
import uuid as uuidlib

import sqlalchemy as sa

from server.extensions import db
from server.models import Role, Submission
from server.services.processing.pipeline import process_pending
from server.services.register import entities
from tests.support.http import multipart
from tests.support.township import ZHANG, household, person
from tests.support.xforms import build_instance

OR = {"X-OpenRosa-Version": "1.0"}


def test_publish_submit_process_and_serve(client, area_tree, make_building, make_user,
                                          township_published):
    make_building("B1", area_tree["T01-01"])
    make_building("B2", area_tree["T01-02"])
    coordinator = make_user(Role.COORDINATOR, areas=["T01-01"])
    base = f"/o/{coordinator.device_token}"

    listing = client.get(f"{base}/formList", headers=OR)
    assert listing.status_code == 200
    for name in ("building_listing", "household", "departure", "rental_inspection"):
        assert f"<formID>{name}</formID>".encode() in listing.data
    form_xml = client.get(f"{base}/forms/household/form.xml", headers=OR).data.decode()
    assert form_xml == township_published["household"].xform

    media = client.get(f"{base}/forms/household/media/buildings.csv", headers=OR)
    assert [r["name"] for r in csv.DictReader(io.StringIO(media.data.decode()))] == ["B1"]

    hid, pid = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    xml = build_instance(form_xml, household(hid, "B1", "T01-01", [person(pid, ZHANG, hid)]))
    response = client.post(f"{base}/submission", headers=OR,
                           **multipart([("xml_submission_file", "submission.xml", xml)]))
    assert response.status_code == 201, response.data
    process_pending()
    db.session.expire_all()
    sub = db.session.scalar(sa.select(Submission))
    assert sub.processing_state == "done", sub.processing_error
    person_entity = entities.get_entity(pid)
    assert person_entity.versions[0].submission_id == sub.id

    manifest = client.get(f"{base}/forms/departure/manifest", headers=OR).data.decode()
    assert "persons.csv" in manifest and "households.csv" in manifest
    persons = client.get(f"{base}/forms/departure/media/persons.csv", headers=OR).data
    rows = list(csv.DictReader(io.StringIO(persons.decode())))
    assert [(r["name"], r["household"], r["status"]) for r in rows] == [(pid, hid, "resident")]
