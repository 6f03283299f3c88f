"""The feed's service document and `$metadata` (CSDL XML, OData 4.0), from its entity sets."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from server.services.odata.sets import KEY, EntitySet

NAMESPACE = "Doorstep"
CONTAINER = "Feed"
EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"


def service_document(sets: list[EntitySet], context: str) -> dict:
    """The JSON service document: every entity set and its relative URL."""
    return {"@odata.context": context,
            "value": [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in sets]}


def metadata(sets: list[EntitySet]) -> bytes:
    """CSDL XML naming each entity type, its key (`__id`) and typed properties."""
    ET.register_namespace("edmx", EDMX)
    root = ET.Element(f"{{{EDMX}}}Edmx", Version="4.0")
    services = ET.SubElement(root, f"{{{EDMX}}}DataServices")
    schema = ET.SubElement(services, f"{{{EDM}}}Schema", Namespace=NAMESPACE)
    for es in sets:
        entity_type = ET.SubElement(schema, f"{{{EDM}}}EntityType", Name=es.type_name)
        key = ET.SubElement(entity_type, f"{{{EDM}}}Key")
        ET.SubElement(key, f"{{{EDM}}}PropertyRef", Name=KEY)
        for name, edm_type in es.properties.items():
            attrs = {"Name": name, "Type": edm_type}
            if name == KEY:
                attrs["Nullable"] = "false"
            ET.SubElement(entity_type, f"{{{EDM}}}Property", attrs)
    container = ET.SubElement(schema, f"{{{EDM}}}EntityContainer", Name=CONTAINER)
    for es in sets:
        ET.SubElement(container, f"{{{EDM}}}EntitySet", Name=es.name,
                      EntityType=f"{NAMESPACE}.{es.type_name}")
    ET.register_namespace("", EDM)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
