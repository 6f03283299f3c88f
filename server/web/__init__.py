"""Server-rendered pages, one blueprint per feature."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


def register_blueprints(app: Flask) -> None:
    from server.web import auth, home

    app.register_blueprint(auth.bp)
    app.register_blueprint(home.bp)
    app.register_error_handler(HTTPException, _http_error)


def _http_error(err: HTTPException):
    """JSON for the API, a small page for people; never a stack trace."""
    if request.path.startswith("/api/"):
        return jsonify(error=err.name, message=err.description, status=err.code), err.code
    return render_template("error.html", error=err), err.code
