"""A few households and their residents in the demo's current round, so the plan's numbers
(server/services/reports/) have a register to count: the shipped household form filled in as a
phone would (its own primary instance), sent by the demo's coordinators through ingest and
processing like any submission, half of them approved by the admin."""

from __future__ import annotations

import copy
import uuid
from datetime import date, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import sqlalchemy as sa

from forms.idnumber import check_char
from forms.xform_info import parse_xform, primary_instance_root
from server.extensions import db
from server.models import Area, Assignment, Building, Form, FormVersion, Role, User
from server.services.ingest import accept
from server.services.processing import pipeline
from server.services.submissions import exports as submissions

TEMPLATE = "{http://openrosa.org/javarosa}template"
#: Households per demo coordinator, and their residents' regions of origin (the first one is
#: the demo county's own: a local; the others make floating residents).
PER_COORDINATOR = 3
ORIGINS = ("530122", "510104", "532901")


def add_households(first: date, last: date, seed: int = 0) -> int:
    """Households with two residents each at the first buildings of every coordinator's
    streets, on days from `first` to `last`; returns how many were sent."""
    version = published("household")
    admin = db.session.scalar(sa.select(User).where(User.role == Role.ADMIN.value).limit(1))
    if version is None:
        return 0
    coordinators = db.session.scalars(sa.select(User).where(
        User.role == Role.COORDINATOR.value).order_by(User.username)).all()
    days = max((last - first).days, 0)
    sent = 0
    for k, who in enumerate(coordinators):
        streets = sa.select(Area.id).join(Assignment, Assignment.area_id == Area.id).where(
            Assignment.user_id == who.id)
        buildings = db.session.execute(
            sa.select(Building.code, Building.lon, Building.lat, Area.code)
            .join(Area, Area.id == Building.street_id)
            .where(Building.street_id.in_(streets)).order_by(Building.code)
            .limit(PER_COORDINATOR)).all()
        for i, (code, lon, lat, street) in enumerate(buildings):
            n = seed + k * 10 + i
            day = first + timedelta(days=(n * 3) % (days + 1))
            xml = _instance(version.xform, code, street, lon, lat, day, n)
            sub = accept.ingest(who, xml, []).submission
            pipeline.process_one(sub.id)
            if admin is not None and i % 2 == 0:
                submissions.set_review_state(admin, db.session.get(type(sub), sub.id),
                                             "approved")
            sent += 1
    return sent


def published(xml_form_id: str) -> FormVersion | None:
    return db.session.scalar(
        sa.select(FormVersion).join(Form).where(Form.xml_form_id == xml_form_id,
                                                FormVersion.state == "published"))


def _instance(xform: str, code: str, street: str, lon: float, lat: float, day: date,
              n: int) -> bytes:
    hid = str(uuid.uuid4())
    people = []
    for j in range(2):
        born = f"1985{(n % 12) + 1:02d}{j + 10:02d}"
        first17 = f"{ORIGINS[(n + j) % len(ORIGINS)]}{born}{n % 1000:03d}"
        pid = str(uuid.uuid4())
        people.append({
            "full_name": f"住户{n}-{j + 1}", "id_number": first17 + check_char(first17),
            "origin": "", "arrival_date": (day - timedelta(days=200)).isoformat(),
            "occupation": "worker", "residence_permit": "no",
            "relation": "head" if j == 0 else "spouse", "person_id": pid,
            "p_household": hid, "p_status": "resident",
            "__entity": {"create": "1", "update": "0", "id": pid, "label": f"住户{n}-{j + 1}"},
        })
    values = {
        "start": f"{day.isoformat()}T10:00:00+08:00", "street": street, "building": code,
        "building_label": f"{code} 号", "household_mode": "new", "unit_label": "101",
        "household_id": hid, "household_label": f"{code} 号 101", "hh_building": code,
        "hh_street": street, "outcome": "done", "dwelling/tenure": "rented",
        "dwelling/floor_area": "40", "dwelling/room_uses": "bedroom", "person": people,
        "person_count": "2", "visit_location": f"{lat} {lon} 1890 5",
        "__entity": {"create": "1", "update": "0", "id": hid, "label": f"{code} 号 101"},
    }
    return instance(xform, values)


def instance(xform: str, values: dict[str, Any]) -> bytes:
    """The form's primary instance with these answers, as a phone sends it."""
    root = copy.deepcopy(primary_instance_root(parse_xform(xform)))
    for node in root.iter():
        node.tag = node.tag.rsplit("}", 1)[-1]
        node.attrib.pop(TEMPLATE, None)
    _fill(root, values)
    meta = next(c for c in root if c.tag == "meta")
    next(c for c in meta if c.tag == "instanceID").text = f"uuid:{uuid.uuid4()}"
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _child(el: ET.Element, name: str) -> ET.Element:
    return next(c for c in el if c.tag == name)


def _fill(el: ET.Element, values: dict[str, Any]) -> None:
    """Answers into the instance: "a/b" paths, a repeat as a list, "__entity" attributes."""
    for name, value in values.items():
        if name == "__entity":
            entity = _child(_child(el, "meta"), "entity")
            for attr, text in value.items():
                if attr == "label":
                    label = next((c for c in entity if c.tag == "label"), None)
                    (label if label is not None else ET.SubElement(entity, "label")).text = text
                else:
                    entity.set(attr, text)
        elif isinstance(value, list):
            copies = [c for c in el if c.tag == name]
            template, at = copies[0], list(el).index(copies[0])
            for c in copies:
                el.remove(c)
            for offset, item in enumerate(value):
                copy_ = copy.deepcopy(template)
                _fill(copy_, item)
                el.insert(at + offset, copy_)
        else:
            node = el
            for step in name.split("/"):
                node = _child(node, step)
            node.text = str(value)
