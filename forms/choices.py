"""The words people read for a select question's stored values, read back from an XForm.

People see choice labels ("出租", "无人在家"), never the stored values (`rented`, `nobody_home`):
the register, the submission pages and the exports for people look labels up here. Reading the
XForm keeps this working for forms uploaded as XForms too, as `forms.xform_info` does.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from forms.xform_info import XF, H, parse_xform

#: question path ("/data/outcome") -> stored value -> language -> label
ChoiceLabels = dict[str, dict[str, dict[str, str]]]

_ITEXT_REF = re.compile(r"""^jr:itext\(\s*['"](.+?)['"]\s*\)$""")
_INSTANCE = re.compile(r"""instance\(\s*['"]([^'"]+)['"]\s*\)""")
_LANG_CODE = re.compile(r"\(([A-Za-z]{2,3}(?:[-_][A-Za-z]+)?)\)\s*$")
SELECTS = ("select1", "select", "rank")


def choice_labels(xform: str | bytes) -> ChoiceLabels:
    """Labels of every select question's choices, per language code ("zh", "en"; "default"
    for a form without translations), whether the choices are inline or in an itemset."""
    root = parse_xform(xform)
    model = root.find(f"{{{H}}}head/{{{XF}}}model")
    body = root.find(f"{{{H}}}body")
    if model is None or body is None:
        raise ValueError("xform: not an XForm (no h:head/model or h:body)")
    itext = _translations(model)
    instances = {i.get("id"): i for i in model.iterfind(f"{{{XF}}}instance") if i.get("id")}
    out: ChoiceLabels = {}
    for control in body.iter():
        if _local(control.tag) not in SELECTS or not control.get("ref"):
            continue
        labels = _inline_choices(control, itext) or _itemset_choices(control, instances, itext)
        if labels:
            out[control.get("ref", "")] = labels
    return out


def language_code(name: str) -> str:
    """pyxform's translation names carry the code: "中文 (zh)" -> "zh", "English (en)" -> "en";
    a name without one is returned lower-cased ("default")."""
    match = _LANG_CODE.search(name)
    return (match.group(1) if match else name).lower().replace("_", "-")


def pick_label(labels: dict[str, str], language: str) -> str | None:
    """The label in `language` ("zh-CN" matches "zh"), else the form's first language."""
    language = language.lower().replace("_", "-")
    for code in (language, language.split("-")[0], "default"):
        if labels.get(code):
            return labels[code]
    return next((text for text in labels.values() if text), None)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _translations(model: Element) -> dict[str, dict[str, str]]:
    """itext id -> language code -> plain text (image/audio forms left out)."""
    out: dict[str, dict[str, str]] = {}
    for translation in model.iterfind(f"{{{XF}}}itext/{{{XF}}}translation"):
        code = language_code(translation.get("lang", "default"))
        for text in translation.iterfind(f"{{{XF}}}text"):
            for value in text.iterfind(f"{{{XF}}}value"):
                if value.get("form") is None:
                    out.setdefault(text.get("id", ""), {})[code] = "".join(value.itertext())
    return out


def _label_of(label: Element | None, itext: dict[str, dict[str, str]]) -> dict[str, str]:
    if label is None:
        return {}
    match = _ITEXT_REF.match(label.get("ref", ""))
    if match:
        return dict(itext.get(match.group(1), {}))
    text = "".join(label.itertext()).strip()
    return {"default": text} if text else {}


def _inline_choices(control: Element, itext: dict[str, dict[str, str]]) -> dict[str, dict]:
    out = {}
    for item in control.iterfind(f"{{{XF}}}item"):
        value = item.find(f"{{{XF}}}value")
        if value is not None and value.text:
            out[value.text.strip()] = _label_of(item.find(f"{{{XF}}}label"), itext)
    return out


def _itemset_choices(control: Element, instances: dict[str | None, Element],
                     itext: dict[str, dict[str, str]]) -> dict[str, dict]:
    """Choices from a secondary instance built into the form (not an external CSV, whose
    rows only the phone has)."""
    itemset = control.find(f"{{{XF}}}itemset")
    if itemset is None:
        return {}
    match = _INSTANCE.search(itemset.get("nodeset", ""))
    instance = instances.get(match.group(1)) if match else None
    value_ref = itemset.find(f"{{{XF}}}value")
    label_ref = itemset.find(f"{{{XF}}}label")
    if instance is None or value_ref is None or label_ref is None:
        return {}
    value_name, label_name = value_ref.get("ref", "name"), label_ref.get("ref", "label")
    out = {}
    for item in instance.iter():
        if _local(item.tag) != "item":
            continue
        fields = {_local(child.tag): (child.text or "").strip() for child in item}
        value = fields.get(value_name)
        if not value:
            continue
        if label_name.startswith("jr:itext"):
            out[value] = dict(itext.get(fields.get("itextId", ""), {}))
        else:
            out[value] = {"default": fields.get(label_name, "")} if fields.get(label_name) else {}
    return out
