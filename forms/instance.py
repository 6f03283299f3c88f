"""Read what the server needs from a submitted XML instance, safely (defusedxml).

The XForm tells which nodes are geopoints and which nodes feed entity properties
(bind `entities:saveto`); `instance_schema` extracts that once per form version.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, XMLParser

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DET
from defusedxml.ElementTree import DefusedXMLParser

from forms.xform_info import (
    ENT,
    GEO_TYPES,
    XF,
    container_of,
    entity_containers,
    parse_xform,
    primary_instance_root,
)


class InstanceError(ValueError):
    """The submission is not well-formed XML or not an instance (answer 400)."""


class EncodingRefused(InstanceError):
    """The XML is not UTF-8: it declares another encoding (GBK …) or starts as UTF-16."""

    def __init__(self, encoding: str):
        super().__init__(f"the submission XML is encoded as {encoding}, not UTF-8")
        self.encoding = encoding


class TooDeep(InstanceError):
    """Elements nested deeper than MAX_DEPTH."""


class TooManyElements(InstanceError):
    """More elements than the caller's bound."""


#: Deepest nesting of elements a submission may have. Real forms nest groups and repeats a
#: handful of levels; every walk over an instance recurses, so this stays far below Python's
#: recursion limit (1000), which a 5,000-deep instance used to reach (a 500).
MAX_DEPTH = 64
#: The smallest element, `<a/>`, takes 4 bytes: a shorter XML cannot exceed an element bound
#: of a quarter of its length, and skips the counting parser.
_MIN_ELEMENT_BYTES = 4
_CHUNK = 64 * 1024
_DECLARED = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?xml\s[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True, slots=True)
class InstanceSchema:
    """Per-form facts for reading instances: geo nodes and save_to per entity container."""

    geo_paths: dict[str, str] = field(default_factory=dict)  # path -> geopoint/geotrace/…
    saveto: dict[str, dict[str, str]] = field(default_factory=dict)  # container -> prop -> rel


@dataclass(frozen=True, slots=True)
class EntityAction:
    dataset: str
    id: str
    action: str | None  # "create" | "update" | "upsert" | None (conditions false)
    base_version: int | None
    label: str | None
    properties: dict[str, str]
    path: str = ""


@dataclass(frozen=True, slots=True)
class Geotag:
    path: str
    type: str
    value: str

    def point(self) -> tuple[float, float, float, float] | None:
        """(lat, lon, altitude, accuracy) of a geopoint; the first vertex otherwise."""
        return parse_geopoint(self.value.split(";")[0])


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    form_id: str
    version: str | None
    instance_id: str | None
    deprecated_id: str | None
    instance_name: str | None
    geotags: list[Geotag]
    entities: list[EntityAction]


def parse_geopoint(text: str) -> tuple[float, float, float, float] | None:
    """'lat lon [alt [acc]]' -> floats (missing alt/acc are 0), None when malformed."""
    parts = text.split()
    if not 2 <= len(parts) <= 4:
        return None
    try:
        nums = [float(p) for p in parts] + [0.0] * (4 - len(parts))
    except ValueError:
        return None
    lat, lon = nums[0], nums[1]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return nums[0], nums[1], nums[2], nums[3]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def instance_schema(xform: str | bytes) -> InstanceSchema:
    root = parse_xform(xform)
    model = root.find(f"{{http://www.w3.org/1999/xhtml}}head/{{{XF}}}model")
    assert model is not None
    containers = list(entity_containers(primary_instance_root(root)))
    geo: dict[str, str] = {}
    saveto: dict[str, dict[str, str]] = {c: {} for c in containers}
    for b in model.iterfind(f"{{{XF}}}bind"):
        nodeset = b.get("nodeset", "")
        if b.get("type") in GEO_TYPES:
            geo[nodeset] = b.get("type", "")
        prop = b.get(f"{{{ENT}}}saveto")
        if prop and (c := container_of(nodeset, containers)) is not None:
            saveto[c][prop] = nodeset[len(c) + 1 :]
    return InstanceSchema(geo_paths=geo, saveto=saveto)


def check_encoding(xml: bytes) -> None:
    """Submissions are UTF-8 (ODK Collect, Web Forms and our phone app write nothing else);
    the stored bytes are served and re-read as UTF-8, so another declared encoding is refused
    rather than decoded. (ODK Central ignores the declaration and decodes UTF-8 whatever it
    says, storing mojibake; expat cannot read multi-byte encodings such as GBK at all.)"""
    if xml.startswith(_UTF16_BOMS):
        raise EncodingRefused("UTF-16")
    declared = _DECLARED.match(xml[:512])
    if declared is None:
        return
    name = declared.group(1).decode("ascii", "replace").strip()
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        canonical = ""
    if canonical not in ("utf-8", "ascii"):
        raise EncodingRefused(name[:40] or "''")


class _BoundedBuilder(TreeBuilder):
    """A tree builder that stops the parse at the first element past a bound, so a huge
    instance costs no more memory and time than its first `max_elements` elements."""

    def __init__(self, max_elements: int):
        super().__init__()
        self.max_elements = max_elements
        self.depth = 0
        self.count = 0

    def start(self, tag, attrs):
        self.depth += 1
        self.count += 1
        if self.depth > MAX_DEPTH:
            raise TooDeep(f"the submission XML nests elements more than {MAX_DEPTH} deep")
        if self.count > self.max_elements:
            raise TooManyElements(f"the submission XML has more than {self.max_elements} "
                                  "elements")
        return super().start(tag, attrs)

    def end(self, tag):
        self.depth -= 1
        return super().end(tag)


