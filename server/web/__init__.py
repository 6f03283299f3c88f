"""Wires the features into the app: each feature module has `init_app(app)` that registers its
blueprint, its CLI commands and its home-page links."""

from __future__ import annotations

import importlib

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from server.extensions import db
from server.services.errors import ServiceError, log_server_fault

FEATURES = [
    "server.web.auth",
    "server.web.home",
    "server.api",
    "server.web.forms",
    "server.web.register",
    "server.openrosa",
    "server.web.submissions",
    "server.web.app",
    "server.web.coverage",
    "server.web.rounds",
    "server.web.reports",
    "server.web.imports",
    "server.web.admin",
]


def register_blueprints(app: Flask) -> None:
    for name in FEATURES:
        importlib.import_module(name).init_app(app)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ServiceError, _service_error)


def _http_error(err: HTTPException):
    """JSON for the API, a small page for people; never a stack trace."""
    if request.path.startswith("/api/"):
        return jsonify(error=err.name, message=err.description, status=err.code), err.code
    return render_template("error.html", error=err), err.code


def _service_error(err: ServiceError):
    """A refused request on a page: the error page, in the reader's language. (The JSON API and
    OpenRosa answer in their own formats: server.api and server.openrosa register theirs.)"""
    db.session.rollback()  # a refusal writes nothing, even when it came after a flush
    log_server_fault(err)
    shown = default_exceptions.get(err.status, InternalServerError)(err.localized())
    return render_template("error.html", error=shown), err.status
