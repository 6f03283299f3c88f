"""Dynamic answers compressed when the client asks (Flask-Compress): the phone's shell, its forms'
XML and media CSV, the API's JSON. Static files are WhiteNoise's (server/static_files.py, built
compressed); on a Fast-3G phone a form's XML shrinks about five times (issue 12, item 1).

Only answers held whole are compressed: a streamed download (CSV exports, attachments sent from
a file) goes as it is, so its memory stays bounded and its length known.
"""

from __future__ import annotations

from flask import Flask
from flask_compress import Compress

#: what is worth compressing: text the server writes per request
MIMETYPES = [
    "text/html",
    "text/xml",
    "application/xml",
    "text/csv",
    "text/plain",
    "application/json",
    "application/geo+json",
    "application/manifest+json",
    "text/javascript",
]


def init_app(app: Flask) -> None:
    """Registered first, so that its after_request hook runs last, on the final body."""
    app.config.setdefault("COMPRESS_MIMETYPES", MIMETYPES)
    # brotli: what Chromium asks for first; gzip: what any client takes
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_STREAMS", False)
    Compress(app)
