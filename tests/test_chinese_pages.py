"""A Chinese page has no English words but proper names and codes (issue 12, item 3).

Every page of every role (the same walk as the 360 px browser test: the url_map and the access
rules), rendered in zh_CN on the demo township with a registered household, read as a person
reads it: text and the attributes shown (title, placeholder, aria-label, alt, button values).
A word of Latin letters that is not a proper name or a unit below fails the test, with its page.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Building, Form, FormVersion, Phase, Round, User
from server.services import demo, device_links, scope
from server.services.forms import lifecycle
from server.services.processing import pipeline
from tests.browser.test_every_page_at_360 import LINKED_FROM, MAY_BE_EMPTY, USERS, pages_by_role
from tests.support.data_out import PEOPLE, household_values
from tests.support.xforms import build_instance

#: Words a Chinese reader sees as they are: names of products, formats and standards, units,
#: and the name of the other language on the language switch.
ALLOWED = {
    "Doorstep", "English", "ODK", "Collect", "Web", "Forms", "OpenRosa", "XLSForm", "XForm",
    "GPS", "ID", "CSV", "XLSX", "xlsx", "xls", "csv", "md", "zip", "GeoJSON", "GeoPackage",
    "Shapefile", "WKT", "PNG", "QR", "URL", "API", "OData", "JSON", "Excel", "Power", "BI",
    "WGS", "HTTP", "HTTPS", "JavaScript", "ISO", "PDF", "m", "km", "MB", "KB", "px", "UTC",
    "UUID", "pt",  # percentage points on the reports (个百分点 would be better)
    # what people type, quoted in a sentence: the command that serves, HTTP headers
    "doorstep", "serve", "Authorization", "Bearer", "Basic",
}
#: Attributes a person reads (or hears from a screen reader).
SHOWN_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}
#: Shown as code, not words: ids, URLs, commands.
CODE_TAGS = {"script", "style", "template", "code", "pre", "kbd", "samp"}
#: A word of Latin letters only, not part of a code ("login.failed", "Asia/Shanghai", a URL).
WORD = re.compile(r"(?<![\w.@/:=-])[A-Za-z]+(?![\w@/:=-])(?!\.\w)")
TOKEN = re.compile(r"[^\s,，。：;；()（）\[\]「」《》«»·|]+")


class ShownText(HTMLParser):
    """The text of a page as shown: no scripts, styles, code or hidden inputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in CODE_TAGS:
            self._skip += 1
        attrs = dict(attrs)
        self.parts += [v for k, v in attrs.items() if k in SHOWN_ATTRIBUTES and v]
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in CODE_TAGS and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data)


def latin_words(page: str, data: set[str]) -> set[str]:
    """English words on a page: Latin-letter words that are neither allowed nor data."""
    parser = ShownText()
    parser.feed(page)
    found = set()
    for part in parser.parts:
        for token in TOKEN.findall(part):
            if token in data or any(c.isdigit() for c in token):
                continue  # a code, a username, a file name: data, not the page's words
            found.update(w for w in WORD.findall(token) if w not in ALLOWED)
    return found


@pytest.fixture
def demo_with_household(app) -> dict[str, str]:
    """The demo township and one household of two persons registered in a coordinator's
    street, so the register pages show persons, households and their properties."""
    accounts = {u: p for u, _, p in demo.load_demo(buildings=60, seed=7)}
    coordinator = db.session.scalar(sa.select(User).where(User.username == USERS["coordinator"]))
    street = db.session.get(Area, min(scope.street_ids(coordinator)))
    building = db.session.scalar(sa.select(Building).where(Building.street_id == street.id))
    token = device_links.create(coordinator, device_links.COLLECT)
    db.session.commit()
    version = next(v for v in lifecycle.publish_township() if v.form.xml_form_id == "household")
    db.session.commit()
    xml = build_instance(version.xform, household_values(
        "H1", building.code, street.code, PEOPLE[:2], "rented"))
    response = app.test_client().post(
        f"/o/{token}/submission", headers={"X-OpenRosa-Version": "1.0"},
        data={"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")},
        content_type="multipart/form-data")
    assert response.status_code == 201, response.data
    assert pipeline.process_pending()["error"] == 0
    return accounts


def _data_words() -> set[str]:
    """Words of the data, not of the pages: usernames, area codes and names, forms' ids,
    titles and field names, phase and round names (people type them; the forms' field names
    stand where the submission page has no question labels yet), the test client's host."""
    texts = list(db.session.scalars(sa.select(User.username)))
    texts += [t for row in db.session.execute(sa.select(Area.code, Area.name_en)) for t in row]
    texts += [t for row in db.session.execute(sa.select(Form.xml_form_id, Form.title)) for t in row]
    texts += [*db.session.scalars(sa.select(Phase.name)), "localhost"]
    texts += db.session.scalars(sa.select(Round.name))
    for xform in db.session.scalars(sa.select(FormVersion.xform)):
        texts += re.findall(r"<(?:\w+:)?(\w+)[\s/>]", xform)
    return {w for t in texts if t for w in re.findall(r"[A-Za-z]+", t)}


@pytest.mark.parametrize("role", list(USERS))
def test_a_chinese_page_shows_no_english_words(app, demo_with_household, role, tmp_path):
    username = USERS[role]
    client = app.test_client()
    response = client.post("/login", data={"username": username,
                                           "password": demo_with_household[username]})
    assert response.status_code == 302
    data = _data_words()
    english: dict[str, set[str]] = defaultdict(set)
    for target in pages_by_role(tmp_path / "routes")[role]:
        if target.startswith("/"):
            url = target
        else:
            listing, pattern = LINKED_FROM[target]
            page = client.get(listing).get_data(as_text=True)
            links = [h for h in re.findall(r'href="([^"]+)"', page) if re.search(pattern, h)]
            if not links and target in MAY_BE_EMPTY:
                continue
            assert links, f"{role}: no link to {target} on {listing}"
            url = links[0]
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        for word in latin_words(response.get_data(as_text=True), data):
            english[word].add(url)
    listing = "\n".join(f"{w}: {sorted(urls)[:3]}" for w, urls in sorted(english.items()))
    assert not english, f"English words on {role}'s Chinese pages:\n{listing}"


def test_the_check_sees_english():
    page = ('<p title="Close the map">地图 <b>Unvisited</b> XY02-01 GPS 10 m login.failed '
            'form_id=household '
            'Asia/Shanghai <code>/o/token</code> xieguan01 Done.</p>'
            '<script>var english = "ignored";</script><input type="hidden" value="hidden">')
    assert latin_words(page, set()) == {"Close", "the", "map", "Unvisited", "Done"}
