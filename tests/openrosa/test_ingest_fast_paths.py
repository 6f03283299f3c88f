"""Ingest's cheaper paths (issue 13, item 3) give the answers of the general ones they skip."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from werkzeug.http import parse_options_header

from forms import instance
from server import serving
from server.extensions import db
from server.openrosa import multipart
from server.services.ingest import accept
from tests.support.household_form import household_instance


def test_an_instance_without_a_dtd_skips_defusedxml(monkeypatch):
    """defusedxml's parser is pure Python; with no DOCTYPE there is nothing for it to refuse."""
    def refuse(*args, **kwargs):
        raise AssertionError("defusedxml was used")

    monkeypatch.setattr(instance.DET, "fromstring", refuse)
    root = instance.parse_instance(household_instance("uuid:a", persons=3), max_elements=10_000)
    assert root.get("id") == "hh"
    with pytest.raises(AssertionError, match="defusedxml"):
        instance.parse_instance(b'<!DOCTYPE d [<!ENTITY e "x">]><d id="hh">&e;</d>',
                                max_elements=10_000)


@pytest.mark.parametrize("xml", [
    b'<!DOCTYPE d [<!ENTITY e "x">]><d>&e;</d>',
    b'<?xml version="1.0"?>\n<!DOCTYPE d SYSTEM "http://example.org/d.dtd"><d/>',
    b"<d>\x00</d>",
])
def test_anything_with_a_dtd_or_a_nul_goes_through_defusedxml(xml, monkeypatch):
    seen = []
    monkeypatch.setattr(instance.DET, "fromstring", lambda data: seen.append(data) or
                        instance.Element("d"))
    assert not instance.without_dtd(xml)
    instance.parse_instance(xml, max_elements=10_000)
    assert seen == [xml]


def test_an_entity_declaration_is_still_refused():
    with pytest.raises(instance.InstanceError):
        instance.parse_instance(b'<!DOCTYPE d [<!ENTITY e "x">]><d>&e;</d>', max_elements=100)


def test_an_undefined_entity_is_refused_by_the_c_parser_too():
    assert instance.without_dtd(b"<d>&e;</d>")
    with pytest.raises(instance.InstanceError, match="undefined entity"):
        instance.parse_instance(b"<d>&e;</d>", max_elements=10_000)


def test_scan_paths_are_the_geotags_attachments_and_their_groups():
    assert accept._ancestors({"/data/a/gps", "/data/photo"}) == {
        "/data", "/data/a", "/data/a/gps", "/data/photo"}


def test_scan_finds_a_geotag_inside_a_group_and_skips_other_groups(app):
    shape = accept.FormShape(instance.InstanceSchema(geo_paths={"/d/g/gps": "geopoint"}),
                             frozenset({"/d/photo"}), (),
                             accept._ancestors({"/d/g/gps", "/d/photo"}))
    root = instance.parse_instance(
        b"<d><people><gps>1 1</gps><photo>x.jpg</photo></people>"
        b"<g><gps>24.5 102.5 0 5</gps></g><photo>a.jpg</photo></d>", max_elements=100)
    found = accept._scan(root, shape)
    assert found.point == (24.5, 102.5, 0.0, 5.0)
    assert found.expected == ["a.jpg"]


@pytest.mark.parametrize("value", [
    'form-data; name="xml_submission_file"; filename="submission.xml"',
    'form-data; name="a b;c"',
    'form-data; name="名字.jpg"; filename="名字.jpg"',
    'form-data; name="x"; filename="q%22uote.jpg"',  # %22: Werkzeug's
    'form-data; name="x"; filename="back\\"slash.jpg"',  # escaped quote: Werkzeug's
    "form-data; name=plain",  # a token, not quoted: Werkzeug's
    'form-data; Name="upper"',  # upper-case parameter: Werkzeug's
    "form-data; name*=UTF-8''%E5%90%8D",  # RFC 2231: Werkzeug's
])
def test_content_disposition_reads_as_werkzeug_reads_it(value):
    assert multipart._disposition(value) == parse_options_header(value)


def test_plain_headers_never_reach_werkzeugs_parser(monkeypatch):
    def refuse(value):
        raise AssertionError(value)

    monkeypatch.setattr(multipart, "parse_options_header", refuse)
    assert multipart.boundary_of("multipart/form-data; boundary=a1-b2_c.3") == b"a1-b2_c.3"
    body = (b'--b\r\nContent-Disposition: form-data; name="xml_submission_file"; '
            b'filename="s.xml"\r\nContent-Type: text/xml\r\n\r\n<d/>\r\n--b--\r\n')
    (part,) = multipart.parse(body, b"b")
    assert (part.name, part.filename, part.data) == ("xml_submission_file", "s.xml", b"<d/>")


@pytest.mark.parametrize("content_type", [
    "multipart/form-data; boundary=abc", 'multipart/form-data; boundary="a b"',
    "Multipart/Form-Data; boundary=abc", "multipart/form-data; charset=utf-8; boundary=x",
    "text/xml", "multipart/form-data",
])
def test_boundary_as_werkzeug_reads_it(content_type):
    mimetype, options = parse_options_header(content_type)
    expected = (options["boundary"].encode() if mimetype == "multipart/form-data"
                and options.get("boundary") else None)
    assert multipart.boundary_of(content_type) == expected


def test_a_token_submission_takes_one_connection_for_its_lookups(app, form, post):
    """The device-token check and the form lookup share one pooled connection."""
    assert post(household_instance("uuid:warm", persons=1)).status_code == 201
    here = threading.get_ident()
    taken = []

    def checkout(*args):
        if threading.get_ident() == here:
            taken.append(1)

    sa.event.listen(db.engine, "checkout", checkout)
    try:
        assert post(household_instance("uuid:one", persons=1)).status_code == 201
    finally:
        sa.event.remove(db.engine, "checkout", checkout)
    assert len(taken) == 1


def test_a_request_without_cookies_builds_no_session_serializer(app, client, monkeypatch):
    def refuse(*args):
        raise AssertionError("signing serializer built")

    monkeypatch.setattr(app.session_interface, "get_signing_serializer", refuse)
    assert client.get("/healthz").status_code == 200
    client.set_cookie("session", "x")
    with pytest.raises(AssertionError, match="serializer"):
        client.get("/healthz")


def test_the_pool_holds_one_connection_per_thread_with_its_pragmas(app):
    serving.size_pool(db.engine, 16)
    assert db.engine.pool.size() == 18
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    serving.size_pool(db.engine, 4)  # never shrinks
    assert db.engine.pool.size() == 18
