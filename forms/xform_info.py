"""Facts the server needs, read back from a converted XForm.

Reading the XForm (not pyxform's internal JSON) keeps this stable across pyxform
versions and lets the same code describe XForms uploaded directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as DET

XF = "http://www.w3.org/2002/xforms"
H = "http://www.w3.org/1999/xhtml"
JR = "http://openrosa.org/javarosa"
ENT = "http://www.opendatakit.org/xforms/entities"
GEO_TYPES = ("geopoint", "geotrace", "geoshape")
_MEDIA = re.compile(r"^jr://(images|audio|video|file|file-csv)/(.+)$")


@dataclass(frozen=True, slots=True)
class GeoField:
    """A geometry question: its name, XForm type and absolute nodeset path."""

    name: str
    type: str
    xpath: str


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A file the form needs as form media (kind is the jr:// scheme part)."""

    kind: str
    filename: str
    uri: str


@dataclass(frozen=True, slots=True)
class EntityDeclaration:
    """One `meta/entity` block: which list a container creates/updates, and how.

    `path` is the container (survey root, group or repeat) the entity lives in;
    `properties` maps each save_to property name to the question path it reads.
    """

    dataset: str
    action: str  # "create" | "update" | "upsert"
    path: str
    repeat: bool
    label: str | None
    entity_id: str | None
    create_if: str | None
    update_if: str | None
    properties: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "action": self.action,
            "path": self.path,
            "repeat": self.repeat,
            "label": self.label,
            "entity_id": self.entity_id,
            "create_if": self.create_if,
            "update_if": self.update_if,
            "properties": dict(self.properties),
        }


@dataclass(frozen=True, slots=True)
class XFormInfo:
    form_id: str
    version: str | None
    title: str
    languages: list[str]
    default_language: str | None
    geo_fields: list[GeoField]
    media: list[MediaRef]
    entities: list[EntityDeclaration]


def parse_xform(xform: str | bytes) -> Element:
    """Parse XForm text safely (no entities, no external DTDs)."""
    return DET.fromstring(xform.encode("utf-8") if isinstance(xform, str) else xform)


def primary_instance_root(root: Element) -> Element:
    """The first child of the first <instance> in the model: the data root."""
    model = root.find(f"{{{H}}}head/{{{XF}}}model")
    if model is None:
        raise ValueError("not an XForm: no h:head/model")
    instance = model.find(f"{{{XF}}}instance")
    if instance is None or len(instance) == 0:
        raise ValueError("not an XForm: no primary instance")
    return instance[0]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def describe_xform(xform: str | bytes) -> XFormInfo:
    """Extract id, version, title, languages, geo fields, media and entities."""
    root = parse_xform(xform)
    model = root.find(f"{{{H}}}head/{{{XF}}}model")
    assert model is not None  # primary_instance_root checks it
    data = primary_instance_root(root)
    title_el = root.find(f"{{{H}}}head/{{{H}}}title")
    languages: list[str] = []
    default_language = None
    for tr in model.iterfind(f"{{{XF}}}itext/{{{XF}}}translation"):
        lang = tr.get("lang", "")
        languages.append(lang)
        if tr.get("default") is not None:
            default_language = lang
    binds = list(model.iterfind(f"{{{XF}}}bind"))
    geo = [
        GeoField(b.get("nodeset", "").rsplit("/", 1)[-1], b.get("type", ""), b.get("nodeset", ""))
        for b in binds
        if b.get("type") in GEO_TYPES
    ]
    return XFormInfo(
        form_id=data.get("id", ""),
        version=data.get("version"),
        title=(title_el.text or "") if title_el is not None else "",
        languages=languages,
        default_language=default_language,
        geo_fields=geo,
        media=_media(root),
        entities=_entities(model, data, binds),
    )


def _media(root: Element) -> list[MediaRef]:
    seen: dict[str, MediaRef] = {}
    for el in root.iter():
        values = list(el.attrib.values())
        if el.text and el.text.strip().startswith("jr://"):
            values.append(el.text.strip())
        for value in values:
            m = _MEDIA.match(value.strip())
            if m and value not in seen:
                seen[value] = MediaRef(m.group(1), m.group(2), value.strip())
    return sorted(seen.values(), key=lambda r: (r.filename, r.kind))


def _walk(el: Element, path: str, in_repeat: bool, out: list[tuple[str, Element, bool]]) -> None:
    """Collect (path, element, inside-repeat) for every instance node, skipping
    repeat duplicates so each repeat appears once."""
    seen: set[str] = set()
    for child in el:
        name = _local(child.tag)
        child_path = f"{path}/{name}"
        if child_path in seen:
            continue
        seen.add(child_path)
        repeat = in_repeat or child.get(f"{{{JR}}}template") is not None
        out.append((child_path, child, repeat))
        _walk(child, child_path, repeat, out)


def entity_containers(data: Element) -> dict[str, tuple[Element, bool]]:
    """Map container path -> (its meta/entity element, inside a repeat)."""
    nodes: list[tuple[str, Element, bool]] = []
    root_path = "/" + _local(data.tag)
    _walk(data, root_path, False, nodes)
    found: dict[str, tuple[Element, bool]] = {}
    for path, el, repeat in nodes:
        if _local(el.tag) == "entity" and path.endswith("/meta/entity"):
            found[path[: -len("/meta/entity")]] = (el, repeat)
    return found


def container_of(nodeset: str, containers: list[str]) -> str | None:
    """The deepest entity container whose path is an ancestor of nodeset."""
    best = None
    for c in containers:
        if nodeset.startswith(c + "/") and (best is None or len(c) > len(best)):
            best = c
    return best


def _entities(model: Element, data: Element, binds: list[Element]) -> list[EntityDeclaration]:
    containers = entity_containers(data)
    by_nodeset = {b.get("nodeset", ""): b for b in binds}
    setvalues = {
        s.get("ref", ""): s.get("value") for s in model.iter() if _local(s.tag) == "setvalue"
    }
    props: dict[str, dict[str, str]] = {c: {} for c in containers}
    for b in binds:
        saveto = b.get(f"{{{ENT}}}saveto")
        if saveto:
            c = container_of(b.get("nodeset", ""), list(containers))
            if c is not None:
                props[c][saveto] = b.get("nodeset", "")
    out = []
    for path, (el, repeat) in containers.items():
        base = f"{path}/meta/entity"

        def calc(attr: str, base: str = base) -> str | None:
            bind = by_nodeset.get(f"{base}/{attr}")
            return bind.get("calculate") if bind is not None else None

        create, update = el.get("create"), el.get("update")
        action = "upsert" if create and update else ("update" if update else "create")
        entity_id = calc("@id") or setvalues.get(f"{base}/@id")
        create_if = calc("@create") or (None if create in (None, "1") else create)
        update_if = calc("@update") or (None if update in (None, "1") else update)
        out.append(
            EntityDeclaration(
                dataset=el.get("dataset", ""),
                action=action,
                path=path,
                repeat=repeat,
                label=calc("label"),
                entity_id=entity_id,
                create_if=create_if,
                update_if=update_if,
                properties=props[path],
            )
        )
    return out
