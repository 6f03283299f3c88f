"""A meeting report's rental-housing flags (出租房屋): the rules the area's rented units break,
for the joint inspection (联合执法), and the rectifications (整改) closed in the period.

The open violations are the register as it stands when the report is generated (like the
registrations held for review and the coverage map), less those first found after the period's
end; the archive keeps them as they were read. A violation put right drops out of the open list
at the re-inspection; its rectification, once closed, is listed under the period it closed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from server import localtime
from server.extensions import db
from server.models import Area, RentalRectification, RentalUnit
from server.services import scope
from server.services.rentals import ledger, rules
from server.services.reports.periods import Period


@dataclass(frozen=True, slots=True)
class Flag:
    """One broken rule of one unit (open), or one closed rectification."""

    village: Area | None
    street: str  # code
    unit: str  # label
    uuid: str  # the household's
    code: str  # the rule
    detail: dict[str, Any] = field(default_factory=dict)
    since: str = ""  # open: first found; closed: the day it was ordered
    due_on: str = ""  # the rectification's, if one was ordered
    stage: str = ""  # where the rectification stands (ledger.Status.stage)
    reinspected_on: str = ""  # closed: the re-inspection that found it put right
    closed_on: str = ""

    def text(self, locale: str) -> str:
        return rules.describe(self.code, self.detail, locale)


@dataclass(frozen=True, slots=True)
class RentalFlags:
    open: list[Flag]
    closed: list[Flag]
    found: int  # open ones first found in the period

    @property
    def units(self) -> int:
        """Units breaking at least one rule."""
        return len({f.uuid for f in self.open})


def collect(area: Area, streets: frozenset[int], period: Period) -> RentalFlags:
    """The area's flags: open violations of units in `streets`, closed rectifications."""
    today = localtime.today()
    last, first = period.end.isoformat(), period.start.isoformat()
    open_ = []
    for row in ledger.violations(None, area.code):
        if row.unit.area_id not in streets or row.since > last:
            continue
        rect = row.rectification
        open_.append(Flag(
            row.place.village, row.place.street.code if row.place.street else "",
            row.unit.label, row.unit.household_uuid, row.code, row.detail, row.since,
            rect.due_on.isoformat() if rect else "",
            ledger.status(rect, row.unit, today).stage if rect else ""))
    return RentalFlags(open_, _closed(area, streets, period),
                       sum(1 for f in open_ if first <= f.since <= last))


def _closed(area: Area, streets: frozenset[int], period: Period) -> list[Flag]:
    """Rectifications of the area's units closed on the period's days."""
    start = localtime.utc_start_of(period.start)
    end = localtime.utc_start_of(period.end + timedelta(days=1))
    found = db.session.execute(
        sa.select(RentalRectification, RentalUnit)
        .join(RentalUnit, RentalUnit.household_uuid == RentalRectification.household_uuid)
        .options(selectinload(RentalUnit.inspections))
        .where(RentalRectification.state == ledger.CLOSED,
               RentalRectification.closed_at >= start, RentalRectification.closed_at < end,
               RentalUnit.area_id.in_(scope.streets_under_select([area.path])))).all()
    where = ledger.places()
    out = []
    for rect, unit in found:
        if unit.area_id not in streets:  # (the area's streets of no round of the report's)
            continue
        place = where.get(unit.area_id, ledger.Place())
        checked = ledger.status(rect, unit).reinspection
        out.append(Flag(
            place.village, place.street.code if place.street else "", unit.label,
            unit.household_uuid, rect.rule, {}, localtime.local_date(rect.opened_at).isoformat(),
            rect.due_on.isoformat(), ledger.CLOSED,
            checked.inspected_on.isoformat() if checked is not None else "",
            localtime.local_date(rect.closed_at).isoformat()))
    order = {rule.code: i for i, rule in enumerate(rules.RULES)}
    return sorted(out, key=lambda f: (f.village.code if f.village else "", f.street, f.unit,
                                      order.get(f.code, 99), f.closed_on))
