"""The tile source's search by sorted west edge finds what an STRtree finds (bounding boxes
meeting a box) and what a scan finds (representative points in a box), over every building or
a Selection of them; the projection is EPSG:3857's."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.tiles import TileSource, from_mercator, to_mercator


@pytest.fixture(scope="module")
def src() -> TileSource:
    rng = np.random.default_rng(7)
    n = 4000
    lon = 102.6 + rng.random(n) * 0.05
    lat = 24.6 + rng.random(n) * 0.05
    w = rng.random(n) * 0.0004 + 0.00002  # a few wide buildings among small ones
    w[::500] = 0.004
    bounds = np.column_stack((lon - w, lat - w / 2, lon + w, lat + w / 2))
    ids = rng.permutation(np.arange(10, 10 + n))  # ids arrive in any order
    return TileSource(ids, lon, lat, bounds, [f"B{i}" for i in ids], rng.integers(1, 40, n))


def _boxes(src: TileSource) -> np.ndarray:
    return shapely.box(src.minx, src.miny, src.maxx, src.maxy)


@pytest.mark.parametrize("seed", range(5))
def test_boxes_and_points_equal_an_strtree_and_a_scan(src, seed) -> None:
    rng = np.random.default_rng(seed)
    tree = shapely.STRtree(_boxes(src))
    keep = np.isin(src.groups, rng.choice(np.arange(1, 40), 7, replace=False))
    chosen = src.select(keep)
    for _ in range(40):
        x0, y0 = to_mercator(102.6 + rng.random() * 0.05, 24.6 + rng.random() * 0.05)
        size = float(rng.choice([50.0, 300.0, 2000.0]))
        box = (float(x0), float(y0), float(x0) + size, float(y0) + size)
        want = np.sort(tree.query(shapely.box(*box)))
        assert np.array_equal(np.sort(src.everything.boxes(*box)), want)
        assert np.array_equal(np.sort(chosen.boxes(*box)), want[keep[want]])
        x, y = src.px, src.py
        inside = np.flatnonzero((x >= box[0]) & (x < box[2]) & (y >= box[1]) & (y < box[3]))
        assert np.array_equal(np.sort(src.everything.points(*box)), inside)
        assert np.array_equal(np.sort(chosen.points(*box)), inside[keep[inside]])


def test_ids_sorted_and_arrays_aligned(src) -> None:
    assert (np.diff(src.ids) > 0).all()
    assert [str(c) for c in src.codes[:3]] == [f"B{i}" for i in src.ids[:3]]


def test_projection_is_epsg_3857() -> None:
    from pyproj import Transformer

    lon, lat = np.array([102.6, -70.0, 0.0]), np.array([24.6, -33.4, 85.0])
    x, y = to_mercator(lon, lat)
    ex, ey = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    assert np.allclose(x, ex, atol=1e-6) and np.allclose(y, ey, atol=1e-6)
    back = from_mercator(x, y)
    assert np.allclose(back[0], lon) and np.allclose(back[1], lat)



def test_a_large_scope_is_cut_from_the_selection_of_everything_without_a_sort(monkeypatch) -> None:
    from gis import tiles as gis_tiles

    rng = np.random.default_rng(3)
    n = 3000
    lon = 102.6 + rng.integers(0, 400, n) * 0.0001  # many equal west edges: ties
    lat = 24.6 + rng.random(n) * 0.04
    bounds = np.column_stack((lon - 0.0001, lat - 0.0001, lon + 0.0001, lat + 0.0001))
    src = TileSource(rng.permutation(n) + 1, lon, lat, bounds, None, rng.integers(1, 40, n))
    keeps = [np.isin(src.groups, rng.choice(np.arange(1, 40), k, replace=False))
             for k in (1, 7, 20, 39)] + [np.zeros(n, bool), np.ones(n, bool)]
    sorted_ = [gis_tiles.Selection(src, np.flatnonzero(keep)) for keep in keeps]
    small = [keep.sum() * 8 < n for keep in keeps]
    assert small == [True, False, False, False, True, False]

    def no_sort(*args, **kwargs):
        raise AssertionError("a large scope's Selection sorted the west edges again")

    for keep, want, few in zip(keeps, sorted_, small, strict=True):
        with monkeypatch.context() as m:
            if not few:  # a few streets may be sorted: cheaper than a pass over everything
                m.setattr(gis_tiles.np, "argsort", no_sort)
            got = src.select(keep)
        for name in ("positions", "minx", "maxx", "miny", "maxy", "px", "py"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), name
        assert got.width == want.width
