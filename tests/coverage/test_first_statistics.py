"""A fresh process's first statistics request counts buildings per street without the tile
source: it neither builds nor maps every building's coordinates (3 s of CPU at a million
buildings when no saved copy was there), and a restart reads the counts saved under the
instance folder instead of scanning the street index again."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Building
from server.services.coverage import counts, rollups, source, tiles
from server.services.coverage import store as coverage


def _fresh() -> None:
    """What a new process holds: nothing in memory (the instance folder stays)."""
    tiles.clear()
    counts.clear()


def _saved_sources() -> list:
    home = source.folder()
    return sorted(home.glob("v*-t*")) if home.exists() else []


def _city():
    from tests.support.coverage_scenario import ensure_round
    from tests.support.demo_visits import load_generated_city

    rnd = ensure_round()
    load_generated_city(buildings=600, visits=900, round_id=rnd.id, seed=5)
    db.session.commit()
    return rnd


def _the_source_is_not_needed() -> None:
    rnd = _city()
    _fresh()
    m = rollups.street_matrix(rnd.id)
    assert not source._SHARED and _saved_sources() == []  # neither built, mapped nor saved
    _fresh()
    assert (source.shared().street_totals() == counts.street_totals()[1]).all()  # its own
    held = rollups.street_matrix(rnd.id)
    assert (held == m).all() and held.sum() == db.session.scalar(sa.select(sa.func.count(
        Building.id)))  # fmt: skip


def test_statistics_do_not_build_the_tile_source(app) -> None:
    _the_source_is_not_needed()


@pytest.mark.postgres
def test_statistics_do_not_build_the_tile_source_on_postgresql(postgres_app) -> None:
    _the_source_is_not_needed()


def test_first_statistics_request_of_a_fresh_app(client, login, scenario) -> None:
    login("admin")
    _fresh()
    url = f"/api/v1/coverage/stats?round={scenario['round_id']}"
    first = client.get(url)
    assert first.status_code == 200 and client.get("/coverage/stats").status_code == 200
    assert not source._SHARED and _saved_sources() == []
    _fresh()
    source.shared()  # the map's tiles loaded it: the same answer from its totals
    assert client.get(url).get_json() == first.get_json()


def test_a_restart_reads_the_saved_totals(app, monkeypatch) -> None:
    _city()
    _fresh()
    sig, per = counts.street_totals()
    _fresh()  # a restart: the street index is not scanned again
    scans: list[int] = []
    raw = counts._count

    def count(after: int) -> np.ndarray:
        scans.append(after)
        return raw(after)

    monkeypatch.setattr(counts, "_count", count)
    again = counts.street_totals()
    assert scans == [] and again[0] == sig and (again[1] == per).all()
    street = db.session.scalar(sa.select(Area.id).where(Area.level == "street")
                               .order_by(Area.id))  # fmt: skip
    box = shapely.box(120.0, 30.0, 120.0001, 30.0001)
    db.session.add(Building(code="FIELD-1", street_id=street, footprint=shapely.to_wkb(box),
                            minx=120.0, miny=30.0, maxx=120.0001, maxy=30.0001,
                            lon=120.00005, lat=30.00005))  # a field building: a higher id
    db.session.commit()
    _fresh()
    added = counts.street_totals()[1]
    assert scans == [sig[1]]  # only the buildings above the saved copy's highest id
    assert added[street] == per[street] + 1 and added.sum() == per.sum() + 1
    coverage.buildings_changed()  # edited in this process: the saved copy is not trusted
    counts.street_totals()
    assert scans == [sig[1], 0]
