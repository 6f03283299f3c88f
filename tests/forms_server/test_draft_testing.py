"""Draft testing: a draft's test link (/o/draft/<token>/) serves that draft alone to ODK Collect;
its submissions are stored as test submissions, never processed, hidden, deleted on publish."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import uuid as uuidlib
import zlib
from xml.etree import ElementTree as ET

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import (
    Entity,
    Role,
    Submission,
    SubmissionAttachment,
    SubmissionBlob,
    Visit,
)
from server.openrosa.draft import draft_link
from server.services import storage
from server.services.forms import draft_testing
from server.services.forms import lifecycle as service
from server.services.processing.pipeline import process_one, process_pending, reprocess
from tests.support.app import make_app
from tests.support.township import ZHANG, household, person, township_file
from tests.support.xforms import build_instance

OR = {"X-OpenRosa-Version": "1.0"}
NS = {"x": "http://openrosa.org/xforms/xformsList", "m": "http://openrosa.org/xforms/xformsManifest"}


@pytest.fixture
def client(client):
    """These tests read the reasons in English; answers are Chinese unless asked (the lang
    cookie, as ?lang=en leaves it); tests/test_errors.py checks the Chinese ones."""
    client.set_cookie("lang", "en")
    return client


PHOTO_MD = """
| survey |
| | type | name | label |
| | text | head | Head of household |
| | geopoint | location | Location |
| | image | photo | Door photo |
| settings |
| | form_id | version | form_title |
| | doorcheck | {version} | Door check |
"""


def _md(version: str) -> bytes:
    return PHOTO_MD.format(version=version).encode()


def _instance(version: str, instance_id: str | None = None, photo: str = "door.jpg",
              deprecated_id: str | None = None, form_id: str = "doorcheck") -> bytes:
    dep = f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else ""
    return (
        f'<?xml version="1.0"?><data id="{form_id}" version="{version}"><head>Li</head>'
        f"<location>24.6 102.6 1900 5</location><photo>{photo}</photo>"
        f"<meta><instanceID>{instance_id or f'uuid:{uuidlib.uuid4()}'}</instanceID>{dep}</meta>"
        "</data>"
    ).encode()


def _post(client, base: str, xml: bytes, files: dict[str, bytes] | None = None):
    data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    for name, content in (files or {}).items():
        data[name] = (io.BytesIO(content), name, "image/jpeg")
    return client.post(f"{base}submission", data=data, headers=OR,
                       content_type="multipart/form-data")


@pytest.fixture
def designer(make_user):
    return make_user(Role.DESIGNER)


@pytest.fixture
def doorcheck(app, designer):
    """Version 1 published (what coordinators collect with), version 2 a draft."""
    v1 = service.upload(_md("1"), "doorcheck.md", designer).version
    service.publish(v1, designer)
    v2 = service.upload(_md("2"), "doorcheck.md", designer).version
    db.session.commit()
    return v1, v2


def _base(fv) -> str:
    return f"/o/draft/{fv.draft_token}/"


def test_every_uploaded_draft_gets_its_own_secret_token(doorcheck):
    v1, v2 = doorcheck
    assert v2.state == "draft" and len(v2.draft_token) >= 32
    assert v1.draft_token and v1.draft_token != v2.draft_token
    assert draft_testing.find_draft(v2.draft_token) is v2


def test_form_page_shows_the_qr_code_and_url_for_the_draft(app, client, login, doorcheck):
    login(Role.DESIGNER)
    _v1, v2 = doorcheck
    page = client.get("/forms/doorcheck")
    assert page.status_code == 200
    html = page.data.decode()
    assert 'id="draft-testing"' in html and "<svg" in html
    url = re.search(r'<code id="draft-url">([^<]+)</code>', html).group(1)
    assert url == f"http://localhost/o/draft/{v2.draft_token}/"

    with app.test_request_context("/"):
        link = draft_link(v2)
    settings = json.loads(zlib.decompress(base64.b64decode(link["payload"])))
    assert settings["general"]["server_url"] == url.rstrip("/")
    assert settings["general"]["form_update_mode"] == "match_exactly"
    assert settings["project"]["name"] == "草稿测试 Door check"


def test_no_draft_no_qr_code(client, login, designer):
    login(Role.DESIGNER)
    v1 = service.upload(_md("1"), "doorcheck.md", designer).version
    service.publish(v1, designer)
    db.session.commit()
    html = client.get("/forms/doorcheck").data.decode()
    assert 'id="draft-testing"' not in html and "/o/draft/" not in html


def test_form_list_through_the_token_lists_exactly_that_draft(client, doorcheck):
    _v1, v2 = doorcheck
    base = _base(v2)
    response = client.get(f"{base}formList", headers=OR)
    assert response.status_code == 200
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    forms = ET.fromstring(response.data).findall("x:xform", NS)
    assert [(f.findtext("x:formID", namespaces=NS), f.findtext("x:version", namespaces=NS))
            for f in forms] == [("doorcheck", "2")]
    assert forms[0].findtext("x:hash", namespaces=NS) == "md5:" + v2.md5.removeprefix("md5:")
    download = forms[0].findtext("x:downloadUrl", namespaces=NS)
    assert download == f"http://localhost{base}forms/doorcheck/form.xml"

    xform = client.get(download, headers=OR)
    assert xform.status_code == 200 and xform.data.decode() == v2.xform
    assert xform.headers["X-OpenRosa-Version"] == "1.0"
    assert client.get(f"{base}formList?formID=other", headers=OR).data.count(b"<xform>") == 0


def test_coordinators_form_list_never_shows_the_draft(client, make_user, doorcheck):
    v1, _v2 = doorcheck
    coordinator = make_user(Role.COORDINATOR)
    listing = client.get(f"/o/{coordinator.device_token}/formList", headers=OR).data.decode()
    assert "<version>1</version>" in listing and "<version>2</version>" not in listing
    form = client.get(f"/o/{coordinator.device_token}/forms/doorcheck/form.xml", headers=OR)
    assert form.data.decode() == v1.xform
    refused = client.get(f"/o/{coordinator.device_token}/forms/doorcheck/form.xml?version=2",
                         headers=OR)
    assert refused.status_code == 404


def test_real_endpoint_refuses_draft_submissions(client, make_user, doorcheck):
    coordinator = make_user(Role.COORDINATOR)
    response = _post(client, f"/o/{coordinator.device_token}/", _instance("2"))
    assert response.status_code == 409
    assert b"draft test link" in response.data
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


@pytest.mark.parametrize("path", ["formList", "forms/doorcheck/form.xml",
                                  "forms/doorcheck/manifest", "forms/doorcheck/media/x.csv",
                                  "submission"])
def test_wrong_token_is_404_with_a_message(client, doorcheck, path):
    response = client.get(f"/o/draft/not-a-token/{path}", headers=OR)
    assert response.status_code == 404
    assert b"Unknown draft test link" in response.data
    assert response.headers["X-OpenRosa-Version"] == "1.0"


def test_the_token_serves_its_own_form_only(client, doorcheck):
    _v1, v2 = doorcheck
    response = client.get(f"{_base(v2)}forms/other/form.xml", headers=OR)
    assert response.status_code == 404 and b"serves form 'doorcheck' only" in response.data
    wrong = _post(client, _base(v2), _instance("1"))  # the published version's instance
    assert wrong.status_code == 409 and b"version '2' only" in wrong.data


def test_a_replaced_draft_and_a_closed_form_stop_the_link(client, designer, doorcheck):
    v1, v2 = doorcheck
    v3 = service.upload(_md("3"), "doorcheck.md", designer).version
    db.session.commit()
    old = client.get(f"{_base(v2)}formList", headers=OR)
    assert old.status_code == 404 and b"replaced by a newer draft" in old.data
    assert client.get(f"{_base(v3)}formList", headers=OR).status_code == 200
    service.close(v1.form, designer)
    db.session.commit()
    closed = client.get(f"{_base(v3)}formList", headers=OR)
    assert closed.status_code == 404 and b"is closed" in closed.data


def test_manifest_and_entity_lists_as_the_uploader_sees_them(client, area_tree, make_building,
                                                             make_user, designer):
    make_building("B1", area_tree["T01-01"])
    make_building("B2", area_tree["T01-02"])
    path = township_file("household")
    fv = service.upload(path.read_bytes(), path.name, designer).version
    db.session.commit()
    base = _base(fv)
    listing = ET.fromstring(client.get(f"{base}formList", headers=OR).data)
    manifest_url = listing.find("x:xform", NS).findtext("x:manifestUrl", namespaces=NS)
    assert manifest_url == f"http://localhost{base}forms/household/manifest"
    manifest = ET.fromstring(client.get(manifest_url, headers=OR).data)
    files = {m.findtext("m:filename", namespaces=NS): m.findtext("m:downloadUrl", namespaces=NS)
             for m in manifest.findall("m:mediaFile", NS)}
    assert "buildings.csv" in files
    url = files["buildings.csv"]
    assert url.startswith(f"http://localhost{base}forms/household/media/buildings.csv")
    rows = csv.DictReader(io.StringIO(client.get(url, headers=OR).data.decode()))
    assert sorted(r["name"] for r in rows) == ["B1", "B2"]  # a designer sees every street
    missing = client.get(f"{base}forms/household/media/nothing.csv", headers=OR)
    assert missing.status_code == 404


def test_a_test_submission_is_stored_but_never_reaches_the_register(
        client, area_tree, make_building, make_user, designer):
    make_building("B1", area_tree["T01-01"])
    path = township_file("household")
    fv = service.upload(path.read_bytes(), path.name, designer).version
    db.session.commit()
    base = _base(fv)
    head = client.head(f"{base}submission", headers=OR)
    assert head.status_code == 204 and head.headers["X-OpenRosa-Accept-Content-Length"]

    hid, pid = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    xml = build_instance(fv.xform, household(hid, "B1", "T01-01", [person(pid, ZHANG, hid)]))
    response = _post(client, base, xml)
    assert response.status_code == 201, response.data
    assert b"submit_success" in response.data
    assert _post(client, base, xml).status_code == 201  # a resend is the same submission

    sub = db.session.scalar(sa.select(Submission))
    assert (sub.draft, sub.processing_state, sub.form_version_id) == (True, "test", fv.id)
    assert storage.get(sub.storage_key, sub.xml_sha256) == xml  # durable like any other
    assert process_pending() == {"done": 0, "error": 0, "skipped": 0}
    assert process_one(sub.id) == "skipped"
    assert reprocess(everything=True) == 0
    db.session.expire_all()
    assert db.session.get(Submission, sub.id).processing_state == "test"
    assert db.session.scalar(sa.select(sa.func.count(Entity.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) == 0


def test_test_submissions_are_hidden_from_supervisors_lists_and_exports(
        client, login, make_user, doorcheck):
    _v1, v2 = doorcheck
    coordinator = make_user(Role.COORDINATOR, areas=[])
    real_id, test_id = "uuid:real-one", "uuid:test-one"
    assert _post(client, f"/o/{coordinator.device_token}/", _instance("1", real_id)).status_code \
        == 201
    assert _post(client, _base(v2), _instance("2", test_id)).status_code == 201
    ids = dict(db.session.execute(sa.select(Submission.instance_id, Submission.id)).all())
    login(Role.ADMIN)  # admins see every submission
    listing = client.get("/submissions/").data.decode()
    shown = {int(n) for n in re.findall(r'href="/submissions/(\d+)"', listing)}
    assert shown == {ids[real_id]}
    test_sub = db.session.get(Submission, ids[test_id])
    assert client.get(f"/submissions/{test_sub.id}").status_code == 404
    exported = client.get("/submissions/export.csv").data.decode()
    assert real_id in exported and test_id not in exported
    api = client.get("/api/v1/submissions").get_json()
    assert [s["instance_id"] for s in api["items"]] == [real_id]


def test_designer_page_counts_the_test_submissions(client, login, doorcheck):
    _v1, v2 = doorcheck
    assert _post(client, _base(v2), _instance("2", "uuid:tried-it")).status_code == 201
    login(Role.DESIGNER)
    html = client.get("/forms/doorcheck").data.decode()
    assert 'id="test-submissions"' in html and "uuid:tried-it" in html


def test_publishing_ends_the_test_link_and_deletes_test_submissions(client, make_user, designer,
                                                                    doorcheck):
    v1, v2 = doorcheck
    coordinator = make_user(Role.COORDINATOR)
    photo, shared_photo = b"\xff\xd8 test photo", b"\xff\xd8 the same photo"
    real = _post(client, f"/o/{coordinator.device_token}/", _instance("1", photo="same.jpg"),
                 {"same.jpg": shared_photo})
    assert real.status_code == 201
    for name, content in (("door.jpg", photo), ("same.jpg", shared_photo)):
        test = _post(client, _base(v2), _instance("2", photo=name), {name: content})
        assert test.status_code == 201
    tests = draft_testing.sent_to_drafts(v2.form)
    assert len(tests) == 2
    digests = [t.xml_sha256 for t in tests]
    keys = {a.storage_key for t in tests for a in t.attachments}
    paths = {k: storage.path_of(k) for k in keys}
    assert all(p.is_file() for p in paths.values())

    token = v2.draft_token
    service.publish(v2, designer)
    db.session.commit()

    gone = client.get(f"/o/draft/{token}/formList", headers=OR)
    assert gone.status_code == 404 and b"was published" in gone.data
    assert client.head(f"/o/draft/{token}/submission", headers=OR).status_code == 404
    remaining = db.session.scalars(sa.select(Submission)).all()
    assert [s.draft for s in remaining] == [False]
    assert db.session.scalar(sa.select(sa.func.count(SubmissionBlob.sha256))
                             .where(SubmissionBlob.sha256.in_(digests))) == 0
    assert db.session.scalar(sa.select(sa.func.count(SubmissionAttachment.id))) == 1
    kept = remaining[0].attachments[0].storage_key
    assert paths[kept].is_file()  # the real submission's identical photo stays
    assert all(not p.exists() for k, p in paths.items() if k != kept)
    assert v1.state == "superseded"


def test_a_failed_publish_keeps_the_files(app, client, designer, doorcheck):
    _v1, v2 = doorcheck
    assert _post(client, _base(v2), _instance("2"), {"door.jpg": b"kept"}).status_code == 201
    key = draft_testing.sent_to_drafts(v2.form)[0].attachments[0].storage_key
    service.publish(v2, designer)
    db.session.rollback()
    assert storage.path_of(key).is_file()
    assert len(draft_testing.sent_to_drafts(v2.form)) == 1


def test_test_and_real_submissions_never_replace_each_other(client, make_user, doorcheck):
    _v1, v2 = doorcheck
    coordinator = make_user(Role.COORDINATOR)
    assert _post(client, f"/o/{coordinator.device_token}/", _instance("1", "uuid:real")) \
        .status_code == 201
    edit = _post(client, _base(v2), _instance("2", "uuid:edit", deprecated_id="uuid:real"))
    assert edit.status_code == 409 and b"draft test link" in edit.data
    assert db.session.scalar(sa.select(Submission.superseded)
                             .where(Submission.instance_id == "uuid:real")) is False


def test_drafts_stored_without_a_token_get_one_on_the_form_page(client, login, doorcheck):
    _v1, v2 = doorcheck
    v2.draft_token = None
    db.session.commit()
    login(Role.DESIGNER)
    assert client.get("/forms/doorcheck").status_code == 200
    db.session.expire_all()
    assert v2.draft_token and client.get(f"{_base(v2)}formList", headers=OR).status_code == 200


def test_migration_gives_drafts_stored_before_it_a_token(tmp_path):
    from flask_migrate import upgrade

    app = make_app(tmp_path)
    with app.app_context():
        directory = app.config["MIGRATIONS_DIR"]
        upgrade(directory=directory, revision="0003")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO forms (id, xml_form_id, title, state, created_at) "
                                 "VALUES (1, 'f', 'F', 'published', '2026-01-01')"))
            for vid, state in ((1, "published"), (2, "draft"), (3, "draft")):
                conn.execute(sa.text(
                    "INSERT INTO form_versions (id, form_id, version, title, state, xform, md5, "
                    "xlsform_filename, warnings, entities, geo_fields, media_names, created_at) "
                    "VALUES (:id, 1, :v, 'F', :s, '<h/>', 'x', '', '[]', '[]', '[]', '[]', "
                    "'2026-01-01')"), {"id": vid, "v": str(vid), "s": state})
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            tokens = dict(conn.execute(sa.text("SELECT id, draft_token FROM form_versions")).all())
        db.engine.dispose()
    assert tokens[1] is None and tokens[2] and tokens[3] and tokens[2] != tokens[3]
