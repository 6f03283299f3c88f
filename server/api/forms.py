"""Forms in the JSON API: list, upload, publish, close, download the XForm."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request, url_for
from flask_login import current_user

from server.access import allow
from server.api import bp, document, json_object
from server.api.openapi import FORM_ERROR_REF, json_body, query
from server.extensions import db
from server.models import Form, FormVersion, Role
from server.services.forms import lifecycle as service
from server.web.forms import read_upload, xform_response

DESIGNERS = (Role.ADMIN, Role.DESIGNER)
_STRINGS = {"type": "array", "items": {"type": "string"}}
_WHEN = {"type": ["string", "null"], "format": "date-time"}
VERSION = {"type": "object", "required": ["version", "state", "hash", "xform_url"],
           "properties": {"version": {"type": "string"}, "state": {"type": "string"},
                          "title": {"type": ["string", "null"]}, "hash": {"type": "string"},
                          "warnings": {"type": "array"}, "media": _STRINGS,
                          "entities": _STRINGS, "geo_fields": _STRINGS, "created_at": _WHEN,
                          "published_at": _WHEN, "xform_url": {"type": "string"}}}
FORM = {"type": "object", "required": ["form_id", "state", "current_version", "versions"],
        "properties": {"form_id": {"type": "string"}, "title": {"type": ["string", "null"]},
                       "state": {"type": "string"},
                       "current_version": {"type": ["string", "null"]},
                       "versions": {"type": "array", "items": VERSION}}}
_FORM = {"200": json_body("the form with its versions", FORM)}
_UPLOADED = {**FORM, "required": [*FORM["required"], "uploaded", "warnings"], "properties": {
    **FORM["properties"], "uploaded": VERSION, "warnings": {"type": "array"}}}
_FORM_ID = [{"name": "xml_form_id", "in": "path", "description": "the form's id (form_id)"}]


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
@document("Forms with their versions and states.", responses={"200": json_body(
    "every form", {"type": "object", "required": ["forms"],
                   "properties": {"forms": {"type": "array", "items": FORM}}})})
def list_forms():
    return jsonify(forms=[form_json(f) for f in service.list_forms()])


@bp.post("/forms")
@allow(*DESIGNERS)
@document(
    "Upload an XLSForm (multipart: file, media…) as a draft version; ?publish=1 publishes it.",
    parameters=[query("publish", {"type": "string", "enum": ["0", "1", "true", "yes"]},
                      "1: publish the uploaded version")],
    requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"},
                       "media": {"type": "array",
                                 "items": {"type": "string", "format": "binary"}}}}}}},
    responses={"201": json_body("Created", _UPLOADED), "200": json_body("Already there",
                                                                          _UPLOADED),
               "400": json_body("no file in the multipart field 'file'", FORM_ERROR_REF),
               "409": json_body("Version exists with other content", FORM_ERROR_REF),
               "413": json_body("the XLSForm or a media file is too large", FORM_ERROR_REF),
               "422": json_body("Not a valid XLSForm", FORM_ERROR_REF)},
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
@document("One form with its versions.", parameters=_FORM_ID, responses=_FORM)
def get_form(xml_form_id: str):
    return jsonify(form_json(_form_or_404(xml_form_id)))


@bp.post("/forms/<xml_form_id>/publish")
@allow(*DESIGNERS)
@document("Publish a version (?version=… or a JSON body {version}; default: the newest "
          "draft, else the newest version, which also reopens a closed form).",
          parameters=[*_FORM_ID, query("version", {"type": "string"})],
          requestBody={"required": False, "content": {"application/json": {"schema": {
              "type": "object", "properties": {"version": {"type": "string"}}}}}},
          responses={**_FORM, "404": {"description": "no such form or version"}})
def publish_form(xml_form_id: str):
    form = _form_or_404(xml_form_id)
    wanted = request.args.get("version") or json_object().get("version")
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
@document("Close a form: phones can no longer send new submissions.", parameters=_FORM_ID,
          responses=_FORM)
def close_form(xml_form_id: str):
    form = _form_or_404(xml_form_id)
    service.close(form, current_user)
    db.session.commit()
    return jsonify(form_json(form))


@bp.get("/forms/<xml_form_id>/versions/<version>.xml")
@allow(*DESIGNERS)
@document("The XForm of a version, exactly as pyxform produced it.", parameters=_FORM_ID,
          responses={"200": json_body("the XForm", {"type": "string"}, "text/xml")})
def form_version_xml(xml_form_id: str, version: str):
    found = service.find_version(xml_form_id, version)
    if found is None:
        abort(404, description=f"form {xml_form_id!r} has no version {version!r}")
    return xform_response(found)
