"""Wires the features into the app: each feature module has `init_app(app)` that registers its
blueprint, its CLI commands and its home-page links."""

from __future__ import annotations

import importlib

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from server.extensions import db, login_manager
from server.services import faults
from server.services.errors import ServiceError, log_server_fault

FEATURES = [
    "server.web.auth",
    "server.web.home",
    "server.api",
    "server.odata",
    "server.web.forms",
    "server.web.register",
    "server.openrosa",
    "server.web.submissions",
    "server.web.app",
    "server.web.coverage",
    "server.web.rounds",
    "server.web.reports",
    "server.web.rentals",
    "server.web.imports",
    "server.web.admin",
    "server.web.tokens",
]


def register_blueprints(app: Flask) -> None:
    for name in FEATURES:
        importlib.import_module(name).init_app(app)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ServiceError, _service_error)
    for fault in (OSError, sa_exc.DBAPIError, sa_exc.TimeoutError):
        app.register_error_handler(fault, _machine_fault)
    app.teardown_request(_drop_stand_in_user)


def _http_error(err: HTTPException):
    """JSON for the API, a small page for people; never a stack trace. The exception's own
    headers are kept: `Allow` on a 405, `WWW-Authenticate` on a 401, `Retry-After`."""
    if request.path.startswith("/api/"):
        response = jsonify(error=err.name, message=err.description, status=err.code)
    else:
        response = make_response(render_template("error.html", error=err))
    response.status_code = err.code or 500
    for name, value in err.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _machine_fault(err: Exception):
    """A full disk (507) or an unreachable database (503), wherever it surfaced (the device
    token's lookup, the session's user, a view): answered as the surface answers a
    ServiceError — OpenRosa XML, JSON, or a page. Anything else stays a 500."""
    answer = faults.as_service_error(err)
    if answer is None:
        raise err
    if isinstance(answer, faults.DatabaseUnavailable):
        # The page (and the reader's language) would ask the database who is logged in: this
        # answer is rendered for an anonymous reader (Flask-Login keeps the user in g).
        g._login_user = login_manager.anonymous_user()
        g.doorstep_stand_in_user = True
    return current_app.handle_user_exception(answer)


def _drop_stand_in_user(_exc: BaseException | None) -> None:
    """g outlives the request when the app context does (tests): the stand-in goes with it."""
    if g.pop("doorstep_stand_in_user", False):
        g.pop("_login_user", None)


def _service_error(err: ServiceError):
    """A refused request on a page: the error page, in the reader's language. (The JSON API and
    OpenRosa answer in their own formats: server.api and server.openrosa register theirs.)"""
    db.session.rollback()  # a refusal writes nothing, even when it came after a flush
    log_server_fault(err)
    kind = _EXTRA.get(err.status) or default_exceptions.get(err.status, InternalServerError)
    response = make_response(render_template("error.html", error=kind(err.localized())),
                             err.status)
    if err.status == 503:
        response.headers["Retry-After"] = "5"
    return response


class InsufficientStorage(HTTPException):
    """507, which Werkzeug has no class for (a full disk: services.faults)."""

    code = 507


_EXTRA: dict[int, type[HTTPException]] = {507: InsufficientStorage}
