"""The demo township is deterministic, valid, non-overlapping and consistent."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import shapely

from gis.demo import generate_township


def _digest(tw) -> str:
    h = hashlib.sha256()
    for a in tw.areas:
        h.update(f"{a.code}|{a.name_zh}|{a.parent_code}".encode())
        h.update(a.boundary.wkb)
    for r in tw.roads:
        h.update(r.wkb)
    for b in tw.buildings:
        h.update(f"{b.code}|{b.street_code}|{b.address_zh}|{b.expected_units}|{b.floors}".encode())
        h.update(b.footprint.wkb)
    for u in tw.coordinators + tw.supervisors:
        h.update(f"{u.username}|{u.display_name}|{','.join(u.area_codes)}".encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def township():
    return generate_township()


def test_same_seed_same_output(township):
    assert _digest(generate_township(seed=2016)) == _digest(township)


def test_other_seed_other_output(township):
    assert _digest(generate_township(seed=7)) != _digest(township)


def test_counts(township):
    levels = [a.level for a in township.areas]
    assert levels.count("township") == 1
    assert levels.count("village") == 3
    assert 15 <= levels.count("street") <= 25
    assert len(township.buildings) == 2000
    assert len(township.roads) >= levels.count("street")
    assert [s.username for s in township.supervisors] == ["zhuren"]


def test_footprints_valid_and_disjoint(township):
    fp = np.array([b.footprint for b in township.buildings])
    assert shapely.is_valid(fp).all()
    left, right = shapely.STRtree(fp).query(fp, predicate="intersects")
    assert (left == right).all(), "some footprints touch or overlap"


def test_footprint_sizes_plausible(township):
    # 6-20 m sides: 36-400 m^2, measured in UTM 48N
    import geopandas as gpd

    area = gpd.GeoSeries([b.footprint for b in township.buildings], crs=4326).to_crs(32648).area
    assert area.min() > 35 and area.max() < 401


def test_near_jinning(township):
    minx, miny, maxx, maxy = shapely.total_bounds([b.footprint for b in township.buildings])
    assert 102.5 < minx < maxx < 102.7
    assert 24.5 < miny < maxy < 24.7


def test_hierarchy(township):
    by_code = {a.code: a for a in township.areas}
    assert len(by_code) == len(township.areas), "duplicate area codes"
    for a in township.areas:
        if a.level == "street":
            assert by_code[a.parent_code].level == "village"
        elif a.level == "village":
            assert by_code[a.parent_code].level == "township"
    codes = [b.code for b in township.buildings]
    assert len(set(codes)) == len(codes)
    for b in township.buildings:
        assert by_code[b.street_code].level == "street"
        assert b.expected_units >= 1 and b.floors >= 1


def test_buildings_inside_their_street(township):
    by_code = {a.code: a.boundary for a in township.areas}
    inside = [by_code[b.street_code].contains(b.footprint) for b in township.buildings]
    assert all(inside)


def test_coordinators_cover_every_street_once(township):
    assigned = [c for u in township.coordinators for c in u.area_codes]
    streets = [a.code for a in township.areas if a.level == "street"]
    assert sorted(assigned) == sorted(streets)
    assert all(3 <= len(u.area_codes) <= 8 for u in township.coordinators)


def test_scales_streets_and_villages():
    tw = generate_township(buildings=20_000, villages=3)
    assert len(tw.buildings) == 20_000
    assert 180 <= len(tw.streets) <= 220
    assert len(tw.villages) >= 3
    fp = np.array([b.footprint for b in tw.buildings])
    left, right = shapely.STRtree(fp).query(fp, predicate="intersects")
    assert (left == right).all()


@pytest.mark.parametrize("kwargs", [{"buildings": 0}, {"villages": 0}, {"buildings": 2.5}])
def test_bad_arguments(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        generate_township(**kwargs)


def test_tiny_township():
    tw = generate_township(buildings=5, villages=3)
    assert len(tw.buildings) == 5
    assert len(tw.villages) == 3
