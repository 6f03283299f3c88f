"""Forms in the JSON API: list, upload, publish, close, download the XForm."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request, url_for
from flask_login import current_user

from server.access import allow
from server.api import bp, document
from server.extensions import db
from server.models import Form, FormVersion, Role
from server.services.forms import lifecycle as service
from server.web.forms import read_upload, xform_response

DESIGNERS = (Role.ADMIN, Role.DESIGNER)


def version_json(v: FormVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "state": v.state,
        "title": v.title,
        "hash": v.md5,
        "warnings": list(v.warnings or []),
        "media": list(v.media_names or []),
        "entities": sorted({e["dataset"] for e in v.entities or []}),
        "geo_fields": list(v.geo_fields or []),
        "created_at": v.created_at.isoformat() + "Z" if v.created_at else None,
        "published_at": v.published_at.isoformat() + "Z" if v.published_at else None,
        "xform_url": url_for("api.form_version_xml", xml_form_id=v.form.xml_form_id,
                             version=v.version),
    }


def form_json(form: Form) -> dict[str, Any]:
    current = service.current_version(form)
    return {
        "form_id": form.xml_form_id,
        "title": form.title,
        "state": form.state,
        "current_version": current.version if current is not None else None,
        "versions": [version_json(v) for v in form.versions],
    }


def _form_or_404(xml_form_id: str) -> Form:
    form = service.get_form(xml_form_id)
    if form is None:
        abort(404, description=f"no form with id {xml_form_id!r}")
    return form


@bp.get("/forms")
@allow(*DESIGNERS)
@document("Forms with their versions and states.")
def list_forms():
    return jsonify(forms=[form_json(f) for f in service.list_forms()])


@bp.post("/forms")
@allow(*DESIGNERS)
@document(
    "Upload an XLSForm (multipart: file, media…) as a draft version; ?publish=1 publishes it.",
    responses={"201": {"description": "Created"}, "200": {"description": "Already there"},
               "409": {"description": "Version exists with other content"},
               "422": {"description": "Not a valid XLSForm"}},
)
def upload_form():
    data, filename, media = read_upload()
    if not filename:
        raise service.FormServiceError("Send the XLSForm in the multipart field 'file'.",
                                       code="no_file")
    result = service.upload(data, filename, current_user, media)
    if request.args.get("publish") in ("1", "true", "yes"):
        service.publish(result.version, current_user)
    service.commit()
    body = form_json(result.version.form)
    body["uploaded"] = version_json(result.version)
    body["warnings"] = result.warnings
    return jsonify(body), 201 if result.created else 200


@bp.get("/forms/<xml_form_id>")
@allow(*DESIGNERS)
@document("One form with its versions.")
def get_form(xml_form_id: str):
    return jsonify(form_json(_form_or_404(xml_form_id)))


@bp.post("/forms/<xml_form_id>/publish")
@allow(*DESIGNERS)
@document("Publish a version (?version=…; default: the newest draft, else the newest "
          "version, which also reopens a closed form).")
def publish_form(xml_form_id: str):
    form = _form_or_404(xml_form_id)
    wanted = request.args.get("version") or (request.get_json(silent=True) or {}).get("version")
    if wanted:
        version = service.find_version(xml_form_id, str(wanted))
    else:
        version = service.latest_draft(form) or (form.versions[-1] if form.versions else None)
    if version is None:
        abort(404, description=f"form {xml_form_id!r} has no version {wanted!r}")
    service.publish(version, current_user)
    db.session.commit()
    return jsonify(form_json(form))


@bp.post("/forms/<xml_form_id>/close")
@allow(*DESIGNERS)
@document("Close a form: phones can no longer send new submissions.")
def close_form(xml_form_id: str):
    form = _form_or_404(xml_form_id)
    service.close(form, current_user)
    db.session.commit()
    return jsonify(form_json(form))


@bp.get("/forms/<xml_form_id>/versions/<version>.xml")
@allow(*DESIGNERS)
@document("The XForm of a version, exactly as pyxform produced it.")
def form_version_xml(xml_form_id: str, version: str):
    found = service.find_version(xml_form_id, version)
    if found is None:
        abort(404, description=f"form {xml_form_id!r} has no version {version!r}")
    return xform_response(found)
