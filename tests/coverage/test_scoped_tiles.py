"""Every role's tile is the admin's tile narrowed to the role's streets, and both agree with the
buildings counted one by one from the database; scopes are Selections built once; the shared
source is saved once and read back by another process (or after a restart) without rebuilding."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
import sqlalchemy as sa

from gis.tiles import lonlat_to_tile, tile_bounds, to_mercator
from server.extensions import db
from server.models import Area, Building
from server.services import scope
from server.services.coverage import source as coverage_source
from server.services.coverage import store as coverage
from server.services.coverage import tiles as coverage_tiles
from tests.support.app import PASSWORD
from tests.support.coverage_scenario import ensure_round
from tests.support.demo_visits import load_generated_city


@pytest.fixture
def city(app) -> int:
    coverage_tiles.clear()
    rnd = ensure_round()
    load_generated_city(buildings=2500, visits=5000, round_id=rnd.id, seed=13)
    yield rnd.id
    coverage_tiles.clear()


def _features(data: bytes) -> list[dict]:
    return mapbox_vector_tile.decode(data)["buildings"]["features"] if data else []


def _log_in(client, make_user, role: str, areas: list[str]):
    user = make_user(role, areas=areas)
    r = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert r.status_code == 302
    return user


def _roles() -> dict[str, tuple[str, list[str], str]]:
    """role name -> (user role, assigned areas, query string) and the coordinator's streets."""
    town = db.session.scalar(sa.select(Area.code).where(Area.level == "township"))
    village = db.session.scalar(
        sa.select(Area.code).where(Area.level == "village").order_by(Area.code).offset(1))
    streets = db.session.scalars(sa.select(Area.code).where(
        Area.level == "street", Area.path.like(f"%/{village}/%")).order_by(Area.code)).all()
    return {
        "admin": ("admin", [], ""),
        "township supervisor": ("supervisor", [town], ""),
        "village supervisor": ("supervisor", [village], ""),
        "coordinator's streets": ("supervisor", [village], "?coordinator={coordinator}"),
        "_coordinator_streets": ("coordinator", streets[:2], ""),
    }


def _truth(round_id: int, z: int, x: int, y: int, street_ids) -> dict[str, int]:
    """Buildings per state whose representative point lies in the tile, one by one."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    stored = coverage.stored_states(round_id)
    out: dict[str, int] = {}
    for bid, street, lon, lat in db.session.execute(
        sa.select(Building.id, Building.street_id, Building.lon, Building.lat)
    ):
        px, py = to_mercator(lon, lat)
        if street_ids is not None and street not in street_ids:
            continue
        if minx <= px < maxx and miny <= py < maxy:
            state = stored.get(bid, "unvisited")
            out[state] = out.get(state, 0) + 1
    return out


def test_every_roles_tile_is_the_admins_narrowed_to_its_streets(client, make_user,
                                                                city) -> None:
    roles = _roles()
    coord_role, coord_streets, _ = roles.pop("_coordinator_streets")
    coordinator = make_user(coord_role, areas=coord_streets)
    lon, lat = db.session.execute(
        sa.select(Building.lon, Building.lat).join(Area, Area.id == Building.street_id)
        .where(Area.code == coord_streets[0]).limit(1)).one()
    tiles = [(z, *lonlat_to_tile(lon, lat, z)) for z in (11, 13, 16)]
    admin: dict[tuple, list[dict]] = {}
    for name, (role, areas, query) in roles.items():
        user = _log_in(client, make_user, role, areas)
        query = query.format(coordinator=coordinator.username)
        wanted = scope.street_ids(coordinator if query else user)
        for z, x, y in tiles:
            r = client.get(f"/tiles/coverage/{city}/{z}/{x}/{y}.mvt{query}")
            assert r.status_code == 200, (name, r.data)
            feats = _features(r.data)
            if z >= 15:
                got = {(f["properties"]["id"], f["properties"]["state"]) for f in feats}
                if name == "admin":
                    admin[(z, x, y)] = got
                street_of = dict(db.session.execute(
                    sa.select(Building.id, Building.street_id)).all())
                narrowed = {(i, s) for i, s in admin[(z, x, y)]
                            if wanted is None or street_of[i] in wanted}
                assert got == narrowed, name
                assert got, name  # the tile is centred on the coordinator's street
            else:
                counted: dict[str, int] = {}
                for f in feats:
                    for state in ("unvisited", "visited", "complete", "revisit", "suspect"):
                        counted[state] = counted.get(state, 0) + f["properties"].get(state, 0)
                counted = {k: v for k, v in counted.items() if v}
                assert counted == _truth(city, z, x, y, wanted), (name, z)
    assert len({frozenset(v) for v in admin.values()}) == 1


def test_a_scope_is_searched_through_its_own_selection_built_once(client, make_user,
                                                                   city) -> None:
    village = db.session.scalar(sa.select(Area.code).where(Area.level == "village"))
    user = _log_in(client, make_user, "supervisor", [village])
    lon, lat = db.session.execute(sa.select(Building.lon, Building.lat).limit(1)).one()
    for z in (12, 14, 16):
        x, y = lonlat_to_tile(lon, lat, z)
        assert client.get(f"/tiles/coverage/{city}/{z}/{x}/{y}.mvt").status_code == 200
    shared = coverage_source.shared()
    assert len(shared.scopes) == 1  # three tiles, one Selection
    (ids, sel), = shared.scopes.items()
    assert ids == scope.street_ids(user)  # integer street ids, not codes
    groups = np.asarray(shared.source.groups)
    assert set(groups[np.asarray(sel.positions)].tolist()) <= set(ids)
    assert len(sel) == int(np.isin(groups, list(ids)).sum()) < len(shared.source)


def test_the_source_is_saved_once_and_read_back_not_rebuilt(app, city, monkeypatch,
                                                            make_building) -> None:
    built = coverage_source.shared()
    reads: list[int] = []
    real_read = coverage_source._read

    def counting_read(after: int):
        reads.append(after)
        return real_read(after)

    monkeypatch.setattr(coverage_source, "_read", counting_read)
    coverage_source.clear()  # another process, or this one restarted
    again = coverage_source.shared()
    assert reads == []  # read from the instance folder, no building read from the database
    assert np.array_equal(again.source.ids, built.source.ids)
    assert np.array_equal(again.source.groups, built.source.groups)
    assert isinstance(again.source.px, np.memmap)  # mapped, shared through the page cache
    top = int(built.source.ids[-1])
    street = db.session.scalar(sa.select(Area).where(Area.level == "street"))
    make_building("FIELD-1", street)  # a field building: a higher id
    coverage_source.clear()
    grown = coverage_source.shared()
    assert reads == [top] and len(grown.source) == len(built.source) + 1  # appended only
    coverage.buildings_edited()  # a re-import edited buildings: every copy is stale
    db.session.commit()
    coverage_source.shared()
    assert reads[-1] == 0  # rebuilt from every building
