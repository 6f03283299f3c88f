"""JSON API under /api/v1 with its OpenAPI document at /api/v1/openapi.json.

Feature modules add routes to `bp` and describe them with `@document(...)`; the OpenAPI
document (server.api.openapi) is assembled from the URL map itself and cannot drift from it.
"""

from __future__ import annotations

import importlib
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from flask_login import current_user

from server.access import LOGGED_IN, PUBLIC, allow
from server.api.openapi import build, document, json_body
from server.extensions import db
from server.models import Role
from server.services import audit, device_links
from server.services.errors import ServiceError, log_server_fault

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# API modules, each adding routes to `bp`; features append theirs.
MODULES: list[str] = [
    "server.api.forms",
    "server.api.entities",
    "server.api.submissions",
    "server.api.coverage",
    "server.api.rounds",
    "server.api.health",
]

__all__ = ["bp", "document", "init_app", "json_object"]


class BodyError(ServiceError):
    """A request body that is not the JSON object the operation takes."""

    code = "bad_body"


def json_object() -> dict[str, Any]:
    """The request's JSON body as a dict: {} when there is none (or it is not JSON), 400 when
    it is JSON but not an object (a number, a list: `.get` on those was a 500)."""
    body = request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BodyError("Send the body as a JSON object.")
    return body


@bp.errorhandler(ServiceError)
def _service_error(err: ServiceError):
    """A refused request as JSON: {"error": code, "message": …, "status": …} like every other
    API error (server.web's HTTPException handler), the message in the caller's language."""
    db.session.rollback()  # a refusal writes nothing, even when it came after a flush
    log_server_fault(err)
    response = jsonify(err.payload())
    if err.status == 503:  # the database is away or saturated (services.faults)
        response.headers["Retry-After"] = "5"
    return response, err.status


@bp.get("/me")
@allow(LOGGED_IN)
@document("The logged-in user: role and assigned areas.", responses={"200": json_body(
    "the user", {"type": "object",
                 "required": ["username", "role", "areas", "device_links"],
                 "properties": {"username": {"type": "string"},
                                "display_name": {"type": ["string", "null"]},
                                "role": {"type": "string"},
                                "areas": {"type": "array", "items": {"type": "string"}},
                                "locale": {"type": ["string", "null"]},
                                "device_links": {"type": "integer", "minimum": 0}}})})
def me():
    return jsonify(
        username=current_user.username,
        display_name=current_user.display_name,
        role=current_user.role,
        areas=[a.area.code for a in current_user.assignments],
        locale=current_user.locale,
        # Device tokens are stored hashed: a phone gets its URL once, from POST device-links.
        device_links=len(current_user.device_links),
    )


@bp.post("/me/device-links")
@allow(Role.COORDINATOR)
@document("Link this phone: a new OpenRosa base URL of its own, returned only in this answer "
          "(the server keeps a hash). The phone app calls it once and keeps the URL.",
          responses={"201": json_body("the new link", {
                         "type": "object", "required": ["openrosa_url"],
                         "properties": {"openrosa_url": {"type": "string"}}}),
                     "409": {"description": "too many phones linked"}})
def link_device():
    try:
        token = device_links.create(current_user, device_links.PHONE_APP)
    except device_links.DeviceLinkError as err:
        db.session.rollback()
        return jsonify(error="Conflict", message=str(err), status=409), 409
    audit.record("device_link.create", object_type="user", object_id=current_user.id,
                 label=device_links.PHONE_APP)
    db.session.commit()
    response = jsonify(openrosa_url=f"/o/{token}/")
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/openapi.json")
@allow(PUBLIC)
@document("This document: every operation with its parameters and answers.",
          responses={"200": json_body("OpenAPI 3.1", {"type": "object",
                                                      "required": ["openapi", "paths"]})})
def openapi():
    return jsonify(build(current_app))


def init_app(app: Flask) -> None:
    for name in MODULES:
        importlib.import_module(name)
    app.register_blueprint(bp)
