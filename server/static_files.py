"""Static files served as the ecosystem does, by WhiteNoise in front of the Flask app.

- The build writes every file of the phone app compressed beside it (`x.js.br`, `x.js.gz`, the
  Vite plugin in server/client/vite.config.js); WhiteNoise sends the one the browser's
  `Accept-Encoding` asks for (with `Vary: Accept-Encoding`), so nothing is compressed per request.
- Content-hashed files (`/static/app/assets/name-HASH.ext`) never change under their name:
  `Cache-Control: max-age=31536000, public, immutable`, so a repeat visit asks for none of them.
- Everything else under /static/ (site.css, page scripts: not hashed) is `no-cache`: the browser
  keeps it and revalidates it (ETag / Last-Modified answer 304), so an upgrade shows at once.
- The headers every response carries (`nosniff`, a Content-Security-Policy) are added here too,
  since WhiteNoise answers before Flask's after_request hooks would.

WhiteNoise reads the folder once at start-up (a file built later is served by Flask's own static
route, uncompressed and `no-cache`, until the next start); with DEBUG it looks on every request.
"""

from __future__ import annotations

import re

from flask import Flask
from whitenoise import WhiteNoise

from server.headers import CSP, policy, tile_source

YEAR = 365 * 24 * 60 * 60

#: Vite's output names: assets/<name>-<8 characters of hash>.<ext>
HASHED = re.compile(r"^/static/app/assets/[^/]+-[A-Za-z0-9_-]{8}\.\w+$")


class _StaticFiles(WhiteNoise):
    FOREVER = YEAR  # WhiteNoise's default is ten years; a year is the HTTP convention


def is_hashed(path: str, url: str) -> bool:
    """True for a file whose name carries its content's hash (safe to keep for a year)."""
    return bool(HASHED.match(url))


def init_app(app: Flask) -> None:
    """Answer /static/ from the folder before the request reaches Flask."""
    csp = policy(None, tile_source(app.config["BASEMAP_TILE_URL"]))

    def add_headers(headers, path: str, url: str) -> None:
        if not is_hashed(path, url):
            headers["Cache-Control"] = "no-cache"
        headers["X-Content-Type-Options"] = "nosniff"
        headers[CSP] = csp

    app.wsgi_app = _StaticFiles(  # type: ignore[method-assign]
        app.wsgi_app,
        root=app.static_folder,
        prefix=app.static_url_path,
        autorefresh=app.debug,
        max_age=None,
        allow_all_origins=False,
        immutable_file_test=is_hashed,
        add_headers_function=add_headers,
    )