def _check_depth(root: Element, data: bytes) -> None:
    """Level by level, without recursion. Nesting d deep takes at least 2d - 1 `<`, so most
    submissions (a few dozen fields) are known to be within the bound from one count."""
    if data.count(b"<") <= 2 * MAX_DEPTH:
        return
    level, depth = [root], 1
    while level:
        if depth > MAX_DEPTH:
            raise TooDeep(f"the submission XML nests elements more than {MAX_DEPTH} deep")
        level = [child for el in level for child in el]
        depth += 1


def without_dtd(data: bytes) -> bool:
    """True when the bytes can hold no document type declaration, hence no entity to expand
    or fetch: UTF-8 (no NUL, which UTF-16 needs for ASCII) without `<!DOCTYPE` anywhere."""
    return b"<!DOCTYPE" not in data and b"\x00" not in data


def _fromstring(data: bytes) -> Element:
    """defusedxml's parser is the pure-Python ElementTree one (a Python call per element, most
    of ingest's parse time); without a DTD there is nothing for it to refuse, so such an
    instance goes to the C parser. Anything with a DOCTYPE still goes through defusedxml."""
    if not without_dtd(data):
        return DET.fromstring(data)
    parser = XMLParser()
    parser.feed(data)
    return parser.close()


def parse_instance(xml: bytes | str, max_elements: int | None = None) -> Element:
    """The instance's root element (defusedxml). With `max_elements` (ingest), the instance is
    also refused when it nests deeper than MAX_DEPTH or has more elements than that."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    check_encoding(data)
    try:
        if max_elements is None:
            return _fromstring(data)
        if len(data) < _MIN_ELEMENT_BYTES * max_elements:
            root = _fromstring(data)
            _check_depth(root, data)
            return root
        parser = DefusedXMLParser(target=_BoundedBuilder(max_elements))
        for start in range(0, len(data), _CHUNK):  # expat finishes its buffer after an error
            parser.feed(data[start:start + _CHUNK])
        return parser.close()
    except (ParseError, DefusedXmlException) as err:
        raise InstanceError(f"malformed submission XML: {err}") from err
    except InstanceError:
        raise
    except ValueError as err:  # pyexpat: "multi-byte encodings are not supported" …
        raise InstanceError(f"malformed submission XML: {err}") from err


def _walk(el: Element, path: str) -> list[tuple[str, Element]]:
    out = [(path, el)]
    for child in el:
        out.extend(_walk(child, f"{path}/{_local(child.tag)}"))
    return out


def _text(el: Element | None) -> str | None:
    if el is None:
        return None
    return (el.text or "").strip() or None


def _find(el: Element, rel: str) -> Element | None:
    """Find a descendant by a slash path of local names (namespace-agnostic)."""
    current: Element | None = el
    for step in rel.split("/"):
        if current is None:
            return None
        current = next((c for c in current if _local(c.tag) == step), None)
    return current


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


def read_instance(xml: bytes | str, schema: InstanceSchema | None = None) -> InstanceInfo:
    """Identity, geotags and entity actions of a submission."""
    return read_root(parse_instance(xml), schema)


def read_root(root: Element, schema: InstanceSchema | None = None) -> InstanceInfo:
    """`read_instance` of an instance already parsed (processing parses each one once)."""
    schema = schema or InstanceSchema()
    nodes = _walk(root, "/" + _local(root.tag))
    geotags = [
        Geotag(path, schema.geo_paths[path], (el.text or "").strip())
        for path, el in nodes
        if path in schema.geo_paths and (el.text or "").strip()
    ]
    parents = {child: parent for parent in root.iter() for child in parent}
    entities: list[EntityAction] = []
    for path, el in nodes:
        if not path.endswith("/meta/entity"):
            continue
        container_path = path[: -len("/meta/entity")]
        container = parents.get(parents.get(el, el))  # entity -> meta -> container
        create, update = _truthy(el.get("create")), _truthy(el.get("update"))
        action = "upsert" if create and update else "create" if create else None
        action = "update" if update and not create else action
        props: dict[str, str] = {}
        for prop, rel in schema.saveto.get(container_path, {}).items():
            node = _find(container, rel) if container is not None else None
            if node is not None:
                props[prop] = (node.text or "").strip()
        base = el.get("baseVersion") or ""
        entities.append(
            EntityAction(
                dataset=el.get("dataset", ""),
                id=(el.get("id") or "").strip(),
                action=action,
                base_version=int(base) if base.strip().isdigit() else None,
                label=_text(_find(el, "label")),
                properties=props,
                path=container_path,
            )
        )
    meta = _find(root, "meta")
    return InstanceInfo(
        form_id=root.get("id", ""),
        version=root.get("version"),
        instance_id=_text(_find(meta, "instanceID")) if meta is not None else None,
        deprecated_id=_text(_find(meta, "deprecatedID")) if meta is not None else None,
        instance_name=_text(_find(meta, "instanceName")) if meta is not None else None,
        geotags=geotags,
        entities=entities,
    )
