"""The small township of the data-out tests: four people with valid resident ID numbers and
phones, and the household form's answers that register them."""

from __future__ import annotations

from forms.idnumber import check_char


def resident_id(first17: str) -> str:
    return first17 + check_char(first17)


#: (person entity id, full name, ID number, phone)
PEOPLE = [
    ("P1", "张伟", resident_id("53232419850312001"), "13912345671"),
    ("P2", "李娜", resident_id("51012219900708002"), "13912345672"),
    ("P3", "王芳", resident_id("53012219850512003"), "13912345673"),
    ("P4", "刘洋", resident_id("11010519491231004"), "13912345674"),
]


def household_values(hid: str, building: str, street: str, people: list[tuple], tenure: str
                     ) -> dict:
    """The township household form's answers for a new household and its new people."""
    persons = [{
        "full_name": name, "id_number": id_number, "phone": phone, "origin": "四川省成都市",
        "arrival_date": "2016-03-01", "occupation": "worker", "residence_permit": "no",
        "relation": "head", "person_id": pid, "p_household": hid, "p_status": "resident",
        "__entity": {"create": "1", "update": "0", "id": pid, "baseVersion": "",
                     "label": name},
    } for pid, name, id_number, phone in people]
    return {
        "street": street, "building": building, "building_label": f"{building} 号",
        "household_mode": "new", "unit_label": "301", "household_id": hid,
        "household_label": f"{building} 号 {hid}", "hh_building": building, "hh_street": street,
        "outcome": "done", "dwelling/tenure": tenure, "dwelling/floor_area": "45.5",
        "dwelling/landlord_phone": "13800000000",
        "dwelling/room_uses": "bedroom", "person": persons,
        "person_count": str(len(persons)), "visit_location": "24.6001 102.6001 0 6",
        "__entity": {"create": "1", "update": "0", "id": hid, "baseVersion": "",
                     "label": f"{building} 号 {hid}"},
    }
