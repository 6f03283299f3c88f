"""XForms in tests: what pyxform itself makes of an XLSForm, and submissions built from an
XForm's own primary instance as ODK Collect sends them."""

from __future__ import annotations

import copy
import uuid as uuidlib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from forms.xform_info import parse_xform, primary_instance_root

JR_TEMPLATE = "{http://openrosa.org/javarosa}template"


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
