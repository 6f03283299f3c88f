"""Stored submissions waiting for processing, and what processing left: the processing tests
(tests/processing/) in-process and against real server processes."""

from __future__ import annotations

from datetime import date, timedelta

import shapely
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Building, Round, Submission, Visit
from server.services.ingest import accept
from tests.support.household_form import add_household_form, household_instance

LON, LAT = 102.6, 24.6
STEP = 0.0003  # degrees between buildings: ~30 m
#: A geotag inside the building `place()` puts at (LON, LAT).
LOCATION = f"{LAT + 0.00005} {LON + 0.00005} 1900 5"


def place(form: bool = True, grid: int = 1) -> None:
    """One street with grid x grid buildings 30 m apart from (LON, LAT) on (B1 at LON, LAT), a
    round holding today, the household form (unless `form` is false: tests.support.liveserver
    adds it)."""
    street = Area(code="S1", name_zh="一组", name_en="Street 1", level="street", path="S1")
    db.session.add(street)
    db.session.flush()
    for k in range(grid * grid):
        lon, lat = LON + (k % grid) * STEP, LAT + (k // grid) * STEP
        building = Building(code=f"B{k + 1}", street_id=street.id, expected_units=1,
                            address=f"{k + 1} 号")
        building.set_shape(shapely.box(lon, lat, lon + 0.0001, lat + 0.0001))
        db.session.add(building)
    today = date.today()
    db.session.add(Round(name="now", starts_on=today - timedelta(days=2),
                         ends_on=today + timedelta(days=2)))
    db.session.commit()
    if form:
        add_household_form("1")


def location(k: int, grid: int) -> str:
    """A geotag inside the k-th building of `place(grid=grid)` (any k: it wraps around)."""
    k %= grid * grid
    return f"{LAT + (k // grid) * STEP + 0.00005} {LON + (k % grid) * STEP + 0.00005} 1900 5"


def store(n: int) -> list[int]:
    """n household submissions at the building, stored as ingest stores them (pending)."""
    ids = []
    for _ in range(n):
        result = accept.ingest(None, household_instance(location=LOCATION, photo=""), [])
        assert result.status == 201, result.message
        ids.append(result.submission.id)
    db.session.commit()
    return ids


def outcome() -> dict[str, object]:
    """What processing left: submissions by state, their runs, visits per submission."""
    db.session.rollback()
    states = dict(db.session.execute(
        sa.select(Submission.processing_state, sa.func.count()).group_by(
            Submission.processing_state)).all())
    runs = dict(db.session.execute(
        sa.select(Submission.processing_runs, sa.func.count()).group_by(
            Submission.processing_runs)).all())
    visits = db.session.scalar(sa.select(sa.func.count(Visit.id)))
    doubled = db.session.scalar(sa.select(sa.func.count()).select_from(
        sa.select(Visit.submission_id).group_by(Visit.submission_id)
        .having(sa.func.count() > 1).subquery()))
    return {"states": states, "runs": runs, "visits": visits, "doubled": doubled}
