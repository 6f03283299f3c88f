"""A few rental inspections in the demo, so the rental register's pages (出租房屋台账) and the
meeting reports' rental flags have something to show: the shipped rental inspection form filled
in as a phone would, sent by the coordinator of the unit's street through ingest and processing
like any submission. Most units pass; two break rules; one of those is put right the way the
register's pages do it (server.services.rentals.rectifications): a supervisor orders it, a
re-inspection finds it right, the supervisor closes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from forms.idnumber import check_char
from server import localtime
from server.extensions import db
from server.models import Area, Assignment, Building, RentalUnit, Role, User
from server.services import scope
from server.services.demo_households import instance, published
from server.services.ingest import accept
from server.services.processing import pipeline
from server.services.rentals import rectifications

SAFE = "extinguisher smoke_alarm escape_route wiring gas"


@dataclass(frozen=True, slots=True)
class Visit:
    """One inspection's answers that differ between the demo's units."""

    landlord: int  # index into LANDLORDS
    floor_area: str = "40"
    tenants: str = "2"
    rooms: str = "bedroom"
    filed: str = "yes"


#: Two landlords, each with several units; (name, ID number's first 17, phone).
LANDLORDS = (("李房东", "53012219600101001", "13800000001"),
             ("王房东", "53012219650505002", "13800000002"))
#: The units inspected, in the register's order (a small demo has only the first three): one
#: passes, one rents out a basement (put right and closed), one is crowded (7.5 m² per tenant)
#: with an unfiled contract, the others pass.
VISITS = (Visit(0), Visit(1, rooms="bedroom basement"),
          Visit(0, floor_area="30", tenants="4", filed="no"),
          Visit(1, floor_area="60", tenants="3"), Visit(1, floor_area="50"))
RECTIFIED = 1  # the unit whose basement is put right
FIXED = Visit(1)


def add_rental_inspections(day: date) -> int:
    """Inspect the first rented units (up to five) on `day`, then order, re-inspect and close
    one rectification; returns how many inspections were sent."""
    version = published("rental_inspection")
    units = db.session.scalars(sa.select(RentalUnit).order_by(RentalUnit.id)
                               .limit(len(VISITS))).all()
    if version is None or len(units) <= RECTIFIED:
        return 0
    for n, (unit, visit) in enumerate(zip(units, VISITS, strict=False)):
        _send(version.xform, unit, visit, day, n)
    unit = units[RECTIFIED]
    boss = _supervisor_of(unit)
    if boss is None:
        return len(units)
    today = localtime.today()
    rect = rectifications.order(boss, unit.household_uuid, "basement",
                                max(day, today) + timedelta(days=7), "限期清退地下室住人")
    again = max(day, localtime.local_date(rect.opened_at))
    _send(version.xform, unit, FIXED, again, RECTIFIED)
    rectifications.close(boss, rect.id, "复查已清退")
    return len(units) + 1


def _send(xform: str, unit: RentalUnit, visit: Visit, day: date, n: int) -> None:
    code, lon, lat, street = db.session.execute(
        sa.select(Building.code, Building.lon, Building.lat, Area.code)
        .join(Area, Area.id == Building.street_id).where(Building.id == unit.building_id)).one()
    who = db.session.scalar(
        sa.select(User).join(Assignment, Assignment.user_id == User.id)
        .where(Assignment.area_id == unit.area_id, User.role == Role.COORDINATOR.value)
        .order_by(User.username).limit(1))
    if who is None:
        return
    name, first17, phone = LANDLORDS[visit.landlord]
    per = round(float(visit.floor_area) / int(visit.tenants), 1)
    values = {
        "start": f"{day.isoformat()}T15:00:00+08:00", "street": street, "building": code,
        "household": unit.household_uuid, "household_label": unit.label,
        "landlord/landlord_name": name, "landlord/landlord_id_number": first17 +
        check_char(first17), "landlord/landlord_phone": phone,
        "occupancy/floor_area": visit.floor_area, "occupancy/tenants": visit.tenants,
        "area_per_tenant": str(per), "area_ok": "no" if per < 10 else "yes",
        "rented_rooms": visit.rooms, "partitioned": "no", "safety/building_legal": "yes",
        "safety/use_changed": "no", "safety/safety_ok": SAFE, "safety/safety_missing": "0",
        "contract/contract_filed": visit.filed,
        "contract/contract_number": f"BA-{day.year}-{n + 1:03d}" if visit.filed == "yes" else "",
        "contract/contract_lessee": "", "contract/contract_start": "",
        "contract/contract_end": "", "visit_location": f"{lat} {lon} 1890 5",
        "last_inspection": day.isoformat(),
        "__entity": {"create": "0", "update": "1", "id": unit.household_uuid,
                     "baseVersion": "", "label": ""},
    }
    sub = accept.ingest(who, instance(xform, values), []).submission
    pipeline.process_one(sub.id)


def _supervisor_of(unit: RentalUnit) -> User | None:
    """A supervisor whose areas hold the unit's street."""
    for user in db.session.scalars(sa.select(User).where(
            User.role == Role.SUPERVISOR.value).order_by(User.username)):
        streets = scope.street_ids(user)
        if streets is None or unit.area_id in streets:
            return user
    return None
