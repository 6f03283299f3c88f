"""A township for the round tests whose counts can be worked out by hand: two villages,
three streets, three buildings per street (each expecting one household), 100 m apart."""

from __future__ import annotations

import shapely
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Building
from tests.support.coverage_scenario import offset

LON0, LAT0, SIZE = 102.6, 24.6, 0.0001
STREETS = {"T01-01": "A", "T01-02": "B", "T02-01": "C"}
AREAS = (
    ("T", "township", None), ("T01", "village", "T"), ("T02", "village", "T"),
    ("T01-01", "street", "T01"), ("T01-02", "street", "T01"), ("T02-01", "street", "T02"),
)  # fmt: skip


def build_township() -> dict[str, tuple[float, float]]:
    """Areas and nine buildings A1..A3, B1..B3, C1..C3; returns each building's centre."""
    ids: dict[str, int] = {}
    paths: dict[str, str] = {}
    for code, level, parent in AREAS:
        paths[code] = f"{paths[parent]}/{code}" if parent else code
        area = Area(code=code, name_zh=f"{code}区", name_en=code, level=level,
                    parent_id=ids.get(parent), path=paths[code])  # fmt: skip
        db.session.add(area)
        db.session.flush()
        ids[code] = area.id
    centres = {}
    for row, (street, letter) in enumerate(STREETS.items()):
        for i in range(1, 4):
            lon, lat = LON0 + i * 0.001, LAT0 + row * 0.001
            b = Building(code=f"{letter}{i}", street_id=ids[street], expected_units=1,
                         address=f"{letter}{i} 号")
            b.set_shape(shapely.box(lon, lat, lon + SIZE, lat + SIZE))
            db.session.add(b)
            centres[b.code] = (lon + SIZE / 2, lat + SIZE / 2)
    db.session.commit()
    return centres


def near(centres: dict, code: str, east: float = 0.0, acc: float = 5.0):
    """A geotag `east` metres east of a building's centre, with accuracy `acc`."""
    lon, lat = offset(*centres[code], east, 0.0)
    return (lon, lat, acc)


def on(day: str) -> str:
    """The form's start time on a day, at 10:00 in Shanghai."""
    return f"{day}T10:00:00+08:00"


def states(round_id: int) -> dict[str, str]:
    """Building code -> state in a round (unvisited when it has no row)."""
    from server.services.coverage import store

    stored = store.stored_states(round_id)
    rows = db.session.execute(sa.select(Building.id, Building.code)).all()
    return {code: stored.get(bid, "unvisited") for bid, code in rows}
