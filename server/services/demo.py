"""Load the generated demo township (gis.demo) into the database."""

from __future__ import annotations

from datetime import date

import shapely
import sqlalchemy as sa

from gis.demo import generate_township
from server.extensions import db
from server.models import Area, Building, Role, Round
from server.services import users
from server.services.forms import lifecycle as forms

DEMO_MARKER_CODE = "XY"
ROUND_NAME = "2016 推进阶段 (push phase)"


def demo_loaded() -> bool:
    return db.session.scalar(sa.select(Area.id).where(Area.code == DEMO_MARKER_CODE)) is not None


def load_demo(seed: int = 2016, buildings: int = 2000) -> list[tuple[str, str, str]] | None:
    """Create the demo township if absent; return (username, role, password) rows, or None."""
    if demo_loaded():
        return None
    township = generate_township(seed=seed, buildings=buildings)
    area_ids = _insert_areas(township.areas)
    _insert_buildings(township.buildings, area_ids)
    db.session.add(Round(name=ROUND_NAME, starts_on=date(2016, 10, 1), ends_on=date(2016, 11, 30)))
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
    return accounts


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
