"""Chinese first, English available: gettext catalogues through Flask-Babel.

The English text is the message id; the Chinese lives in
`translations/<locale>/LC_MESSAGES/messages.po` (the pages, messages and errors) and `app.po`
(the phone app's strings, sent with its shell), compiled to `.mo` and committed, so a fresh clone
runs without a build step. Placeholders are `{name}` (python-brace-format, as pybabel marks
them), filled after translation. `python -m server.i18n_tools` extracts, updates and compiles
(CONTRIBUTING.md); tests/test_i18n.py fails on a string without its Chinese.

Locale: ?lang= (remembered in a cookie), then the user's setting, then the cookie, then
DEFAULT_LOCALE (zh_CN): `current_locale()`, Flask-Babel's locale selector. Missing ids fall back
to English, so nothing renders blank.
"""

from __future__ import annotations

import gettext as gnu_gettext
from functools import cache
from pathlib import Path

from flask import Flask, current_app, has_app_context, has_request_context, request
from flask_login import current_user

LOCALES = ("zh_CN", "en")
CATALOGUE_DIR = Path(__file__).parent / "translations"
#: The pages, messages and errors; the phone app's strings (sent with its shell).
DOMAIN, APP_DOMAIN = "messages", "app"
_ENV_KEY = "doorstep.locale"


def N_(text: str) -> str:
    """Marks a string for the catalogue (pybabel extract) where it is defined; the page that
    shows it translates it then (gettext_noop)."""
    return text


@cache
def catalogue_name(locale: str) -> str:
    """The folder Babel looks in: "zh_CN" parses as zh_Hans_CN (Babel adds the script)."""
    from babel import Locale, UnknownLocaleError  # Babel loads with the first translation

    try:
        return str(Locale.parse(locale))
    except (ValueError, UnknownLocaleError):
        return locale


@cache
def translations(locale: str, domain: str = DOMAIN) -> gnu_gettext.NullTranslations:
    """The compiled catalogue of `locale` outside a request (English, and unknown locales:
    none, the ids show). The same .mo Flask-Babel reads, through the standard library."""
    return gnu_gettext.translation(domain, CATALOGUE_DIR, [catalogue_name(locale)],
                                   fallback=True)


def _default_locale() -> str:
    return current_app.config["DEFAULT_LOCALE"] if has_app_context() else LOCALES[0]


def current_locale() -> str:
    """The request's locale (cached per request, not per app context: tests share one)."""
    if not has_request_context():
        return _default_locale()
    cached = request.environ.get(_ENV_KEY)
    if cached:
        return cached
    wanted = request.args.get("lang") or ""
    if wanted not in LOCALES and current_user and current_user.is_authenticated:
        wanted = current_user.locale or ""
    if wanted not in LOCALES:
        wanted = request.cookies.get("lang", "")
    if wanted not in LOCALES:
        wanted = _default_locale()
    request.environ[_ENV_KEY] = wanted
    return wanted


def translate(text: str, locale: str | None = None, **values: object) -> str:
    """`text` in `locale` (default: the request's, through Flask-Babel), `{name}` filled in."""
    if locale is None and has_request_context():
        import flask_babel  # loaded by init_requests already; the command line never needs it

        catalogue = flask_babel.get_translations()
    else:
        catalogue = translations(locale or _default_locale())
    translated = catalogue.gettext(text) if text else text
    return translated.format(**values) if values else translated


def gettext(text: str, **values: object) -> str:
    """The request's translation of `text` (`_` in Python and in templates)."""
    return translate(text, None, **values)


def catalogue(locale: str, domain: str = APP_DOMAIN) -> dict[str, str]:
    """Every translation of a domain as {English: translated}: the phone app's, for its shell."""
    found = getattr(translations(locale, domain), "_catalog", {})  # GNUTranslations' table
    return {k: v for k, v in found.items() if isinstance(k, str) and k}


def _fresh_locale() -> None:
    """Flask-Babel keeps the locale in g, which outlives a request when the app context does
    (tests): each request selects its own."""
    import flask_babel  # (see init_requests)

    flask_babel.refresh()


def _remember_locale(response):
    wanted = request.args.get("lang")
    if wanted in LOCALES:
        response.set_cookie("lang", wanted, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def init_app(app: Flask) -> None:
    """Our own `_` in templates: `{name}` placeholders, not Jinja's newstyle `%` ones. Outside
    a request (commands, the reports they render) it reads the catalogues itself."""
    app.jinja_env.globals.update(_=gettext, gettext=gettext, current_locale=current_locale)


def init_requests(app: Flask) -> None:
    """Flask-Babel chooses each request's locale; the web side of the app only (~80 ms of
    imports that `doorstep --help`, a command and a service never need)."""
    import flask_babel

    flask_babel.Babel(app, configure_jinja=False, locale_selector=current_locale,
                      default_locale=catalogue_name(app.config["DEFAULT_LOCALE"]),
                      default_translation_directories=str(CATALOGUE_DIR),
                      default_domain=DOMAIN, default_timezone=app.config["TIMEZONE"])
    app.before_request(_fresh_locale)
    app.after_request(_remember_locale)
