"""Fixtures for the form lifecycle and entity registry tests."""

from __future__ import annotations

import copy
import hashlib
import uuid as uuidlib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from forms.xform_info import parse_xform, primary_instance_root
from server.extensions import db
from server.models import Submission

REPO = Path(__file__).resolve().parents[2]
TOWNSHIP = REPO / "forms" / "township"
TOWNSHIP_FORMS = ("building_listing", "household", "departure", "rental_inspection")
JR_TEMPLATE = "{http://openrosa.org/javarosa}template"


def township_file(name: str) -> Path:
    return TOWNSHIP / f"{name}.xlsx"


def pyxform_reference(path: Path) -> str:
    """The XForm pyxform itself produces for a file (independent of the forms package)."""
    from pyxform.xls2xform import convert

    return convert(xlsform=str(path)).xform


def _strip_ns(el: ET.Element) -> None:
    for node in el.iter():
        node.tag = node.tag.rsplit("}", 1)[-1]


def _child(el: ET.Element, name: str) -> ET.Element:
    found = next((c for c in el if c.tag == name), None)
    if found is None:
        raise KeyError(f"no node {name!r} under {el.tag!r}")
    return found


def _fill(el: ET.Element, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name == "__entity":
            entity = _child(_child(el, "meta"), "entity")
            for attr, attr_value in value.items():
                if attr == "label":
                    label = next((c for c in entity if c.tag == "label"), None)
                    if label is None:
                        label = ET.SubElement(entity, "label")
                    label.text = attr_value
                else:
                    entity.set(attr, str(attr_value))
            continue
        if isinstance(value, list):  # a repeat: one copy of the template per item
            template = _child(el, name)
            position = list(el).index(template)
            for existing in [c for c in el if c.tag == name]:
                el.remove(existing)
            for offset, item in enumerate(value):
                copy_ = copy.deepcopy(template)
                copy_.attrib.pop(JR_TEMPLATE, None)
                _fill(copy_, item)
                el.insert(position + offset, copy_)
            continue
        node = el
        for step in name.split("/"):
            node = _child(node, step)
        node.text = None if value is None else str(value)


def build_instance(xform: str, values: dict[str, Any], instance_id: str | None = None) -> bytes:
    """A submission as ODK Collect sends it, built from the XForm's own primary instance.

    values: node name (or "group/node") -> text; a repeat name -> list of dicts; "__entity"
    -> attributes of that container's meta/entity (create/update/id/baseVersion/label).
    """
    root = copy.deepcopy(primary_instance_root(parse_xform(xform)))
    templates = [c for c in root.iter() if c.get(JR_TEMPLATE) is not None]
    for t in templates:
        t.attrib.pop(JR_TEMPLATE, None)
    _strip_ns(root)
    _fill(root, values)
    meta = _child(root, "meta")
    _child(meta, "instanceID").text = instance_id or f"uuid:{uuidlib.uuid4()}"
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@pytest.fixture
def store_submission(app):
    """Store a submission row for a form version (XML kept by the test, as the processor
    receives it from the submission store)."""
    from server.services.forms import lifecycle as service

    def factory(xml: bytes, xml_form_id: str, submitter=None, deprecated_id=None) -> Submission:
        from forms.instance import read_instance

        version = service.find_version(xml_form_id, None)
        assert version is not None, f"{xml_form_id} is not published"
        info = read_instance(xml)
        sub = Submission(
            instance_id=info.instance_id,
            form_version_id=version.id,
            submitter_id=submitter.id if submitter is not None else None,
            xml_sha256=hashlib.sha256(xml).hexdigest(),
            xml_size=len(xml),
            storage_key=f"test/{info.instance_id}",
            deprecated_id=deprecated_id,
        )
        db.session.add(sub)
        db.session.flush()
        return sub

    return factory


@pytest.fixture
def township_published(app):
    from server.services.forms import lifecycle as service

    versions = service.publish_township()
    db.session.commit()
    return {v.form.xml_form_id: v for v in versions}


def multipart(files: list[tuple[str, str, bytes]]) -> dict[str, Any]:
    """Keyword arguments for client.post with a hand-encoded multipart body.

    (Werkzeug's test client spools bodies over 500 KB to a temporary file it never
    closes, which pytest's warnings-as-errors turns into a failure.)
    """
    boundary = "----doorstep-test-boundary"
    out = bytearray()
    for field, filename, content in files:
        out += f"--{boundary}\r\n".encode()
        out += (f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return {"data": bytes(out), "content_type": f"multipart/form-data; boundary={boundary}"}
