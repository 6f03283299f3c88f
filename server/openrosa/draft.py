"""A draft's test link: a one-form OpenRosa server at /o/draft/<draft_token>/.

ODK Collect (a project made from the QR code on the designer's form page) lists, downloads and
submits the draft exactly as it will once published; entity lists are those the uploader sees,
with ID and phone numbers masked. Submissions are stored as test submissions
(server.services.forms.draft_testing). Same headers and error answers as the coordinators'
endpoints; a link that no longer leads to the form's newest draft answers 404 with the reason.
"""

from __future__ import annotations

from flask import Response, request

from server.access import DEVICE, allow
from server.extensions import db
from server.models import FormVersion, User
from server.openrosa import protocol as p
from server.openrosa.blueprint import bp
from server.openrosa.device import qr_payload, qr_svg
from server.openrosa.views import receive
from server.services.forms import draft_testing

BASE = "/o/draft/<draft_token>"


def _draft(draft_token: str, xml_form_id: str | None = None) -> FormVersion:
    """The link's draft; DraftLinkError (404, answered by protocol.service_error) says why not."""
    fv = draft_testing.find_draft(draft_token)
    if xml_form_id is not None and xml_form_id != fv.form.xml_form_id:
        raise draft_testing.DraftLinkError(
            "This draft test link serves form {form_id!r} only, not {asked!r}.",
            form_id=fv.form.xml_form_id, asked=xml_form_id)
    return fv


def _uploader(fv: FormVersion) -> User | None:
    """Entity lists cover the streets of the designer who uploaded the draft, personal data
    masked (anyone may hold the link)."""
    return db.session.get(User, fv.created_by_id) if fv.created_by_id is not None else None


@bp.route(f"{BASE}/formList", methods=["GET"])
@allow(DEVICE)
def draft_form_list(draft_token: str) -> Response:
    fv = _draft(draft_token)
    wanted = request.args.get("formID")
    versions = [fv] if wanted in (None, "", fv.form.xml_form_id) else []
    return p.xml_response(p.form_list(versions, None, draft_token))


@bp.route(f"{BASE}/forms/<xml_form_id>/form.xml", methods=["GET"])
@allow(DEVICE)
def draft_form_xml(draft_token: str, xml_form_id: str) -> Response:
    fv = _draft(draft_token, xml_form_id)
    response = Response(fv.xform.encode("utf-8"), content_type=p.XML_TYPE)
    response.set_etag(p.md5_hex(p.xform_hash(fv)))
    return response.make_conditional(request)


@bp.route(f"{BASE}/forms/<xml_form_id>/manifest", methods=["GET"])
@allow(DEVICE)
def draft_manifest(draft_token: str, xml_form_id: str) -> Response:
    fv = _draft(draft_token, xml_form_id)
    files = p.media_files(fv, _uploader(fv), via_link=True)
    return p.xml_response(p.manifest(fv, files, None, draft_token))


@bp.route(f"{BASE}/forms/<xml_form_id>/media/<name>", methods=["GET"])
@allow(DEVICE)
def draft_media(draft_token: str, xml_form_id: str, name: str) -> Response:
    fv = _draft(draft_token, xml_form_id)
    return p.media_response(fv, _uploader(fv), name, via_link=True)


@bp.route(f"{BASE}/submission", methods=["GET", "HEAD", "POST"])
@allow(DEVICE)
def draft_submission(draft_token: str) -> Response:
    """Test submissions: stored durably, flagged, never processed, deleted on publish."""
    fv = _draft(draft_token)
    if request.method in ("GET", "HEAD"):
        return Response(status=204)
    return receive(None, draft=fv)


def draft_link(fv: FormVersion) -> dict[str, str]:
    """What the designer's form page shows for a draft: the test link's server URL, the
    ODK Collect QR payload and its SVG (a project of its own, "草稿测试 <title>")."""

    token = draft_testing.ensure_token(fv)
    url = p.url("form_list", None, token).removesuffix("formList")
    title = fv.title or fv.form.title or fv.form.xml_form_id
    settings = {
        "general": {
            "server_url": url.rstrip("/"),
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": f"草稿测试 {title}"[:64], "icon": "草", "color": "#b35c00"},
    }
    payload = qr_payload(settings)
    return {"url": url, "payload": payload, "svg": qr_svg(payload)}
