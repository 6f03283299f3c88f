"""Request bodies are refused from their size before they are read.

Two limits: anything over MAX_CONTENT_LENGTH is refused from its Content-Length (or running
chunked size) before the app reads it (server.body_limit, in front of the app). Below that, a
body that is not multipart/form-data (a login form, a JSON request) is read into memory whole
by Werkzeug's parsers, so it gets the much smaller MAX_PLAIN_BODY_BYTES: measured, 8 parallel
60 MiB posts to /login took the server from 211 to 941 MiB (tests/bench/RESULTS.md). Multipart
bodies (submissions, form and GIS uploads) are streamed, their files spooled to disk.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, current_app, request
from flask.json.provider import DefaultJSONProvider

from server.i18n import gettext as _


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, but a body nested deeper than Python's parser recurses (100,000 × "[",
    well under the size limit) is malformed JSON, a 400, not a RecursionError and a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def _limit_plain_bodies() -> None:
    if request.mimetype == "multipart/form-data":
        return
    limit = min(current_app.config["MAX_PLAIN_BODY_BYTES"],
                current_app.config["MAX_CONTENT_LENGTH"])
    request.max_content_length = limit  # chunked bodies: Werkzeug stops reading past it
    if (request.content_length or 0) > limit:
        abort(413, description=_("The request body is larger than {limit} bytes.", limit=limit))


def init_app(app: Flask) -> None:
    app.json = JSONProvider(app)
    app.before_request(_limit_plain_bodies)
