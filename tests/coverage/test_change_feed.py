"""A visit that changes one building is applied from the change feed: the round's states are
patched (not reloaded), only the tiles holding that building are drawn again, every other
cached tile stays a hit with its ETag; a full recompute still reloads everything. On SQLite
and PostgreSQL, and from a second process that shares only the database."""

from __future__ import annotations

import mapbox_vector_tile
import pytest
import sqlalchemy as sa

from gis.tiles import lonlat_to_tile
from server.extensions import db
from server.models import Building, BuildingCoverage, CoverageChange, Submission, Visit
from server.services.coverage import feed
from server.services.coverage import refresh as coverage_refresh
from server.services.coverage import source as coverage_source
from server.services.coverage import tiles as coverage_tiles
from server.services.coverage.recompute import recompute
from tests.support.coverage_scenario import ensure_round
from tests.support.demo_visits import load_generated_city

Z = 16


def _city() -> int:
    coverage_tiles.clear()
    rnd = ensure_round()
    load_generated_city(buildings=2500, visits=5000, round_id=rnd.id, seed=13)
    db.session.commit()
    return rnd.id


def _tile_of(building_id: int) -> tuple[int, int]:
    lon, lat = db.session.execute(
        sa.select(Building.lon, Building.lat).where(Building.id == building_id)).one()
    return lonlat_to_tile(lon, lat, Z)


def _unvisited_pair(round_id: int) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """An unvisited building, its tile, and a tile at least two tiles away that has buildings."""
    visited = sa.select(BuildingCoverage.building_id).where(
        BuildingCoverage.round_id == round_id)
    target = db.session.scalar(sa.select(Building.id).where(Building.id.not_in(visited))
                               .order_by(Building.id))  # fmt: skip
    here = _tile_of(target)
    for other in db.session.scalars(sa.select(Building.id).order_by(Building.id.desc())):
        there = _tile_of(other)
        if max(abs(there[0] - here[0]), abs(there[1] - here[1])) >= 2:
            return target, here, there
    raise AssertionError("the city fits in one tile")


def _add_visit(round_id: int, building_id: int) -> None:
    """A completed visit at the building (its own submission), as processing stores it."""
    model = db.session.scalars(sa.select(Visit).where(
        Visit.round_id == round_id, Visit.outcome == "done").limit(1)).one()
    t = Submission.__table__
    row = dict(db.session.execute(sa.select(t).where(t.c.id == model.submission_id))
               .mappings().one())  # fmt: skip
    row.pop("id")
    row["instance_id"] = f"uuid:feed-test-{building_id}"
    sub_id = db.session.execute(sa.insert(t).values(**row)).inserted_primary_key[0]
    db.session.add(Visit(submission_id=sub_id, round_id=round_id, building_id=building_id,
                         outcome="done", units_recorded=1, flags=[],
                         visited_on=model.visited_on))  # fmt: skip
    db.session.flush()


def _record_visit(round_id: int, building_id: int) -> None:
    _add_visit(round_id, building_id)
    assert coverage_refresh.refresh_building(building_id, round_id) != "unvisited"
    db.session.commit()


def _check_patch(round_id: int) -> None:
    target, here, there = _unvisited_pair(round_id)
    old_here = coverage_tiles.tile(round_id, Z, *here, None, None)
    old_there = coverage_tiles.tile(round_id, Z, *there, None, None)
    full = coverage_source.STATS["full"]
    patched = coverage_source.STATS["patched"]

    _record_visit(round_id, target)
    hits = coverage_tiles.STATS["hits"]
    new_here = coverage_tiles.tile(round_id, Z, *here, None, None)
    new_there = coverage_tiles.tile(round_id, Z, *there, None, None)

    assert coverage_source.STATS["full"] == full  # no reload of the round's states
    assert coverage_source.STATS["patched"] == patched + 1
    assert new_here[1] != old_here[1]  # the changed tile is drawn again, with a new ETag
    assert new_there is old_there  # the tile elsewhere is the cached one
    assert coverage_tiles.STATS["hits"] == hits + 1
    shown = {f["properties"]["id"]: f["properties"]["state"]
             for f in mapbox_vector_tile.decode(new_here[0])["buildings"]["features"]}
    assert shown[target] != "unvisited"  # the tile shows the new state
    codes, _ = coverage_source.states(round_id)
    pos = int(coverage_source.shared().source.ids.searchsorted(target))
    assert codes[pos] != 0  # the building's state in the patched array


