"""Attachments are shown in the browser only as the image, audio or video their bytes are, and
otherwise offered as a download (issue 14, finding 2: stored XSS through /coverage/photo)."""

from __future__ import annotations

import io
import wave

import pytest
import sqlalchemy as sa
from PIL import Image

from server.extensions import db
from server.models import SubmissionAttachment, Visit
from tests.support.app import PASSWORD
from tests.support.household_form import household_instance


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "#0b6e4f").save(out, fmt)
    return out.getvalue()


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 80)
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"/>'
HTML = b"<!doctype html><script>fetch('/api/v1/entities/persons')</script>"
CASES = [
    # bytes, the type the phone claimed, what is served (None: a download)
    (_image("PNG"), "image/svg+xml", "image/png"),
    (_image("JPEG"), "text/html", "image/jpeg"),
    (_image("WEBP"), "image/jpeg", "image/webp"),
    (_wav(), "audio/wav", "audio/x-wav"),
    (SVG, "image/svg+xml", None),
    (HTML, "text/html", None),
    (HTML, "image/jpeg", None),
    (b"\xff\xd8", "image/jpeg", None),
]


@pytest.fixture
def stored(app, client, form, post, area_tree, make_building, make_user):
    """Store one attachment with a claimed type, its visit in a supervisor's street."""

    def store(data: bytes, claimed: str) -> SubmissionAttachment:
        assert post(household_instance(photo="door.jpg"), {"door.jpg": data}).status_code == 201
        att = db.session.scalar(sa.select(SubmissionAttachment)
                                .order_by(SubmissionAttachment.id.desc()))
        att.content_type = claimed
        building = make_building(f"B{att.id}", area_tree["T01-01"])
        db.session.add(Visit(submission_id=att.submission_id, building_id=building.id))
        db.session.commit()
        return att

    supervisor = make_user("supervisor", areas=["T01"])
    assert client.post("/login", data={"username": supervisor.username,
                                       "password": PASSWORD}).status_code == 302
    return store


@pytest.mark.parametrize(("data", "claimed", "served"), CASES)
def test_attachments_are_served_by_what_their_bytes_are(client, stored, data, claimed, served):
    att = stored(data, claimed)
    for url in (f"/coverage/photo/{att.id}",
                f"/submissions/{att.submission_id}/attachments/{att.name}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.data == data
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert "private" in response.headers["Cache-Control"]
        disposition = response.headers["Content-Disposition"]
        if served is None:
            assert response.mimetype == "application/octet-stream"
            assert disposition.startswith("attachment;") and "door.jpg" in disposition
        else:
            assert response.mimetype == served
            assert disposition.startswith("inline;")


def test_a_file_gone_from_storage_is_404_not_500(client, stored):
    from server.services import storage

    att = stored(_image("PNG"), "image/png")
    storage.path_of(att.storage_key).unlink()
    gone = client.get(f"/coverage/photo/{att.id}")
    assert gone.status_code == 404 and "此文件已不在存储中" in gone.get_data(as_text=True)
    assert "no longer stored" in client.get(f"/coverage/photo/{att.id}?lang=en").get_data(
        as_text=True)
    assert client.get(
        f"/submissions/{att.submission_id}/attachments/{att.name}").status_code == 404


def test_a_repeated_request_is_answered_304(client, stored):
    att = stored(_image("PNG"), "image/png")
    first = client.get(f"/coverage/photo/{att.id}")
    again = client.get(f"/coverage/photo/{att.id}",
                       headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
