"""A lean request cycle for a phone's submission POST: the app-wide hooks that cannot act on it
are skipped, and the fixed headers they would add are added directly.

Every request runs the app-wide before/after_request hooks (body limits, access rules, CSRF,
NUL refusal, the locale, compression, the remember-me cookie, nosniff and the CSP). For a
submission POST as phones send it — no cookie, no Origin or Referer, no query string, a
multipart body — each of them provably does nothing but add the same headers, yet together
with building those headers (the CSP string) they were about a sixth of the server's CPU per
submission (tests/bench/RESULTS.md). A view marked `@lean` gets, for such a request:

- before: the locale refresh only (the access rule is DEVICE, checked here; CSRF, body and NUL
  checks have nothing to refuse in a request of that shape);
- after: its blueprint's own hooks, then — for an answer below compression's minimum size,
  which compression leaves as it is — `Vary: Accept-Encoding, Cookie`, nosniff and the CSP,
  exactly as the skipped hooks write them. A larger answer goes through every hook as usual.

Any other request to the view (a cookie, an Origin, a query, another body) takes the full
cycle. The app-wide hooks are listed here by name: if the app has any other, the lean cycle is
off (a hook added later could be one a submission needs) until it is looked at and listed.
tests/openrosa/test_lean_cycle.py compares both cycles' answers byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from flask import Flask, Response, request
from flask.globals import request_ctx

from server import access, headers

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
LEAN_ATTR = "_doorstep_lean"
ENV_KEY = "doorstep.lean"

#: The app-wide hooks the lean cycle accounts for (module.qualname), in registration order.
KEPT_BEFORE = ("server.i18n._fresh_locale",)
SKIPPED_BEFORE = (
    "server.bodies._limit_plain_bodies",  # multipart bodies are their readers' to bound
    "server.access._check",  # DEVICE: the view authenticates
    "server.csrf._check_origin",  # no Origin or Referer: not from a page
    "server.params._refuse_nul",  # no NUL in the path, no query, neither JSON nor a form
)
REPLACED_AFTER = (
    "flask_compress.flask_compress.Compress.after_request",  # Vary; a small body stays as is
    "flask_login.login_manager.LoginManager._update_remember_cookie",  # no session: touches it
    "server.i18n._remember_locale",  # no ?lang=
    "server.headers._add_headers",  # nosniff, the CSP
)


def lean(view: F) -> F:
    """Mark a view (an `@allow(DEVICE)` one) for the lean cycle."""
    setattr(view, LEAN_ATTR, True)
    return view


def _name(func: Callable) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def hooks_known(app: Flask) -> bool:
    """True if the app-wide hooks are exactly those this module accounts for."""
    before = tuple(_name(f) for f in app.before_request_funcs.get(None, ()))
    after = tuple(_name(f) for f in app.after_request_funcs.get(None, ()))
    return (sorted(before) == sorted(KEPT_BEFORE + SKIPPED_BEFORE)
            and sorted(after) == sorted(REPLACED_AFTER)
            and not app.url_value_preprocessors.get(None))


@lru_cache(maxsize=8)
def _csp(tile_url: str) -> str:
    """The policy _add_headers writes for an answer without a nonce (built once per URL)."""
    return headers.policy(None, headers.tile_source(tile_url))


class App(Flask):
    """Flask with the lean cycle (see the module's docstring)."""

    _lean_on: bool | None = None

    def _lean_request(self) -> bool:
        if self._lean_on is None:
            self._lean_on = hooks_known(self)
            if not self._lean_on:
                log.warning("lean submission cycle off: the app-wide hooks are not the ones "
                            "server.lean accounts for")
        if not self._lean_on:
            return False
        view = self.view_functions.get(request.endpoint or "")
        env = request.environ
        return (getattr(view, LEAN_ATTR, False) and access.rule_for(request.endpoint, self)
                == access.DEVICE and request.method == "POST" and not env.get("HTTP_COOKIE")
                and not env.get("HTTP_ORIGIN") and not env.get("HTTP_REFERER")
                and not env.get("QUERY_STRING") and "\x00" not in request.path
                and request.mimetype == "multipart/form-data"
                and not self.config["REMEMBER_COOKIE_REFRESH_EACH_REQUEST"])

    def preprocess_request(self) -> Any:
        if not self._lean_request():
            return super().preprocess_request()
        request.environ[ENV_KEY] = True
        for func in self.before_request_funcs.get(None, ()):
            if _name(func) in KEPT_BEFORE:
                func()
        for name in reversed(request.blueprints):
            for func in self.before_request_funcs.get(name, ()):
                rv = self.ensure_sync(func)()
                if rv is not None:
                    return rv
        return None

    def process_response(self, response: Response) -> Response:
        if not request.environ.get(ENV_KEY):
            return super().process_response(response)
        ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        for name in request.blueprints:
            for func in reversed(self.after_request_funcs.get(name, ())):
                response = self.ensure_sync(func)(response)
        size = response.content_length
        if (size is not None and size < self.config["COMPRESS_MIN_SIZE"]
                and "doorstep.csp" not in request.environ):
            _fixed_headers(response, self.config["BASEMAP_TILE_URL"])
            ctx.session  # noqa: B018 — the remember-me hook reads it (Vary: Cookie)
        else:
            for func in reversed(self.after_request_funcs.get(None, ())):
                response = self.ensure_sync(func)(response)
        if not self.session_interface.is_null_session(ctx._session):
            self.session_interface.save_session(self, ctx._session, response)
        return response


def _fixed_headers(response: Response, tile_url: str) -> None:
    """What headers._add_headers and then compression (of a body below its minimum size)
    write."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    if headers.CSP not in response.headers:
        response.headers[headers.CSP] = _csp(tile_url)
    vary = response.headers.get("Vary")
    if not vary:
        response.headers["Vary"] = "Accept-Encoding"
    elif "accept-encoding" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Accept-Encoding"