def test_a_visit_patches_the_states_and_drops_only_its_tiles(app) -> None:
    _check_patch(_city())


def test_a_full_recompute_reloads_the_round(app) -> None:
    round_id = _city()
    _target, _here, there = _unvisited_pair(round_id)
    coverage_tiles.tile(round_id, Z, *there, None, None)
    full = coverage_source.STATS["full"]
    resets = sa.select(sa.func.count()).where(
        CoverageChange.round_id == round_id, CoverageChange.building_id.is_(None))
    before = db.session.scalar(resets)
    recompute(round_id)
    misses = coverage_tiles.STATS["misses"]
    coverage_tiles.tile(round_id, Z, *there, None, None)
    assert coverage_source.STATS["full"] == full + 1
    assert coverage_tiles.STATS["misses"] == misses + 1
    assert db.session.scalar(resets) == before + 1


def test_another_process_patches_from_the_feed(app, monkeypatch) -> None:
    """A process that did not make the change (its generation untouched) patches after its
    probe interval, reading the feed rows only."""
    round_id = _city()
    target, here, there = _unvisited_pair(round_id)
    coverage_tiles.tile(round_id, Z, *here, None, None)
    coverage_tiles.tile(round_id, Z, *there, None, None)
    gen = coverage_source.coverage.generation()
    _add_visit(round_id, target)
    # the writer is another process: write its row and feed entry without telling this one
    monkeypatch.setattr(coverage_refresh, "coverage_changed", lambda: None)
    monkeypatch.setattr(feed.coverage, "coverage_changed", lambda: None)
    coverage_refresh.refresh_building(target, round_id)
    db.session.commit()
    assert coverage_source.coverage.generation() == gen
    monkeypatch.setattr(coverage_source, "PROBE_SECONDS", 0.0)
    full, patched = coverage_source.STATS["full"], coverage_source.STATS["patched"]
    hits = coverage_tiles.STATS["hits"]
    coverage_tiles.tile(round_id, Z, *here, None, None)
    coverage_tiles.tile(round_id, Z, *there, None, None)
    assert (coverage_source.STATS["full"], coverage_source.STATS["patched"]) == (full,
                                                                                 patched + 1)
    assert coverage_tiles.STATS["hits"] == hits + 1


@pytest.mark.postgres
def test_a_visit_patches_on_postgresql(postgres_app) -> None:
    _check_patch(_city())


def test_a_rolled_back_savepoint_keeps_the_batchs_other_changes(app) -> None:
    """Processing runs each submission in a savepoint: one failing must not void the notes of
    the others in the batch; a rolled back transaction writes none."""
    round_id = _city()
    target, _here, _there = _unvisited_pair(round_id)
    top = feed.probe()[0]
    savepoint = db.session.begin_nested()
    _add_visit(round_id, target)
    coverage_refresh.refresh_building(target, round_id)
    savepoint.commit()
    db.session.begin_nested().rollback()  # the next submission failed
    db.session.commit()
    changed = feed.changed(round_id, top, feed.probe()[0])
    assert changed == [target]
    top = feed.probe()[0]
    other, _here, _there = _unvisited_pair(round_id)
    _add_visit(round_id, other)
    assert coverage_refresh.refresh_building(other, round_id) != "unvisited"
    db.session.rollback()
    db.session.commit()
    assert feed.probe()[0] == top


def test_a_reader_behind_the_pruned_feed_reloads_the_round(app, monkeypatch) -> None:
    round_id = _city()
    coverage_source.states(round_id)
    monkeypatch.setattr(feed, "KEEP", 1)
    visited = sa.select(BuildingCoverage.building_id).where(
        BuildingCoverage.round_id == round_id)
    unvisited = db.session.scalars(sa.select(Building.id).where(Building.id.not_in(visited))
                                   .order_by(Building.id).limit(4)).all()  # fmt: skip
    for b in unvisited:  # four commits: the feed is pruned past this process's last read
        _add_visit(round_id, b)
        coverage_refresh.refresh_building(b, round_id)
        db.session.commit()
    top, pruned = feed.probe()
    assert pruned == top - 1
    full = coverage_source.STATS["full"]
    codes, _ = coverage_source.states(round_id)
    assert coverage_source.STATS["full"] == full + 1
    ids = coverage_source.shared().source.ids
    assert all(codes[int(ids.searchsorted(b))] != 0 for b in unvisited)
