"""Chinese first, English available: a small JSON catalogue keyed by the English text.

Locale: ?lang= (remembered in a cookie), then the user's setting, then the cookie, then
DEFAULT_LOCALE (zh_CN). Missing keys fall back to English, so nothing renders blank.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from flask import Flask, current_app, has_request_context, request
from flask_login import current_user

LOCALES = ("zh_CN", "en")
CATALOGUE_DIR = Path(__file__).parent / "translations"
_ENV_KEY = "doorstep.locale"


@cache
def _catalogue(locale: str) -> dict[str, str]:
    """One JSON file per feature (translations/<locale>/<feature>.json), merged."""
    merged: dict[str, str] = {}
    for path in sorted((CATALOGUE_DIR / locale).glob("*.json")):
        merged.update(json.loads(path.read_text("utf-8")))
    return merged


def current_locale() -> str:
    if not has_request_context():
        return current_app.config["DEFAULT_LOCALE"]
    cached = request.environ.get(_ENV_KEY)  # per request, not per app context
    if cached:
        return cached
    wanted = request.args.get("lang") or ""
    if wanted not in LOCALES and current_user and current_user.is_authenticated:
        wanted = current_user.locale or ""
    if wanted not in LOCALES:
        wanted = request.cookies.get("lang", "")
    if wanted not in LOCALES:
        wanted = current_app.config["DEFAULT_LOCALE"]
    request.environ[_ENV_KEY] = wanted
    return wanted


def translate(text: str, locale: str | None = None, **values: object) -> str:
    """`text` in `locale` (default: the request's); bilingual answers name both locales."""
    translated = _catalogue(locale or current_locale()).get(text, text)
    return translated.format(**values) if values else translated


def gettext(text: str, **values: object) -> str:
    return translate(text, None, **values)


def _remember_locale(response):
    wanted = request.args.get("lang")
    if wanted in LOCALES:
        response.set_cookie("lang", wanted, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(_=gettext, current_locale=current_locale)
    app.after_request(_remember_locale)
