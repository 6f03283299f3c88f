"""Load the generated demo township (gis.demo) into the database, living in the present.

`./dev start` on any day shows a working township: last month's round, closed, mostly covered,
and this month's round in progress around today (in the township's zone), partly covered with
some suspect and revisit buildings — real visits generated in bulk (server/services/
demo_visits.py) and counted by the coverage engine — and a few households with their residents
registered in it through the household form (server/services/demo_households.py), so the plan's
numbers and the meeting reports have a register to count, and a few of their rented units
inspected (server/services/demo_rentals.py: two violations, one rectification closed). A
submission made now falls in the current round, so it changes the map within seconds.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import shapely
import sqlalchemy as sa

from gis.demo import generate_township
from server import localtime
from server.extensions import db
from server.models import Area, Building, Role, Round, RoundArea
from server.models._types import utcnow
from server.services import users
from server.services.coverage import recompute, round_plans, rounds
from server.services.demo_households import add_households
from server.services.demo_rentals import add_rental_inspections
from server.services.demo_visits import add_generated_visits
from server.services.forms import lifecycle as forms

DEMO_MARKER_CODE = "XY"
#: Visits per building: last month's round (closed) and the current one so far.
LAST_ROUND_VISITS = 1.5
CURRENT_ROUND_VISITS = 0.45
ROUND_DAYS = 30
CURRENT_ROUND_DAYS_DONE = 14  # the current round began two weeks before today


def demo_loaded() -> bool:
    return db.session.scalar(sa.select(Area.id).where(Area.code == DEMO_MARKER_CODE)) is not None


def load_demo(seed: int = 2016, buildings: int = 2000, *, visits: bool = True,
              today: date | None = None) -> list[tuple[str, str, str]] | None:
    """Create the demo township if absent; return (username, role, password) rows, or None.
    With `visits`, also last month's and this month's rounds and their visits."""
    if demo_loaded():
        return None
    township = generate_township(seed=seed, buildings=buildings)
    area_ids = _insert_areas(township.areas)
    _insert_buildings(township.buildings, area_ids)
    forms.publish_township()  # so that ./dev start gives phones something to fill in

    accounts: list[tuple[str, str, str]] = []
    for username, role, name, codes in [
        ("admin", Role.ADMIN, "管理员", []),
        ("designer", Role.DESIGNER, "表单设计员", []),
        *[
            (s.username, Role.SUPERVISOR, s.display_name, s.area_codes)
            for s in township.supervisors
        ],
        *[
            (c.username, Role.COORDINATOR, c.display_name, c.area_codes)
            for c in township.coordinators
        ],
    ]:
        _, password = users.create_user(username, role, display_name=name, area_codes=codes)
        accounts.append((username, role.value, password))
    db.session.commit()
    if visits:
        add_rounds(today or localtime.today(), seed)
    return accounts


def demo_rounds(today: date) -> tuple[tuple[str, date, date], tuple[str, date, date]]:
    """(name, first day, last day) of the last round (the 30 days before the current one) and
    of the current round (two weeks before today to two weeks after)."""
    first = today - timedelta(days=CURRENT_ROUND_DAYS_DONE)
    last = first + timedelta(days=ROUND_DAYS - 1)
    before_first = first - timedelta(days=ROUND_DAYS)
    before_last = first - timedelta(days=1)
    return ((f"第1轮 {before_first:%m.%d}–{before_last:%m.%d}", before_first, before_last),
            (f"第2轮 {first:%m.%d}–{last:%m.%d}", first, last))


def add_rounds(today: date, seed: int) -> tuple[int, int]:
    """Last month's round (closed) and this month's (in progress until now), over the whole
    township in the push phase, with generated visits; returns their ids."""
    phase = round_plans.ensure_phases()[0]
    townships = db.session.scalars(sa.select(Area).where(Area.parent_id.is_(None))).all()
    n = db.session.scalar(sa.select(sa.func.count(Building.id))) or 0
    made = []
    for k, (name, first, last) in enumerate(demo_rounds(today)):
        r = Round(name=name, starts_on=first, ends_on=last, phase=phase,
                  update_rate_target=phase.update_rate_target,
                  accuracy_target=phase.accuracy_target,
                  closed_at=utcnow() if k == 0 else None,
                  areas=[RoundArea(area_id=a.id) for a in townships])  # fmt: skip
        db.session.add(r)
        db.session.commit()
        made.append(r.id)
    rounds.forget()
    (_, first, last), (_, now_first, _) = demo_rounds(today)
    last_start = datetime.combine(first, datetime.min.time()) + timedelta(hours=8)
    add_generated_visits(int(n * LAST_ROUND_VISITS), made[0], seed=seed, raw_xml=True,
                         start=last_start, minutes=((last - first).days + 1) * 24 * 60 - 12 * 60)
    now = datetime.now(localtime.zone()).replace(tzinfo=None)
    start = datetime.combine(now_first, datetime.min.time()) + timedelta(hours=8)
    if now.date() != today:  # a demo made for another day: its visits end that evening
        now = datetime.combine(today, datetime.min.time()) + timedelta(hours=18)
    minutes = max(1, int((now - start).total_seconds() // 60)) if now > start else 1
    add_generated_visits(int(n * CURRENT_ROUND_VISITS), made[1], seed=seed + 1, raw_xml=True,
                         start=min(start, now), minutes=minutes)
    for round_id in made:
        recompute.recompute(round_id)
    add_households(now_first, min(today, now.date()), seed=seed)
    add_rental_inspections(min(today, now.date()))
    return made[0], made[1]


def _insert_areas(areas) -> dict[str, int]:
    ids: dict[str, int] = {}
    paths: dict[str, str] = {}
    for area in areas:  # parents come before children in the generator's order
        path = f"{paths[area.parent_code]}/{area.code}" if area.parent_code else area.code
        paths[area.code] = path
        row = Area(
            code=area.code,
            name_zh=area.name_zh,
            name_en=area.name_en,
            level=area.level,
            parent_id=ids.get(area.parent_code) if area.parent_code else None,
            path=path,
            boundary=shapely.to_wkb(area.boundary) if area.boundary is not None else None,
        )
        db.session.add(row)
        db.session.flush()
        ids[area.code] = row.id
    return ids


def _insert_buildings(buildings, area_ids: dict[str, int]) -> None:
    """Bulk insert: the demo may be scaled to a million buildings for benchmarks."""
    rows = []
    for b in buildings:
        minx, miny, maxx, maxy = b.footprint.bounds
        point = b.footprint.representative_point()
        rows.append(
            {
                "code": b.code,
                "street_id": area_ids[b.street_code],
                "footprint": shapely.to_wkb(b.footprint),
                "minx": minx,
                "miny": miny,
                "maxx": maxx,
                "maxy": maxy,
                "lon": point.x,
                "lat": point.y,
                "address": b.address_zh,
                "expected_units": b.expected_units,
                "floors": b.floors,
                "source": "demo",
            }
        )
        if len(rows) >= 5000:
            db.session.execute(sa.insert(Building), rows)
            rows = []
    if rows:
        db.session.execute(sa.insert(Building), rows)
