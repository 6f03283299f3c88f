"""Submission ingest rules: Form Submission API + the OpenRosa answers of docs/ARCHITECTURE.md."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from defusedxml import ElementTree as DET

from server.extensions import db
from server.models import Submission
from server.services import storage
from server.services.processing import pipeline
from server.services.processing.pipeline import Step
from server.services.processing.worker import start_worker
from tests.support.household_form import add_household_form, household_instance

RESPONSE = "{http://openrosa.org/http/response}"


@pytest.fixture
def client(client):
    """These tests read the reasons in English; answers are Chinese unless asked (the lang
    cookie, as ?lang=en leaves it); tests/test_errors.py checks the Chinese ones."""
    client.set_cookie("lang", "en")
    return client


def _message(r) -> str:
    root = DET.fromstring(r.data)
    assert root.tag == f"{RESPONSE}OpenRosaResponse"
    return root.findtext(f"{RESPONSE}message")


def _subs() -> list[Submission]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Submission).order_by(Submission.id)))


def test_new_submission_is_201_and_durable(app, form, post):
    """Form Submission API: a successful POST answers 201 Created with an OpenRosaResponse
    body; only after XML and attachments are durably stored and the row committed."""
    xml = household_instance("uuid:a1")
    r = post(xml, {"door.jpg": b"\xff\xd8JPEG"})
    assert r.status_code == 201, r.data
    assert _message(r) == "Submission received."
    (sub,) = _subs()
    assert storage.get(sub.storage_key, sub.xml_sha256) == xml
    (att,) = sub.attachments
    assert (att.name, storage.get(att.storage_key, att.sha256)) == ("door.jpg", b"\xff\xd8JPEG")
    assert (sub.attachments_expected, sub.attachments_present) == (1, 1)
    assert (sub.lat, sub.lon, sub.gps_accuracy) == (24.6, 102.6, 5.0)
    assert sub.processing_state == "pending"
    assert not any((storage._root() / "tmp").iterdir())  # no temporary leftovers


def test_same_bytes_again_completes_attachments(app, form, post):
    """Form Submission API (split submissions): attachments may follow in later POSTs marked
    with an *isIncomplete* part; the same bytes again -> 201, attachments completed."""
    xml = household_instance("uuid:a2")
    assert post(xml, incomplete=True).status_code == 201
    (sub,) = _subs()
    assert (sub.attachments_expected, sub.attachments_present) == (1, 0)
    r = post(xml, {"door.jpg": b"photo"})
    assert r.status_code == 201 and "attachments completed" in _message(r)
    r = post(xml, {"door.jpg": b"another photo"})  # the first copy wins
    assert r.status_code == 201
    (sub,) = _subs()
    assert sub.attachments_present == 1
    assert storage.get(sub.attachments[0].storage_key) == b"photo"


def test_different_xml_same_instance_id_is_409(app, form, post):
    """different XML with the same instanceID -> 409, resubmissions must be identical."""
    assert post(household_instance("uuid:a3")).status_code == 201
    r = post(household_instance("uuid:a3", head="Someone else"))
    assert r.status_code == 409 and "identical" in _message(r)
    assert len(_subs()) == 1


def test_edit_chain(app, form, post):
    """an edit (new instanceID, meta/deprecatedID) -> 201 and replaces the old one;
    an edit of an already-replaced version -> 409."""
    assert post(household_instance("uuid:v1")).status_code == 201
    edit = household_instance("uuid:v2", deprecated_id="uuid:v1", head="Fixed")
    assert post(edit).status_code == 201
    r = post(household_instance("uuid:v3", deprecated_id="uuid:v1", head="Other fix"))
    assert r.status_code == 409 and "already replaced" in _message(r)
    old, new = _subs()
    assert old.superseded and not new.superseded and new.deprecated_id == "uuid:v1"
    assert post(household_instance("uuid:v3", deprecated_id="uuid:v2")).status_code == 201


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"form_id": "nosuch"}, "'nosuch'"),
    ({"version": "77"}, "'77'"),
])
def test_unknown_form_or_version_is_404_naming_it(app, form, post, kwargs, named):
    """unknown form id / unknown version -> 404 with the id or version named."""
    r = post(household_instance(**kwargs))
    assert r.status_code == 404 and named in _message(r)


def test_closed_form_is_409_and_superseded_version_accepts(app, form, post):
    """closed form -> 409; older (superseded) versions keep accepting submissions."""
    add_household_form("2")
    assert post(household_instance(version="1")).status_code == 201
    form.form.state = "closed"
    db.session.commit()
    r = post(household_instance(version="2"))
    assert r.status_code == 409 and "closed" in _message(r)


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<data id="hh" version="1"><head>&lol2;</head><meta><instanceID>uuid:x</instanceID></meta></data>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<data id="hh" version="1"><head>&e;</head><meta><instanceID>uuid:y</instanceID></meta></data>"""


