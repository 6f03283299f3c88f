"""Submissions whose XML the server must refuse with a clear 4xx, never a 500 (issue 14,
finding 12): another encoding than UTF-8 (GBK …), nesting 5,000 deep, too many elements."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from defusedxml import ElementTree as DET

from forms.instance import MAX_DEPTH, EncodingRefused, TooDeep, TooManyElements, parse_instance
from server.extensions import db
from server.models import Submission
from tests.support.household_form import household_instance

RESPONSE = "{http://openrosa.org/http/response}"


def _declared(encoding: str, codec: str | None = None) -> bytes:
    """The household instance declared (and, when Python knows it, encoded) as `encoding`,
    with a Chinese name in it, as a GBK-minded client would send it."""
    text = household_instance(head="张三").decode("utf-8").replace(
        '<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>')
    return text.encode(codec or encoding)


def _nested(depth: int) -> bytes:
    """The household instance with `depth` elements nested inside its head."""
    return household_instance().replace(
        b"<head>Li</head>", b"<head>" + b"<g>" * depth + b"x" + b"</g>" * depth + b"</head>")


def _wide(elements: int) -> bytes:
    return household_instance().replace(b"<head>Li</head>", b"<head>Li</head>" + b"<x/>" * elements)


@dataclass(frozen=True)
class Case:
    xml: bytes
    status: int
    says: str  # in the English answer


CASES = {
    "GBK declared": Case(_declared("GBK"), 400, "encoded as GBK: submissions must be UTF-8"),
    "GB18030 declared": Case(_declared("GB18030"), 400, "encoded as GB18030"),
    "Latin-1 declared": Case(_declared("ISO-8859-1", "utf-8"), 400, "encoded as ISO-8859-1"),
    "unknown encoding": Case(_declared("x-klingon", "utf-8"), 400, "encoded as x-klingon"),
    "UTF-16": Case(codecs.BOM_UTF16_LE + household_instance().decode().encode("utf-16-le"), 400,
                   "encoded as UTF-16"),
    "nested 5,000 deep": Case(_nested(5000), 400, f"nests elements more than {MAX_DEPTH} deep"),
    "nested just too deep": Case(_nested(MAX_DEPTH), 400, "nests elements more than"),
    "too many elements": Case(_wide(500), 413, "has more than 300 elements"),
}


@pytest.mark.parametrize("name", CASES)
def test_hostile_xml_is_refused_with_a_clear_4xx(app, form, post, name):
    app.config["MAX_SUBMISSION_ELEMENTS"] = 300
    case = CASES[name]
    response = post(case.xml)
    assert response.status_code == case.status, response.data
    message = DET.fromstring(response.data).find(f"{RESPONSE}message")
    assert message.get("nature") == "error"
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


@pytest.mark.parametrize("name", ["GBK declared", "nested 5,000 deep", "too many elements"])
def test_the_answer_says_why_in_both_languages(app, client, form, coordinator, name):
    import io

    app.config["MAX_SUBMISSION_ELEMENTS"] = 300
    case = CASES[name]
    texts = {}
    for lang in ("en", "zh_CN"):
        data = {"xml_submission_file": (io.BytesIO(case.xml), "submission.xml", "text/xml")}
        response = client.post(f"/o/{coordinator.device_token}/submission?lang={lang}",
                               data=data, headers={"X-OpenRosa-Version": "1.0"},
                               content_type="multipart/form-data")
        assert response.status_code == case.status
        texts[lang] = DET.fromstring(response.data).find(f"{RESPONSE}message").text
    assert case.says in texts["en"]
    assert "提交的 XML" in texts["zh_CN"]


@pytest.mark.parametrize("xml", [
    household_instance(head="张三"),
    _declared("UTF-8"), _declared("utf-8"),
    household_instance().replace(b'"1.0"?>', b'"1.0" encoding="US-ASCII"?>', 1),
    codecs.BOM_UTF8 + household_instance(),
    _nested(MAX_DEPTH - 4),  # data/head/… : deep, within the bound
    _wide(200),
], ids=["plain", "UTF-8", "utf-8", "US-ASCII", "BOM", "deep but within", "wide within"])
def test_utf8_within_the_bounds_is_accepted(app, form, post, xml):
    app.config["MAX_SUBMISSION_ELEMENTS"] = 300
    assert post(xml).status_code == 201


@pytest.mark.parametrize(("xml", "error"), [
    (_declared("GBK"), EncodingRefused),
    (_nested(5000), TooDeep),
    (_wide(5000), TooManyElements),  # 20 kB: the counting parser stops at the bound
])
def test_parse_instance_bounds(xml, error):
    with pytest.raises(error, match=r"GBK|deep|elements"):
        parse_instance(xml, max_elements=1000)


def test_parse_instance_without_bounds_reads_any_depth():
    """Processing re-reads what ingest accepted: no bound there (nor a cost)."""
    assert parse_instance(_nested(100)).get("id") == "hh"
