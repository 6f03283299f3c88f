"""Wires the features into the app: each feature module has `init_app(app)` that registers its
blueprint, its CLI commands and its home-page links."""

from __future__ import annotations

import importlib

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

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
    "server.web.imports",
    "server.web.admin",
]


def register_blueprints(app: Flask) -> None:
    for name in FEATURES:
        importlib.import_module(name).init_app(app)
    app.register_error_handler(HTTPException, _http_error)


def _http_error(err: HTTPException):
    """JSON for the API, a small page for people; never a stack trace."""
    if request.path.startswith("/api/"):
        return jsonify(error=err.name, message=err.description, status=err.code), err.code
    return render_template("error.html", error=err), err.code