@pytest.mark.parametrize(("xml", "why"), [
    (household_instance("uuid:t")[:-20], "well-formed"),  # truncated upload
    (b"not xml at all", "well-formed"),
    (BILLION_LAUGHS, "well-formed"),  # entity expansion refused by defusedxml
    (XXE, "well-formed"),  # external entity refused
    (b'<data id="hh" version="1"><head>x</head></data>', "instanceID"),
    (b"<data><meta><instanceID>uuid:z</instanceID></meta></data>", "form id"),
])
def test_bad_xml_is_400_and_stores_nothing(app, form, post, xml, why):
    """malformed or truncated XML -> 400 (ODK Central stores it: do better);
    parsing is safe (no external entities, no entity expansion); instanceID is required."""
    r = post(xml)
    assert r.status_code == 400 and why in _message(r)
    assert _subs() == []


def test_missing_openrosa_header_or_xml_part_is_400(app, form, post, client, coordinator):
    """HTTP Request API: requests carry X-OpenRosa-Version (absent -> 400); Form Submission
    API: the XML travels in the xml_submission_file part (absent -> 400)."""
    r = post(household_instance(), headers={})
    assert r.status_code == 400 and "X-OpenRosa-Version" in _message(r)
    r = client.post(f"/o/{coordinator.device_token}/submission",
                    data={"other": (io.BytesIO(b"x"), "x.jpg")},
                    headers={"X-OpenRosa-Version": "1.0"}, content_type="multipart/form-data")
    assert r.status_code == 400 and "xml_submission_file" in _message(r)
    assert _subs() == []


def test_too_large_is_413_with_a_message(app, form, post):
    """Form Submission API: the server states its limit (X-OpenRosa-Accept-Content-Length);
    a larger POST -> 413 with a message, nothing stored."""
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    r = post(household_instance(), {"door.jpg": b"x" * 60_000})
    assert r.status_code == 413 and "50000" in _message(r)
    assert _subs() == []


def test_processing_runs_after_storage_and_can_be_replayed(app, form, post, runner,
                                                            monkeypatch):
    """Processing runs off the request path, one transaction per submission; a failure marks
    `error` and leaves nothing half-derived; `doorstep submissions reprocess` replays."""
    seen: list[str] = []
    broken = {"on": True}

    def record(sub, xml):
        seen.append(sub.instance_id)
        assert b"<head>" in xml

    def flaky(sub, xml):
        sub.review_state = "has_issues"  # a partial change that must be rolled back
        if broken["on"]:
            raise ValueError("rule engine down")

    monkeypatch.setattr(pipeline, "STEPS", (Step("record", record), Step("flaky", flaky)))
    post(household_instance("uuid:p1"))
    post(household_instance("uuid:p2"))
    assert pipeline.process_pending() == {"done": 0, "error": 2, "skipped": 0}
    subs = _subs()
    assert [s.processing_state for s in subs] == ["error", "error"]
    assert subs[0].processing_error == "flaky: rule engine down"
    assert [s.review_state for s in subs] == ["received", "received"]
    broken["on"] = False
    result = runner.invoke(args=["submissions", "reprocess"])
    assert result.exit_code == 0, result.output
    assert "marked 2; processed: 2 done, 0 errors" in result.output
    assert [s.processing_state for s in _subs()] == ["done", "done"]
    result = runner.invoke(args=["submissions", "reprocess", "--all", "--form", "hh"])
    assert "marked 2" in result.output
    assert seen == ["uuid:p1", "uuid:p2"] * 3


def test_worker_thread_processes_new_submissions(app, form, post, monkeypatch):
    """The embedded worker wakes on a new submission and processes it in the background."""
    import threading

    done = threading.Event()
    monkeypatch.setattr(pipeline, "STEPS", (Step("signal", lambda s, x: done.set()),))
    app.config["PROCESS_IN_BACKGROUND"] = True
    worker = start_worker(app)
    try:
        assert post(household_instance("uuid:w1")).status_code == 201
        assert done.wait(10)
    finally:
        worker.stop.set()
        from server.services.ingest.accept import NEW_SUBMISSION

        NEW_SUBMISSION.set()
        worker.thread.join(10)
    assert _subs()[0].processing_state == "done"
