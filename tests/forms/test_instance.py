"""Reading submissions shaped like the township forms produce them."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms import convert_xlsform
from forms.entities_csv import EntityRow, properties_of, render_entity_csv
from forms.instance import InstanceError, instance_schema, parse_geopoint, read_instance

TOWNSHIP = Path(__file__).resolve().parents[2] / "forms" / "township" / "src"


def _form(name: str):
    return convert_xlsform((TOWNSHIP / f"{name}.md").read_bytes(), f"{name}.md")


HOUSEHOLD_XML = """<?xml version="1.0"?>
<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms"
      id="household" version="2024101501">
  <start>2024-10-20T09:00:00.000+08:00</start><end>2024-10-20T09:20:00.000+08:00</end>
  <today>2024-10-20</today><username>xgy01</username>
  <street>st-03</street><building>b-0042</building><building_label>夕阳路 12 号</building_label>
  <household_mode>new</household_mode><household/>
  <unit_label>2单元301</unit_label>
  <new_household_id>uuid:11111111-1111-4111-8111-111111111111</new_household_id>
  <household_id>11111111-1111-4111-8111-111111111111</household_id>
  <household_label>夕阳路 12 号 2单元301</household_label>
  <hh_building>b-0042</hh_building><hh_street>st-03</hh_street>
  <outcome>done</outcome>
  <dwelling><tenure>rented</tenure><landlord_name>李四</landlord_name>
    <landlord_phone>13800000000</landlord_phone><floor_area>45.5</floor_area>
    <room_uses>bedroom kitchen</room_uses></dwelling>
  <person>
    <full_name>张三</full_name><id_number>11010519491231002X</id_number>
    <sex>female</sex><birth_date>1949-12-31</birth_date><phone/>
    <origin>四川省成都市</origin><arrival_date>2024-03-01</arrival_date>
    <occupation>worker</occupation><employer>砖厂</employer><residence_permit>no</residence_permit>
    <relation>head</relation><flags/><person_existing/>
    <person_new_id>22222222-2222-4222-8222-222222222222</person_new_id>
    <person_id>22222222-2222-4222-8222-222222222222</person_id>
    <p_household>11111111-1111-4111-8111-111111111111</p_household><p_status>resident</p_status>
    <meta><entity dataset="persons" create="true" update="false" baseVersion="" trunkVersion=""
      branchId="" id="22222222-2222-4222-8222-222222222222"><label>张三</label></entity></meta>
  </person>
  <person>
    <full_name>王五</full_name><id_number>440524188001010014</id_number>
    <sex>male</sex><birth_date>1880-01-01</birth_date><phone>13900000000</phone>
    <origin>广东</origin><arrival_date>2023-01-01</arrival_date>
    <occupation>student</occupation><employer/><residence_permit>yes</residence_permit>
    <relation>child</relation><flags>school_child</flags>
    <person_existing>33333333-3333-4333-8333-333333333333</person_existing>
    <person_new_id>44444444-4444-4444-8444-444444444444</person_new_id>
    <person_id>33333333-3333-4333-8333-333333333333</person_id>
    <p_household>11111111-1111-4111-8111-111111111111</p_household><p_status>resident</p_status>
    <meta><entity dataset="persons" create="false" update="true" baseVersion="4"
      trunkVersion="" branchId="" id="33333333-3333-4333-8333-333333333333">
      <label>王五</label></entity></meta>
  </person>
  <person_count>2</person_count>
  <visit_location>24.6712 102.5921 1890.0 6.5</visit_location>
  <last_visit>2024-10-20</last_visit>
  <meta>
    <entity dataset="households" create="true" update="false" baseVersion="" trunkVersion=""
      branchId="" id="11111111-1111-4111-8111-111111111111"><label>夕阳路 12 号 2单元301</label>
    </entity>
    <instanceID>uuid:aaaaaaaa-0000-4000-8000-000000000001</instanceID>
    <deprecatedID>uuid:aaaaaaaa-0000-4000-8000-000000000000</deprecatedID>
    <instanceName>夕阳路 12 号 2单元301 done</instanceName>
  </meta>
