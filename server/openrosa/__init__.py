"""OpenRosa 1.0 server for ODK Collect and the phone app.

Every endpoint exists twice: under `/o/<device_token>/` (the coordinator's revocable URL, no
password needed) and under `/o/` with HTTP Basic (a coordinator's username and password).
Texts followed: OpenRosa HTTP Request API (headers), Form List API, Form Submission API.
"""

from __future__ import annotations

from flask import Flask

from server.openrosa import device, draft, returned, views  # noqa: F401 (routes register on import)
from server.openrosa.blueprint import bp
from server.web.home import add_home_link


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    add_home_link(app, "openrosa.device", "ODK Collect / phone setup")
