"""Cross-site request forgery: refuse state-changing requests that a browser sent from
another site.

Browsers attach the page's origin to every cross-site POST (the `Origin` header, else
`Referer`), and session cookies are SameSite=Lax; checking that origin against our own host
stops a foreign page from using a logged-in supervisor's session, without tokens in every form.
Requests without either header come from programs (ODK Collect, scripts), not from pages.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, request

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _host_of(url: str) -> str:
    """host[:port] only: behind a TLS-terminating proxy the scheme we see is not the browser's."""
    return urlsplit(url).netloc.lower()


def _check_origin() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    sender = request.headers.get("Origin") or request.headers.get("Referer")
    if not sender or (sender == "null" and not request.cookies):
        return
    if _host_of(sender) != request.host.lower():
        abort(403, description="Cross-site request refused: send it from this site's own pages.")


def init_app(app: Flask) -> None:
    app.before_request(_check_origin)
