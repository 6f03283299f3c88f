"""The gettext catalogues (issue 12, item 3): every string of the sources has its Chinese, the
committed .mo files are the .po compiled, no JSON catalogue is left unfolded, and the locale
rules hold through Flask-Babel.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from string import Formatter

import flask_babel
import pytest
from babel.messages.mofile import read_mo
from werkzeug.exceptions import default_exceptions

from server import i18n_tools
from server.access import PUBLIC, allow
from server.i18n import catalogue, translate
from server.i18n_tools import DOMAINS, LOCALES, compiled, extract, po_path, read_catalogue
from server.models import Role
from server.models.submissions import PROCESSING_STATES, REVIEW_STATES

#: Strings shown as they are in Chinese too (proper names, codes); none needed so far.
UNTRANSLATED: set[str] = set()


def _words(text: str) -> str:
    """The text without its placeholders: nothing to translate in "{reason}"."""
    return "".join(literal for literal, *_ in Formatter().parse(text)).strip()


def _fields(text: str) -> set[str]:
    return {f"{name}!{conv}:{spec}" for _, name, spec, conv in Formatter().parse(text) if name}


@pytest.fixture(scope="module")
def extracted() -> dict[str, object]:
    """What Babel's extraction finds in the sources now (not the committed .pot)."""
    return {domain: extract(domain) for domain in DOMAINS}


@pytest.mark.parametrize("domain", list(DOMAINS))
@pytest.mark.parametrize("locale", LOCALES)
def test_every_string_of_the_sources_has_its_translation(extracted, domain, locale):
    po = read_catalogue(po_path(locale, domain), locale)
    missing, wrong = [], []
    for message in extracted[domain]:
        if not message.id or not _words(message.id) or message.id in UNTRANSLATED:
            continue
        where = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
        found = po.get(message.id)
        if found is None or not found.string or found.fuzzy:
            missing.append(f"{where}: {message.id!r}")
        elif _fields(found.string) != _fields(message.id):
            wrong.append(f"{where}: {message.id!r} -> {found.string!r}")
    hint = "run `python -m server.i18n_tools update` and translate them in the .po"
    assert not missing, f"{len(missing)} without a translation ({hint}):\n" + "\n".join(missing)
    assert not wrong, "placeholders differ from the English:\n" + "\n".join(wrong)
    assert len(list(extracted[domain])) > (400 if domain == "messages" else 40)


def test_no_json_catalogue_is_left_unfolded():
    """The app reads only the .po (compiled): a JSON catalogue someone added is folded in."""
    left = sorted(str(p.relative_to(i18n_tools.ROOT))
                  for p in i18n_tools.CATALOGUE_DIR.rglob("*.json"))
    assert not left, f"run `python -m server.i18n_tools fold-json` to fold in {left}"


@pytest.mark.parametrize("po", sorted(i18n_tools.CATALOGUE_DIR.glob("*/LC_MESSAGES/*.po")),
                         ids=lambda p: p.name)
def test_the_committed_mo_is_the_po_compiled(po):
    fresh = read_mo(io.BytesIO(compiled(read_catalogue(po))))
    committed = read_mo(io.BytesIO(po.with_suffix(".mo").read_bytes()))
    as_dict = lambda c: {m.id: m.string for m in c if m.id}  # noqa: E731
    assert as_dict(committed) == as_dict(fresh), "run `python -m server.i18n_tools compile`"


SOURCE = '''
from server.i18n import N_, gettext as _
from server.services.errors import ServiceError
from server.services.imports import ImportRefused
from server.services.users import UserError

LABELS = {"a": N_("Marked where defined")}

def view(app, err, name):
    add_home_link(app, "x.index", "A home link")
    flash(_("Saved {name}.", name=name))
    translate("Said outside a request", "en")
    raise UserError("no user {username!r}", username=name)

def other(err):
    raise ImportRefused("a reason of the gis library")  # its reason, not a message: English

class MineError(ServiceError):
    def __init__(self, codes):
        super().__init__("codes {codes} refused", codes=codes)

def more(err):
    raise MineError(["literal codes are no message"])
'''


def test_the_extractor_takes_service_error_messages():
    from babel.messages.extract import DEFAULT_KEYWORDS, extract

    options = {"keywords": {"translate": None, "N_": None, "add_home_link": (3,)}}
    keywords = {**DEFAULT_KEYWORDS, **options["keywords"]}
    found = [m for _, m, _, _ in extract(i18n_tools.extract_python, io.BytesIO(SOURCE.encode()),
                                         keywords=keywords)]
    assert sorted(found) == sorted([
        "Marked where defined", "A home link", "Saved {name}.", "Said outside a request",
        "no user {username!r}", "codes {codes} refused"])


