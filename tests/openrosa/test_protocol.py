"""OpenRosa conformance, each test naming the rule it checks.

Texts: OpenRosa HTTP Request API (docs.getodk.org/openrosa-http), Form List API
(docs.getodk.org/openrosa-form-list), Form Submission API
(docs.getodk.org/openrosa-form-submission), and docs/ARCHITECTURE.md "OpenRosa answers" (the answers
ODK Central gives, bettered for malformed XML).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib

import pytest
from defusedxml import ElementTree as DET

from server.extensions import db
from tests.support.app import PASSWORD
from tests.support.household_form import add_household_form

XL = "{http://openrosa.org/xforms/xformsList}"
MF = "{http://openrosa.org/xforms/xformsManifest}"


def _base(user) -> str:
    return f"/o/{user.device_token}"


def test_form_list_document(client, form, coordinator):
    """Form List API: the response is <xforms xmlns="http://openrosa.org/xforms/xformsList">
    with one <xform> per form holding formID, name, version, hash ("md5:" + hex of the form
    definition) and downloadUrl; manifestUrl is omitted when the form has no media."""
    r = client.get(f"{_base(coordinator)}/formList")
    assert r.status_code == 200
    assert r.mimetype == "text/xml"
    root = DET.fromstring(r.data)
    assert root.tag == f"{XL}xforms"
    (item,) = root.findall(f"{XL}xform")
    assert item.findtext(f"{XL}formID") == "hh"
    assert item.findtext(f"{XL}version") == "1"
    assert item.find(f"{XL}manifestUrl") is None
    url = item.findtext(f"{XL}downloadUrl")
    body = client.get(url.removeprefix("http://localhost")).data
    assert item.findtext(f"{XL}hash") == "md5:" + hashlib.md5(body).hexdigest()
    assert body == form.xform.encode()


def test_form_list_lists_only_usable_versions(client, app, coordinator):
    """Form List API: the server tailors the list to the user; here only published versions of
    open forms are listed (drafts, superseded versions and closed forms are not)."""
    add_household_form("1")
    add_household_form("2")  # supersedes 1
    add_household_form("3", state="draft")
    closed = add_household_form("1", form_id="gone")
    closed.form.state = "closed"
    db.session.commit()
    root = DET.fromstring(client.get(f"{_base(coordinator)}/formList").data)
    listed = [(x.findtext(f"{XL}formID"), x.findtext(f"{XL}version"))
              for x in root.findall(f"{XL}xform")]
    assert listed == [("hh", "2")]


def test_form_list_formid_filter(client, app, coordinator):
    """Form List API: "formID — if specified, the server MUST return information for only
    this formID"."""
    add_household_form("1")
    add_household_form("1", form_id="other")
    root = DET.fromstring(client.get(f"{_base(coordinator)}/formList?formID=other").data)
    assert [x.findtext(f"{XL}formID") for x in root] == ["other"]


def test_manifest_and_media_with_etag(client, app, coordinator):
    """Form List API: manifestUrl is present when the form has media; the manifest is
    <manifest xmlns="http://openrosa.org/xforms/xformsManifest"> with filename, hash
    (md5: of the file's content) and downloadUrl per mediaFile. Media answer with an ETag and
    304 on If-None-Match (Collect re-downloads only what changed)."""
    add_household_form("1", media={"streets.csv": b"name,label\nT01-01,One\n"})
    root = DET.fromstring(client.get(f"{_base(coordinator)}/formList").data)
    manifest_url = root.find(f"{XL}xform").findtext(f"{XL}manifestUrl")
    r = client.get(manifest_url.removeprefix("http://localhost"))
    assert r.status_code == 200 and r.headers["X-OpenRosa-Version"] == "1.0"
    mroot = DET.fromstring(r.data)
    assert mroot.tag == f"{MF}manifest"
    (media,) = mroot.findall(f"{MF}mediaFile")
    assert media.findtext(f"{MF}filename") == "streets.csv"
    content = client.get(media.findtext(f"{MF}downloadUrl").removeprefix("http://localhost"))
    assert content.data == b"name,label\nT01-01,One\n"
    digest = hashlib.md5(content.data).hexdigest()
    assert media.findtext(f"{MF}hash") == f"md5:{digest}"
    assert content.headers["ETag"] == f'"{digest}"'
    again = client.get(media.findtext(f"{MF}downloadUrl").removeprefix("http://localhost"),
                       headers={"If-None-Match": f'"{digest}"'})
    assert again.status_code == 304 and again.data == b""