</data>
"""


def test_household_instance() -> None:
    form = _form("household")
    info = read_instance(HOUSEHOLD_XML.encode("utf-8"), instance_schema(form.xform))
    assert info.form_id == "household" and info.version == "2024101501"
    assert info.instance_id == "uuid:aaaaaaaa-0000-4000-8000-000000000001"
    assert info.deprecated_id == "uuid:aaaaaaaa-0000-4000-8000-000000000000"
    assert [(g.path, g.type) for g in info.geotags] == [("/data/visit_location", "geopoint")]
    assert info.geotags[0].point() == (24.6712, 102.5921, 1890.0, 6.5)

    by_id = {e.id: e for e in info.entities}
    hh = by_id["11111111-1111-4111-8111-111111111111"]
    assert (hh.dataset, hh.action, hh.base_version) == ("households", "create", None)
    assert hh.label == "夕阳路 12 号 2单元301"
    assert hh.properties["tenure"] == "rented"
    assert hh.properties["room_uses"] == "bedroom kitchen"
    assert hh.properties["unit"] == "2单元301"
    assert hh.properties["person_count"] == "2"
    assert "full_name" not in hh.properties  # persons' properties stay with persons

    new = by_id["22222222-2222-4222-8222-222222222222"]
    assert (new.dataset, new.action, new.path) == ("persons", "create", "/data/person")
    assert new.properties["id_number"] == "11010519491231002X"
    assert new.properties["household"] == "11111111-1111-4111-8111-111111111111"
    assert new.properties["status"] == "resident"
    old = by_id["33333333-3333-4333-8333-333333333333"]
    assert (old.action, old.base_version, old.label) == ("update", 4, "王五")
    assert old.properties["flags"] == "school_child"


def test_departure_instance() -> None:
    form = _form("departure")
    xml = """<data id="departure" version="2024101501"><street>st-03</street>
      <household>h1</household><person>p-1</person><person_label>张三</person_label>
      <departure_date>2024-11-02</departure_date><destination>成都</destination>
      <reason>work</reason><reason_other/><source>landlord</source><status>departed</status>
      <visit_location>24.67 102.59 0 12</visit_location>
      <meta><entity dataset="persons" update="1" baseVersion="2" trunkVersion="" branchId=""
        id="p-1"/><instanceID>uuid:x</instanceID></meta></data>"""
    info = read_instance(xml, instance_schema(form.xform))
    (e,) = info.entities
    assert (e.dataset, e.id, e.action, e.base_version, e.label) == (
        "persons",
        "p-1",
        "update",
        2,
        None,
    )
    assert e.properties == {
        "departure_date": "2024-11-02",
        "destination": "成都",
        "departure_reason": "work",
        "status": "departed",
    }
    assert info.deprecated_id is None


def test_upsert_and_suppressed_entities() -> None:
    schema = instance_schema(_form("building_listing").xform)
    xml = """<data id="building_listing"><street>s</street><new_location/>
      <outcome>vacant</outcome><details/><visit_location>1 2</visit_location>
      <meta><entity dataset="buildings" create="false" update="false" id="b-1"/>
      <instanceID>uuid:y</instanceID></meta></data>"""
    info = read_instance(xml, schema)
    (e,) = info.entities
    assert e.action is None  # neither create_if nor update_if held
    assert e.properties["outcome"] == "vacant" and e.properties["street"] == "s"
    assert info.geotags[0].point() == (1.0, 2.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"<data id='x'><meta>", "no element found"),  # truncated
        (b"not xml at all", "syntax error"),
        (b'<!DOCTYPE d [<!ENTITY e "x">]><data id="x">&e;</data>', "EntitiesForbidden"),
    ],
)
def test_malformed_instances_raise_instance_error(bad: bytes, reason: str) -> None:
    with pytest.raises(InstanceError, match=f"^malformed submission XML: {reason}"):
        read_instance(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24.5 102.5 1800 5", (24.5, 102.5, 1800.0, 5.0)),
        ("24.5 102.5", (24.5, 102.5, 0.0, 0.0)),
        ("91 0 0 0", None),
        ("a b c d", None),
        ("", None),
    ],
)
def test_parse_geopoint(text: str, expected) -> None:
    assert parse_geopoint(text) == expected


# --- entity list CSV -----------------------------------------------------------------


def test_render_entity_csv() -> None:
    rows = [
        EntityRow("u1", "夕阳路 12 号", 3, {"street": "st-03", "units": 6}),
        {"uuid": "u2", "label": 'Quote "A", comma', "version": 1, "properties": {"units": 2.0}},
    ]
    text = render_entity_csv(rows, ["street", "units", "outcome"])
    assert text.splitlines() == [
        "name,label,__version,street,units,outcome",
        "u1,夕阳路 12 号,3,st-03,6,",
        'u2,"Quote ""A"", comma",1,,2,',
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (["name"], "invalid entity property name 'name'"),
        (["Label"], "invalid entity property name 'Label'"),
        (["__version"], "invalid entity property name '__version'"),
        (["a", "a"], "duplicate entity property names"),
        ([""], "invalid entity property name ''"),
    ],
)
def test_render_entity_csv_rejects_bad_properties(bad: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        render_entity_csv([], bad)


def test_properties_of_union_across_forms() -> None:
    decls = _form("household").entities + _form("rental_inspection").entities
    props = properties_of(decls, "households")
    assert props[:3] == ["unit", "building", "street"]
    assert "area_per_tenant" in props and len(props) == len(set(props))
