"""Headers on every response that keep a browser from running what we did not write.

- `X-Content-Type-Options: nosniff`: the browser takes our content type as given, so bytes
  served as an image or a download never become a page.
- `Content-Security-Policy`: scripts only from this site (the Vite bundles) or an inline block
  carrying this response's nonce (`csp_nonce()` in a template); styles likewise, so a page's own
  inline styles live in site.css or a nonce'd <style>. Images may be data: and blob: URLs (photos
  taken in a form, map canvases) and basemap tiles from BASEMAP_TILE_URL's host; no plugins, no
  framing, forms post only here.
- The phone app's shell (`relax_for_web_forms()`) also allows what ODK Web Forms 0.22 needs: it
  compiles its XPath parser to WebAssembly ('wasm-unsafe-eval', loaded from a data: URL) and its
  PrimeVue components insert <style> elements without our nonce ('unsafe-inline' styles there).

A view may set its own policy (an attachment sets a stricter one); this never replaces it.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

CSP = "Content-Security-Policy"


def _state() -> dict:
    """What this request's policy needs, kept with the request (an app context may outlive it)."""
    return request.environ.setdefault("doorstep.csp", {})


def csp_nonce() -> str:
    """This response's nonce for an inline <script> or <style> (made on first use)."""
    state = _state()
    if "nonce" not in state:
        state["nonce"] = secrets.token_urlsafe(18)
    return state["nonce"]


def relax_for_web_forms() -> None:
    """Mark this response as the phone app's shell, which runs ODK Web Forms."""
    _state()["web_forms"] = True


def tile_source(url: str) -> str:
    """The CSP source of a tile URL template: its origin, '{s}'-style subdomains as '*.'."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    host = parts.netloc.rsplit("@", 1)[-1]
    if "{" in host:
        first, _, rest = host.partition(".")
        if "{" in rest or not rest:
            return f"{parts.scheme}:"
        host = "*." + rest if re.fullmatch(r"[\w-]*\{[^}]*\}[\w-]*", first) else host
    return f"{parts.scheme}://{host}"


def policy(nonce: str | None, tiles: str = "", web_forms: bool = False) -> str:
    """The Content-Security-Policy header value for one response."""
    with_nonce = [f"'nonce-{nonce}'"] if nonce else []
    script = ["'self'", *with_nonce]
    style = ["'self'", *with_nonce]
    connect = ["'self'"]
    if web_forms:
        script.append("'wasm-unsafe-eval'")
        style = ["'self'", "'unsafe-inline'"]  # a nonce would switch 'unsafe-inline' off
        connect.append("data:")
    images = ["'self'", "data:", "blob:", *([tiles] if tiles else [])]
    if tiles:
        connect.append(tiles)
    directives = {
        "default-src": ["'self'"],
        "script-src": script,
        "style-src": style,
        "img-src": images,
        "media-src": ["'self'", "data:", "blob:"],
        "connect-src": connect,
        "worker-src": ["'self'", "blob:", *(["data:"] if web_forms else [])],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _add_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    if CSP not in response.headers:
        state = _state()
        response.headers[CSP] = policy(
            state.get("nonce"), tile_source(current_app.config["BASEMAP_TILE_URL"]),
            web_forms=state.get("web_forms", False))
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