def test_older_version_still_downloadable(client, app, coordinator):
    """Versions: a superseded version is served when asked by ?version= (phones holding it
    still submit); an unknown version is a 404 naming it."""
    add_household_form("1")
    add_household_form("2")
    assert b'version="1"' in client.get(f"{_base(coordinator)}/forms/hh/form.xml?version=1").data
    r = client.get(f"{_base(coordinator)}/forms/hh/form.xml?version=9")
    assert r.status_code == 404 and b"'9'" in r.data


@pytest.mark.parametrize("path", ["formList", "submission", "forms/hh/form.xml",
                                  "forms/hh/manifest"])
def test_every_response_carries_openrosa_headers(client, form, coordinator, path):
    """HTTP Request API: every OpenRosa response carries X-OpenRosa-Version: 1.0 and a Date
    header; X-OpenRosa-Accept-Content-Length tells clients the largest POST accepted."""
    r = client.get(f"{_base(coordinator)}/{path}")
    assert r.status_code in (200, 204)
    assert r.headers["X-OpenRosa-Version"] == "1.0"
    assert r.headers["Date"]
    assert int(r.headers["X-OpenRosa-Accept-Content-Length"]) > 0


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_submission_preflight_is_204(client, coordinator, method):
    """Form Submission API: the client's pre-flight HEAD (GET answered alike) gets 204 No Content
    with X-OpenRosa-Accept-Content-Length, and an empty body."""
    r = client.open(f"{_base(coordinator)}/submission", method=method)
    assert r.status_code == 204 and r.data == b""
    assert r.headers["X-OpenRosa-Accept-Content-Length"]


def test_bad_token_is_403(client, form):
    """docs/ARCHITECTURE.md OpenRosa answers: a bad device token is 403 on every endpoint."""
    for path in ("formList", "submission", "forms/hh/form.xml"):
        assert client.get(f"/o/not-a-token/{path}").status_code == 403


def test_revoked_token_stops_working(client, coordinator, login):
    """A new ODK Collect link invalidates the old one at once (lost phone); revoking ends it."""
    old = coordinator.device_token
    client.post("/login", data={"username": coordinator.username, "password": PASSWORD})
    page = client.post("/me/device", data={"action": "create"})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    new = re.search(r'id="server-url"[^>]*>http://localhost/o/([\w-]+)/<', page.text).group(1)
    assert new != old
    assert client.get(f"/o/{old}/formList").status_code == 403
    assert client.get(f"/o/{new}/formList").status_code == 200
    assert new not in client.get("/me/device").text  # shown once
    client.post("/me/device", data={"action": "revoke"})
    assert client.get(f"/o/{new}/formList").status_code == 403


def test_basic_auth_base(client, form, coordinator, make_user):
    """Authentication API: HTTP Basic on /o/: no credentials -> 401 with a Basic challenge;
    wrong password -> 401; a non-coordinator -> 403; a coordinator -> 200."""
    r = client.get("/o/formList")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    bad = base64.b64encode(f"{coordinator.username}:nope".encode()).decode()
    assert client.get("/o/formList", headers={"Authorization": f"Basic {bad}"}).status_code == 401
    admin = make_user("admin")
    creds = base64.b64encode(f"{admin.username}:{PASSWORD}".encode()).decode()
    assert client.get("/o/formList", headers={"Authorization": f"Basic {creds}"}).status_code == 403
    good = base64.b64encode(f"{coordinator.username}:{PASSWORD}".encode()).decode()
    r = client.get("/o/formList", headers={"Authorization": f"Basic {good}"})
    assert r.status_code == 200
    url = DET.fromstring(r.data)[0].findtext(f"{XL}downloadUrl")
    assert url == "http://localhost/o/forms/hh/form.xml"  # stays under the Basic base


def test_device_page_qr_code_is_collect_settings(client, coordinator):
    """ODK Collect's QR format: base64(zlib(JSON)) with general/admin/project sections, the
    server URL being the new link's token URL; shown in the answer that creates it."""
    from server.openrosa.device import collect_settings, qr_payload, qr_svg

    client.post("/login", data={"username": coordinator.username, "password": PASSWORD})
    r = client.post("/me/device", data={"action": "create"})
    assert r.status_code == 200 and b"<svg" in r.data
    url = re.search(r'id="server-url"[^>]*>([^<]+)<', r.text).group(1)
    payload = qr_payload(collect_settings(coordinator, url))
    decoded = json.loads(zlib.decompress(base64.b64decode(payload)))
    assert decoded["general"]["server_url"] == url.rstrip("/")
    assert decoded["general"]["form_update_mode"] == "match_exactly"
    assert decoded["project"]["name"] == "Doorstep"
    assert qr_svg(payload) in r.text
