"""Upload -> draft -> publish -> supersede -> close, through the page, the API and the CLI."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from forms import xform_md5
from server.extensions import db
from server.models import Form, FormMedia, FormVersion, Role
from server.services.forms import lifecycle as service
from tests.support.paths import TOWNSHIP
from tests.support.township import TOWNSHIP_FORMS, township_file, township_version
from tests.support.xforms import pyxform_reference


def _post_file(client, url: str, name: str, data: bytes, media=()):
    payload = {"file": (io.BytesIO(data), name)}
    if media:
        payload["media"] = [(io.BytesIO(c), n) for n, c in media]
    return client.post(url, data=payload, content_type="multipart/form-data")


@pytest.mark.parametrize("name", TOWNSHIP_FORMS)
def test_township_form_through_the_page(client, login, name):
    login(Role.DESIGNER)
    path = township_file(name)
    reference = pyxform_reference(path)

    response = _post_file(client, "/forms/upload", path.name, path.read_bytes())
    assert response.status_code == 302, response.data
    assert response.headers["Location"].endswith(f"/forms/{name}")
    v = township_version(name)
    version = service.find_version(name, v)
    assert version.state == "draft" and version.form.state == "draft"
    page = client.get(f"/forms/{name}")
    assert page.status_code == 200 and v.encode() in page.data

    response = client.post(f"/forms/{name}/versions/{v}/publish")
    assert response.status_code == 302
    db.session.expire_all()
    assert service.find_version(name, None).version == v
    assert service.get_form(name).state == "published"

    xml = client.get(f"/forms/{name}/versions/{v}/xform.xml")
    assert xml.status_code == 200
    assert xml.data.decode("utf-8") == reference
    xls = client.get(f"/forms/{name}/versions/{v}/xlsform")
    assert xls.data == path.read_bytes()


@pytest.mark.parametrize("name", TOWNSHIP_FORMS)
def test_township_form_through_the_api(client, login, name):
    login(Role.ADMIN)
    path = township_file(name)
    response = _post_file(client, "/api/v1/forms", path.name, path.read_bytes())
    assert response.status_code == 201, response.json
    body = response.json
    assert body["form_id"] == name and body["uploaded"]["state"] == "draft"
    v = township_version(name)
    assert body["uploaded"]["hash"] == service.find_version(name, v).md5
    assert body["uploaded"]["hash"].startswith("md5:")

    response = client.post(f"/api/v1/forms/{name}/publish")
    assert response.status_code == 200 and response.json["state"] == "published"
    assert response.json["current_version"] == v

    xml = client.get(f"/api/v1/forms/{name}/versions/{township_version(name)}.xml")
    assert xml.status_code == 200 and xml.mimetype == "text/xml"
    assert xml.data.decode("utf-8") == pyxform_reference(path)
    assert client.get(f"/api/v1/forms/{name}").json["versions"][0]["state"] == "published"
    assert name in [f["form_id"] for f in client.get("/api/v1/forms").json["forms"]]


def test_township_forms_through_the_cli(runner, client, login):
    for name in TOWNSHIP_FORMS:
        result = runner.invoke(args=["forms", "publish", str(township_file(name))])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"{name} {township_version(name)} published md5:")
    login(Role.DESIGNER)
    for name in TOWNSHIP_FORMS:
        xml = client.get(f"/api/v1/forms/{name}/versions/{township_version(name)}.xml")
        assert xml.data.decode("utf-8") == pyxform_reference(township_file(name))
    # Publishing the same file again is a no-op, not an error.
    again = runner.invoke(args=["forms", "publish", str(township_file("household"))])
    assert again.exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count(FormVersion.id))) == len(TOWNSHIP_FORMS)


def test_cli_bad_form_is_one_line_and_exit_1(runner, tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("| choices |\n| | list_name | name | label |\n| | a | b | c |\n")
    result = runner.invoke(args=["forms", "publish", str(bad)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "DS101" in lines[0] and "survey" in lines[0]
    assert db.session.scalar(sa.select(sa.func.count(Form.id))) == 0


FORM_MD = """
| survey |
| | type | name | label |
| | text | q1 | {label} |
| | image | pic | Picture |
| | note | logo | Logo |
| settings |
| | form_id | version |
| | lifecycle | {version} |
"""


def _md(label: str = "Question", version: str = "1") -> bytes:
    return FORM_MD.format(label=label, version=version).encode()


def test_new_version_supersedes_and_old_still_accepts(app, make_user):
    designer = make_user(Role.DESIGNER)
    v1 = service.upload(_md(version="1"), "lifecycle.md", designer).version
    service.publish(v1, designer)
    v2 = service.upload(_md("Question two", "2"), "lifecycle.md", designer).version
    db.session.commit()
    assert (v1.state, v2.state) == ("published", "draft")
    assert service.current_version(v1.form) is v1  # what phones are served
    assert service.latest_draft(v1.form) is v2  # what the draft test link serves

    service.publish(v2, designer)
    db.session.commit()
    assert (v1.state, v2.state) == ("superseded", "published")
    assert service.find_version("lifecycle", None) is v2
    assert service.accepts_submissions(v1) and service.accepts_submissions(v2)

    service.close(v2.form, designer)
    db.session.commit()
    assert not service.accepts_submissions(v1) and not service.accepts_submissions(v2)


def test_same_version_other_content_is_409(client, login):
    login(Role.DESIGNER)
    assert _post_file(client, "/api/v1/forms", "lifecycle.md", _md()).status_code == 201
    same = _post_file(client, "/api/v1/forms", "lifecycle.md", _md())
    assert same.status_code == 200  # identical: nothing changes
    other = _post_file(client, "/api/v1/forms", "lifecycle.md", _md("Changed label"))
    assert other.status_code == 409
    assert "version" in other.json["message"]["en"] and "版本" in other.json["message"]["zh"]
    page = _post_file(client, "/forms/upload", "lifecycle.md", _md("Changed label"))
    assert page.status_code == 409 and b"settings" in page.data
    assert db.session.scalar(sa.select(sa.func.count(FormVersion.id))) == 1


def test_version_generated_when_settings_have_none(app):
    data = b"| survey |\n| | type | name | label |\n| | text | q | Q |\n"
    result = service.upload(data, "noversion.md", None)
    version = result.version.version
    assert len(version) == 14 and version.isdigit()
    assert f'version="{version}"' in result.version.xform
    assert result.version.md5 == xform_md5(result.version.xform)


def test_media_uploaded_checked_and_reported(client, login):
    login(Role.DESIGNER)
    # q1 references no media; the image question does not need a file; a label image does.
    md = (
        b"| survey |\n| | type | name | label | media::image |\n"
        b"| | text | q1 | Q | logo.png |\n"
        b"| | select_one_from_file villages.csv | v | Village | |\n"
        b"| settings |\n| | form_id | version |\n| | withmedia | 1 |\n"
    )
    unknown = _post_file(client, "/api/v1/forms", "withmedia.md", md, [("other.png", b"x")])
    assert unknown.status_code == 400
    assert "other.png" in unknown.json["message"]["en"]
    assert db.session.scalar(sa.select(sa.func.count(Form.id))) == 0

    ok = _post_file(client, "/api/v1/forms", "withmedia.md", md, [("logo.png", b"\x89PNG..")])
    assert ok.status_code == 201, ok.json
    assert any("villages.csv" in w for w in ok.json["warnings"])
    assert not any("logo.png" in w for w in ok.json["warnings"])
    media = db.session.scalars(sa.select(FormMedia)).all()
    assert [(m.name, m.content_type) for m in media] == [("logo.png", "image/png")]
    files = service.media_for(service.find_version("withmedia", "1"), None)
    assert [f.name for f in files] == ["logo.png"]  # villages.csv is neither uploaded nor generated
    assert files[0].md5 == service.md5_hex(b"\x89PNG..")


def test_demo_publishes_the_township_forms(app):
    from server.services import demo

    demo.load_demo(buildings=60)
    published = {
        f.xml_form_id: f.state for f in db.session.scalars(sa.select(Form))
    }
    # and the closed form its generated visits were sent with (no phone lists a closed form)
    assert published == {**{name: "published" for name in TOWNSHIP_FORMS}, "demo_visit": "closed"}
    for name in TOWNSHIP_FORMS:
        stored = service.find_version(name, None).xform
        assert stored == pyxform_reference(TOWNSHIP / f"{name}.xlsx")
