"""Submissions in the JSON API: list with filters, one submission, review, exports."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, jsonify, request
from flask_login import current_user

from server.access import allow
from server.api import bp, document
from server.extensions import db
from server.models import Role
from server.params import int_arg
from server.services import privacy
from server.services.submissions import exports as sx
from server.services.submissions import review as rv

VIEWERS = (Role.SUPERVISOR, Role.ADMIN, Role.COORDINATOR)
FILTER_PARAMS = [
    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
    for n in ("form", "coordinator", "date_from", "date_to", "review_state", "processing_state",
              "replaced")
]


def _summary(sub) -> dict:
    return {"id": sub.id, **sx.meta(sub), "superseded": sub.superseded,
            "deprecated_id": sub.deprecated_id,
            "attachments_expected": sub.attachments_expected,
            "attachments_present": sub.attachments_present}


@bp.get("/submissions")
@allow(*VIEWERS)
@document("Submissions the caller may see, newest first, with filters.",
          parameters=[*FILTER_PARAMS,
                      {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                      {"name": "offset", "in": "query", "schema": {"type": "integer"}}])
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
          "repeats and attachments.")
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
          requestBody={"content": {"application/json": {"schema": {
              "type": "object", "properties": {"review_state": {"type": "string"},
                                               "reason": {"type": "string"},
                                               "comment": {"type": "string"}}}}}})
def submission_review(submission_id: int):
    sub = sx.get_visible(current_user, submission_id)
    if sub is None:
        abort(404)
    body = request.get_json(silent=True) or {}
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
          "GeoJSON; every export is audited.", parameters=FILTER_PARAMS)
def submissions_export(fmt: str):
    if fmt not in sx.EXPORTS:
        abort(404, f"unknown export format {fmt!r}: use csv, xlsx or geojson")
    data, content_type = sx.export(current_user, sx.Filters.from_args(request.args), fmt)
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="submissions.{fmt}"'
    return response
