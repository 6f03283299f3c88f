"""Submissions in the JSON API: list with filters, one submission, review, exports."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, jsonify, request
from flask_login import current_user

from server.access import allow
from server.api import bp, document, json_object
from server.api.openapi import json_body, query
from server.extensions import db
from server.models import Role
from server.models.submissions import PROCESSING_STATES, REVIEW_STATES
from server.params import MAX_SQL_INT, int_arg
from server.services import privacy
from server.services.submissions import exports as sx
from server.services.submissions import review as rv

VIEWERS = (Role.SUPERVISOR, Role.ADMIN, Role.COORDINATOR)
FILTER_PARAMS = [
    query("form", {"type": "string"}, "form id"),
    query("coordinator", {"type": "string"}, "the submitter's username"),
    query("date_from", {"type": "string", "format": "date"},
          "received on or after this day (township time; not a date: ignored)"),
    query("date_to", {"type": "string", "format": "date"}, "received on or before this day"),
    query("review_state", {"type": "string", "enum": list(REVIEW_STATES)},
          "another value: ignored"),
    query("processing_state", {"type": "string", "enum": list(PROCESSING_STATES)},
          "another value: ignored"),
    query("replaced", {"type": "string", "enum": ["1", "true", "on", "0"]},
          "1: also the versions an edit replaced"),
]
_NUMBER = {"type": ["number", "null"]}
SUMMARY = {"type": "object", "required": ["id", "instance_id", "form_id", "review_state"],
           "properties": {
               "id": {"type": "integer"}, "instance_id": {"type": "string"},
               "form_id": {"type": "string"}, "form_version": {"type": "string"},
               "submitter": {"type": "string"}, "received_at": {"type": "string"},
               "review_state": {"type": "string", "enum": list(REVIEW_STATES)},
               "processing_state": {"type": "string"}, "lon": _NUMBER, "lat": _NUMBER,
               "gps_accuracy": _NUMBER, "superseded": {"type": "boolean"},
               "deprecated_id": {"type": ["string", "null"]},
               "attachments_expected": {"type": "integer"},
               "attachments_present": {"type": "integer"}}}
_DETAIL = {**SUMMARY, "required": [*SUMMARY["required"], "fields", "repeats", "attachments"],
           "properties": {**SUMMARY["properties"], "fields": {"type": "object"},
                          "repeats": {"type": "object"},
                          "review": {"type": ["object", "null"]},
                          "attachments": {"type": "array", "items": {"type": "object"}}}}
_REVIEWED = {**SUMMARY, "properties": {**SUMMARY["properties"],
                                       "reason": {"type": ["string", "null"]},
                                       "comment": {"type": ["string", "null"]}}}
_EXPORTS = {"csv": "text/csv", "geojson": "application/geo+json",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _summary(sub) -> dict:
    return {"id": sub.id, **sx.meta(sub), "superseded": sub.superseded,
            "deprecated_id": sub.deprecated_id,
            "attachments_expected": sub.attachments_expected,
            "attachments_present": sub.attachments_present}


@bp.get("/submissions")
@allow(*VIEWERS)
@document("Submissions the caller may see, newest first, with filters.",
          parameters=[*FILTER_PARAMS,
                      query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                            "at most this many (default 100; outside 1…1000: the nearest)"),
                      query("offset", {"type": "integer", "minimum": 0,
                                       "maximum": MAX_SQL_INT})],
          responses={"200": json_body("a page of submissions", {
              "type": "object", "required": ["total", "limit", "offset", "items"],
              "properties": {"total": {"type": "integer"}, "limit": {"type": "integer"},
                             "offset": {"type": "integer"},
                             "items": {"type": "array", "items": SUMMARY}}})})
def submissions_list():
    q = sx.query(current_user, sx.Filters.from_args(request.args))
    limit = min(max(int_arg("limit", 100) or 100, 1), 1000)
    offset = max(int_arg("offset", 0), 0)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery()))
    subs = db.session.scalars(q.limit(limit).offset(offset)).all()
    return jsonify(total=total, limit=limit, offset=offset, items=[_summary(s) for s in subs])


@bp.get("/submissions/<int:submission_id>")
@allow(*VIEWERS)
@document("One submission: metadata, answers (personal fields masked unless allowed), "
          "repeats and attachments; audited when shown unmasked.", writes=True,
          responses={"200": json_body("the submission", _DETAIL)})
def submission_detail(submission_id: int):
    sub = sx.get_visible(current_user, submission_id)
    if sub is None:
        abort(404)
    unmasked = privacy.can_see_personal_data(current_user)
    record = sx.masked(sx.flatten(sub), unmasked)
    sx.audit_read(current_user, sub)
    decision = rv.latest(sub)
    return jsonify(
        **_summary(sub), fields=record.main, repeats=record.repeats,
        review={"reason": decision.reason, "reason_label": rv.reason_label(decision.reason),
                "comment": decision.comment} if decision else None,
        attachments=[{"name": a.name, "content_type": a.content_type, "size": a.size,
                      "sha256": a.sha256, "present": a.storage_key is not None}
                     for a in sub.attachments],
    )


@bp.post("/submissions/<int:submission_id>/review")
@allow(Role.SUPERVISOR, Role.ADMIN)
@document("Set the review state: received, approved, has_issues or rejected. has_issues and "
          "rejected send the submission back to its coordinator and need a reason (one of "
          "address_mismatch, incomplete, id_number_wrong, photo_unclear, not_visited, other) "
          "and, for other, a comment.",
          requestBody={"required": True, "content": {"application/json": {"schema": {
              "type": "object", "required": ["review_state"], "properties": {
                  "review_state": {"type": "string", "enum": list(REVIEW_STATES)},
                  "reason": {"type": "string"}, "comment": {"type": "string"}}}}}},
          responses={"200": json_body("the submission as it is now", _REVIEWED),
                     "400": {"description": "not one of the review states, or a reason "
                                            "missing"}})
def submission_review(submission_id: int):
    sub = sx.get_visible(current_user, submission_id)
    if sub is None:
        abort(404)
    body = json_object()
    text = {k: body.get(k) if isinstance(body.get(k), str) else None
            for k in ("review_state", "reason", "comment")}
    sx.set_review_state(current_user, sub, text["review_state"] or "", text["reason"],
                        text["comment"])
    decision = rv.latest(sub)
    return jsonify({**_summary(sub), "reason": decision.reason if decision else None,
                    "comment": decision.comment if decision else ""})


@bp.get("/submissions/export.<fmt>")
@allow(*VIEWERS)
@document("Export the filtered submissions as CSV, XLSX (repeats as their own sheets) or "
          "GeoJSON; every export is audited.", writes=True,
          parameters=[{"name": "fmt", "in": "path", "schema": {"enum": list(_EXPORTS)}},
                      *FILTER_PARAMS],
          responses={"200": {"description": "the file (Content-Disposition: attachment)",
                             "content": {t: {"schema": {"type": "object"} if t.endswith("json")
                                             else {"type": "string", "format": "binary"}}
                                         for t in _EXPORTS.values()}},
                     "404": {"description": "not csv, xlsx or geojson"}})
def submissions_export(fmt: str):
    if fmt not in sx.EXPORTS:
        abort(404, f"unknown export format {fmt!r}: use csv, xlsx or geojson")
    data, content_type = sx.export(current_user, sx.Filters.from_args(request.args), fmt)
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="submissions.{fmt}"'
    return response
