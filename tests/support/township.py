"""The shipped township forms (forms/township): their files, and answers to them for
`tests.support.xforms.build_instance` (node name or "group/node" -> text, a repeat -> a list of
answers, "__entity" -> the meta/entity attributes)."""

from __future__ import annotations

from pathlib import Path

from tests.support.paths import TOWNSHIP

TOWNSHIP_FORMS = ("building_listing", "household", "departure", "rental_inspection", "returned")
#: Resident ID numbers with valid check digits.
ZHANG = "11010519491231002X"
WANG = "530122199003071233"
LI = "53012219850512234X"


def township_file(name: str) -> Path:
    return TOWNSHIP / f"{name}.xlsx"


def township_version(name: str) -> str:
    """The version on a township form's settings sheet (its markdown source)."""
    from forms.township.build import source_sheets

    header, row = source_sheets(name)["settings"][:2]
    return row[header.index("version")]


def listing(building: str, *, outcome="done", units="4", floors="3", base="1", **extra):
    values = {
        "street": "T01-01", "building_mode": "existing", "building": building,
        "building_id": building, "building_label": f"{building} 号", "outcome": outcome,
        "details/use": "residential", "details/floors": floors, "details/units": units,
        "details/rented": "yes", "details/landlord_name": "李房东",
        "visit_location": "24.6001 102.6001 1890 5", "last_visit": "2016-10-12",
        "__entity": {"create": "0", "update": "1", "id": building, "baseVersion": base,
                     "label": f"{building} 号"},
    }
    values.update(extra)
    return values


def person(pid: str, id_number: str, household: str, *, create=True, base="",
           arrival="2016-03-01", name="张三"):
    return {
        "full_name": name, "id_number": id_number, "origin": "四川省成都市",
        "arrival_date": arrival, "occupation": "worker", "residence_permit": "no",
        "relation": "head", "person_id": pid, "p_household": household,
        "p_status": "resident",
        "__entity": {"create": "1" if create else "0", "update": "0" if create else "1",
                     "id": pid, "baseVersion": base, "label": name},
    }


def household(hid: str, building: str, street: str, persons: list[dict], *, new=True,
              base="", tenure="rented"):
    return {
        "street": street, "building": building, "building_label": f"{building} 号",
        "household_mode": "new" if new else "existing", "unit_label": "301",
        "household_id": hid, "household_label": f"{building} 号 301",
        "hh_building": building, "hh_street": street, "outcome": "done",
        "dwelling/tenure": tenure, "dwelling/floor_area": "45.5",
        "dwelling/room_uses": "bedroom kitchen", "person": persons,
        "person_count": str(len(persons)), "visit_location": "24.6001 102.6001 0 6",
        "__entity": {"create": "1" if new else "0", "update": "0" if new else "1", "id": hid,
                     "baseVersion": base, "label": f"{building} 号 301"},
    }
