"""Returned submissions for the phone app, under the same per-phone URL as OpenRosa.

`GET returned` lists what supervisors sent back to this coordinator (reason, comment,
building); `GET returned/<id>` gives one to load into the form for a correction (audited:
server.services.submissions.review.open_returned), and its attachments. The correction itself
is an ordinary submission POST naming the original in meta/deprecatedID. ODK Collect reads the
same list as the media file returned.csv of a form that uses it (README).
"""

from __future__ import annotations

from flask import Response, jsonify

from server.access import DEVICE, allow
from server.openrosa import protocol as p
from server.openrosa.views import route
from server.services import storage
from server.services.submissions import review as rv
from server.web.downloads import send_attachment


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # one person's work: never in a cache
    return response


@route("/returned", methods=["GET"])
@allow(DEVICE)
def returned_list(token: str | None = None) -> Response:
    user = p.device_user(token)
    items = [r.as_json() for r in rv.returned(user)]
    return _private(jsonify(items=items, reasons=dict(rv.reason_choices())))


@route("/returned/<int:submission_id>", methods=["GET"])
@allow(DEVICE)
def returned_instance(submission_id: int, token: str | None = None) -> Response:
    user = p.device_user(token)
    sub = rv.open_returned(user, submission_id)
    xml = storage.get(sub.storage_key, sub.xml_sha256)  # StorageError: 500 with the reason
    return _private(jsonify(
        id=sub.id, instance_id=sub.instance_id, form_id=sub.form_version.form.xml_form_id,
        form_version=sub.form_version.version, xml=xml.decode("utf-8"),
        attachments=[a.name for a in sub.attachments if a.storage_key],
    ))


@route("/returned/<int:submission_id>/attachments/<name>", methods=["GET"])
@allow(DEVICE)
def returned_attachment(submission_id: int, name: str, token: str | None = None) -> Response:
    user = p.device_user(token)
    return send_attachment(rv.returned_attachment(user, submission_id, name))