def test_fold_json_folds_every_leftover_and_deletes_it(tmp_path, monkeypatch):
    """Another branch's new JSON strings land in the .po (and the .mo); a string the sources
    no longer use is kept as obsolete; a different translation of one the .po has is listed,
    and replaces it with --prefer-json."""
    copy = tmp_path / "translations"
    shutil.copytree(i18n_tools.CATALOGUE_DIR, copy)
    monkeypatch.setattr(i18n_tools, "CATALOGUE_DIR", copy)
    po = po_path(LOCALES[0], "messages")
    catalog = read_catalogue(po, LOCALES[0])
    catalog.get("No geotag").string = ""  # as if a branch had added it to a JSON file only
    i18n_tools.write_catalogue(catalog, po)
    app_catalog = read_catalogue(po_path(LOCALES[0], "app"), LOCALES[0])
    app_catalog.get("Send now").string = ""
    i18n_tools.write_catalogue(app_catalog, po_path(LOCALES[0], "app"))
    (copy / "zh_CN").mkdir()
    (copy / "zh_CN" / "newer.json").write_text(json.dumps({
        "No geotag": "没有定位", "A string nobody uses": "没人用的字符串",
        "Poor GPS accuracy": "另一种译法"}, ensure_ascii=False), "utf-8")
    (copy / "zh_CN" / "app.json").write_text(json.dumps({"Send now": "马上发送"}), "utf-8")

    notes = i18n_tools.fold_json()

    assert not list(copy.rglob("*.json")) and not (copy / "zh_CN").exists()
    folded = read_catalogue(po, LOCALES[0])
    assert folded.get("No geotag").string == "没有定位"
    assert folded.obsolete["A string nobody uses"].string == "没人用的字符串"
    assert folded.get("Poor GPS accuracy").string != "另一种译法"
    assert any("另一种译法" in n for n in notes), notes
    mo = {m.id: m.string for m in read_mo(io.BytesIO(po.with_suffix(".mo").read_bytes()))
          if m.id}
    assert mo["No geotag"] == "没有定位"
    app_po = read_catalogue(po_path(LOCALES[0], "app"), LOCALES[0])
    assert app_po.get("Send now").string == "马上发送"

    (copy / "zh_CN").mkdir()
    (copy / "zh_CN" / "newer.json").write_text(
        json.dumps({"Poor GPS accuracy": "另一种译法"}, ensure_ascii=False), "utf-8")
    i18n_tools.fold_json(prefer_json=True)
    assert read_catalogue(po, LOCALES[0]).get("Poor GPS accuracy").string == "另一种译法"


def test_codes_shown_in_words_are_all_in_the_catalogue():
    """Roles and states are shown with _(code): each is marked in server/words.py."""
    from server import words

    assert {r.value for r in Role} <= set(words.ROLES)
    assert set(REVIEW_STATES) <= set(words.REVIEW_STATES)
    assert set(PROCESSING_STATES) <= set(words.PROCESSING_STATES)


def test_werkzeug_error_texts_are_all_marked():
    from server.web.http_words import WORDS

    texts = {t for e in default_exceptions.values() for t in (e().name, e.description)}
    assert texts <= set(WORDS), "Werkzeug's texts changed: update server/web/http_words.py"


def test_each_request_has_its_own_locale_through_flask_babel(app, client, login):
    """Flask-Babel keeps its locale in g, which tests share between requests: each request
    still selects its own (?lang=, user setting, cookie, default)."""
    seen = {}

    @app.get("/_locale")
    @allow(PUBLIC)
    def _locale():
        seen["babel"] = str(flask_babel.get_locale())
        return translate("No geotag")

    assert client.get("/_locale").get_data(as_text=True) == "无定位"
    assert seen["babel"] == "zh_Hans_CN"
    assert client.get("/_locale?lang=en").get_data(as_text=True) == "No geotag"
    assert seen["babel"] == "en"
    assert client.get("/_locale").get_data(as_text=True) == "No geotag"  # the cookie
    client.delete_cookie("lang")
    user = login(Role.COORDINATOR)
    user.locale = "en"
    from server.extensions import db

    db.session.commit()
    assert client.get("/_locale").get_data(as_text=True) == "No geotag"  # the user's setting
    assert client.get("/_locale?lang=zh_CN").get_data(as_text=True) == "无定位"
    # Outside a request: the default locale, or the one asked for.
    assert translate("No geotag") == "无定位"
    assert translate("No geotag", "en") == "No geotag"
    assert translate("Saved {name}.", "zh_CN", name="x") == "Saved x."  # unknown id: English


def test_the_phone_app_gets_its_catalogue_in_chinese_only(app):
    zh = catalogue("zh_CN")
    assert zh["Send now"] and zh["Send now"] != "Send now" and "" not in zh
    assert catalogue("en") == {}
    assert "Coverage statistics" not in zh  # the pages' strings stay in "messages"


def test_a_catalogue_file_is_where_flask_babel_looks(app):
    assert Path(po_path("zh_Hans_CN", "messages")).exists()
    with app.test_request_context("/?lang=zh_CN"):
        assert flask_babel.gettext("No geotag") == "无定位"
