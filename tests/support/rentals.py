"""The rental scenario's answers to the township forms (household, rental inspection), for
`tests.support.xforms.build_instance`, and posting them as a coordinator's phone does."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient

from forms.idnumber import check_char
from server.models import User
from tests.support.xforms import build_instance

OPENROSA = {"X-OpenRosa-Version": "1.0"}


def resident_id(first17: str) -> str:
    return first17 + check_char(first17)


#: Landlords: Li is identified by ID number, Wang only by name and phone.
LI_ID = resident_id("53012219600101001")
LI_PHONE = "13800000001"
WANG_PHONE = "13800000002"


def household(hid: str, building: str, street: str, *, tenure: str = "rented",
              rooms: str = "bedroom", people: int = 2, floor_area: str = "45.5",
              landlord: tuple[str, str] | None = None, new: bool = True, base: str = "",
              last_visit: str = "") -> dict[str, Any]:
    """The household form for a household (its persons are not part of these tests: the
    form's `person_count` says how many live there)."""
    name, phone = landlord or ("", "")
    return {
        "street": street, "building": building, "building_label": f"{building} 号",
        "household_mode": "new" if new else "existing", "household": "" if new else hid,
        "unit_label": hid, "household_id": hid, "household_label": f"{building} 号 {hid}",
        "hh_building": building, "hh_street": street, "outcome": "done",
        "dwelling/tenure": tenure, "dwelling/landlord_name": name,
        "dwelling/landlord_phone": phone, "dwelling/floor_area": floor_area,
        "dwelling/room_uses": rooms, "person": [], "person_count": str(people),
        "visit_location": "24.6001 102.6001 0 6", "last_visit": last_visit,
        "__entity": {"create": "1" if new else "0", "update": "0" if new else "1", "id": hid,
                     "baseVersion": base, "label": f"{building} 号 {hid}"},
    }


def inspection(hid: str, building: str, street: str, *, day: str, floor_area: str = "40",
               tenants: str = "2", rooms: str = "bedroom", partitioned: str = "no",
               legal: str = "yes", use_changed: str = "no",
               safety: str = "extinguisher smoke_alarm escape_route wiring gas",
               filed: str = "yes", number: str = "", lessee: str = "", start: str = "",
               end: str = "", landlord: tuple[str, str, str] = ("", "", "")) -> dict[str, Any]:
    """The rental inspection form for a household; calculations as the phone makes them."""
    name, id_number, phone = landlord
    tenants_n = int(tenants)
    per = round(float(floor_area) / tenants_n, 1) if tenants_n else ""
    missing = 5 - len(safety.split())
    return {
        "street": street, "building": building, "household": hid,
        "household_label": f"{building} 号 {hid}",
        "landlord/landlord_name": name, "landlord/landlord_id_number": id_number,
        "landlord/landlord_phone": phone,
        "occupancy/floor_area": floor_area, "occupancy/tenants": tenants,
        "area_per_tenant": str(per), "area_ok": "no" if per != "" and per < 10 else "yes",
        "rented_rooms": rooms, "partitioned": partitioned,
        "safety/building_legal": legal, "safety/use_changed": use_changed,
        "safety/safety_ok": safety, "safety/safety_missing": str(missing),
        "contract/contract_filed": filed, "contract/contract_number": number,
        "contract/contract_lessee": lessee, "contract/contract_start": start,
        "contract/contract_end": end, "visit_location": "24.6001 102.6001 0 5",
        "last_inspection": day,
        "__entity": {"create": "0", "update": "1", "id": hid, "baseVersion": "",
                     "label": ""},
    }


def post(client: FlaskClient, coordinator: User, xform: str, values: dict[str, Any]) -> None:
    """Send one submission as the coordinator's phone does; it must be accepted (201)."""
    xml = build_instance(xform, values)
    data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    response = client.post(f"/o/{coordinator.device_token}/submission", data=data,
                           headers=OPENROSA, content_type="multipart/form-data")
    assert response.status_code == 201, response.data
