"""Footprints imported again: a stored code updates its building instead of being refused.

A township's files arrive more than once (a corrected export, footprints for buildings first
found in the field); the import updates the footprint and the attributes the file carries, and
says per building what changed. An attribute the file does not carry is left alone: expected
units recorded by the building listing are not wiped by a file without a units column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import shapely
import sqlalchemy as sa

from server.extensions import db
from server.models import Building

#: (field name without "_field", Building attribute) the file may carry.
ATTRIBUTES = (("address", "address"), ("units", "expected_units"), ("floors", "floors"))
_SAME_SHAPE_DEG = 1e-9  # below float noise of a re-exported file (about 0.1 mm)


@dataclass
class Changes:
    """What an import changed in stored buildings."""

    updated: list[dict] = field(default_factory=list)  # {"code", "changed": [sentences]}
    unchanged: int = 0
    moved: int = 0  # footprints that changed


def apply(records: list[dict], street_ids: dict[str, int], given: set[str]) -> Changes:
    """Update the stored buildings named by `records` (gis import records) in the session."""
    out = Changes()
    by_code = {r["code"]: r for r in records}
    street_codes = {v: k for k, v in street_ids.items()}
    codes = sorted(by_code)
    for start in range(0, len(codes), 1000):
        query = sa.select(Building).where(Building.code.in_(codes[start : start + 1000]))
        for building in db.session.scalars(query.order_by(Building.code)):
            changed = _update(building, by_code[building.code], street_ids, street_codes, given)
            if changed:
                out.updated.append({"code": building.code, "changed": changed})
                out.moved += "footprint" in changed
            else:
                out.unchanged += 1
    out.updated.sort(key=lambda c: c["code"])
    return out


def _update(building: Building, rec: dict, street_ids: dict[str, int],
            street_codes: dict[int, str], given: set[str]) -> list[str]:
    changed: list[str] = []
    shape = shapely.from_wkb(rec["footprint"])
    if not shape.equals_exact(building.shape, _SAME_SHAPE_DEG):
        building.set_shape(shape)
        changed.append("footprint")
    for name, attr in ATTRIBUTES:
        new, old = rec[attr], getattr(building, attr)
        if name in given and new != old:
            setattr(building, attr, new)
            changed.append(f"{attr} {_shown(old)} → {_shown(new)}")
    street_id = street_ids.get(rec["street_code"]) if rec["street_code"] else None
    if street_id is not None and street_id != building.street_id:
        changed.append(f"street {_shown(street_codes.get(building.street_id))} → "
                       f"{rec['street_code']}")
        building.street_id = street_id
    return changed


def _shown(value) -> str:
    return "-" if value in (None, "") else str(value)
