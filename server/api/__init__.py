"""JSON API under /api/v1 with its OpenAPI document at /api/v1/openapi.json.

Feature modules add routes to `bp` and describe them with `@document(...)`, so the OpenAPI
document is assembled from the routes themselves and cannot drift from them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask_login import current_user

from server.access import LOGGED_IN, PUBLIC, allow
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

_SPEC_ATTR = "_openapi"


def document(summary: str, **operation: Any) -> Callable:
    """Attach an OpenAPI operation (summary, parameters, responses…) to a view."""

    def decorate(view: Callable) -> Callable:
        setattr(view, _SPEC_ATTR, {"summary": summary, **operation})
        return view

    return decorate


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
@document("The logged-in user: role and assigned areas.")
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
          responses={"201": {"description": "the new link's `openrosa_url`"},
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
def openapi():
    paths: dict[str, dict[str, Any]] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        spec = getattr(current_app.view_functions[rule.endpoint], _SPEC_ATTR, None)
        if spec is None:
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        path = path.replace("{int:", "{").replace("{path:", "{")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = {"responses": {"200": {"description": "OK"}}, **spec}
            paths.setdefault(path, {})[method.lower()] = operation
    return jsonify(
        openapi="3.1.0",
        info={"title": "Doorstep API", "version": "1"},
        paths=paths,
    )


def init_app(app: Flask) -> None:
    for name in MODULES:
        importlib.import_module(name)
    app.register_blueprint(bp)
