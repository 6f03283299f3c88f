"""gis.mvt encodes the coverage map's points and polygons to the very bytes mapbox_vector_tile
gives for the same features (rounding half to even, winding, repeated points, rings and
polygons without a line, keys and values in order of first use), and TileSource.render's tiles
are the bytes its per-feature encoding gave, at every zoom, tile edges and scopes included."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from gis import mvt
from gis import tiles as gis_tiles
from gis.states import STATES
from gis.tiles import TileSource, lonlat_to_tile

OPTIONS = {"extents": 4096, "y_coord_down": True}


def _reference(features: list[dict]) -> bytes:
    return mapbox_vector_tile.encode([{"name": "buildings", "features": features}],
                                     default_options=OPTIONS)


@pytest.mark.parametrize("seed", range(4))
def test_points_with_counts_are_the_reference_bytes(seed) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    x, y = rng.integers(-64, 4160, n), rng.integers(-64, 4160, n)
    counts = rng.integers(0, 4, (n, 3)) * rng.integers(0, 2, (n, 3))
    state = np.array(["a", "bé", "c"], object)[rng.integers(0, 3, n)]
    features = []
    for i in range(n):
        props = {k: int(counts[i, j]) for j, k in enumerate("uvw") if counts[i, j]}
        props["n"] = int(counts[i].sum())
        props["state"] = str(state[i])
        features.append({"geometry": f"POINT({x[i]} {y[i]})", "properties": props})
    columns = [(k, counts[:, j], counts[:, j] > 0) for j, k in enumerate("uvw")]
    columns += [("n", counts.sum(axis=1), None), ("state", state, None)]
    got = mvt.encode("buildings", mvt.POINT, *mvt.point_commands(x, y), columns)
    assert got == _reference(features)


def _shapes(rng, n: int) -> list:
    """Polygons as a clip leaves them in tile coordinates: fractions (halves too), either
    winding, holes, several parts, repeated points, and some too small to keep a line."""
    out = []
    for _ in range(n):
        cx, cy = rng.uniform(-100, 4200, 2)
        w, h = rng.choice([0.2, 0.5, 1.0, 3.0, 40.0, 300.0], 2)
        kind = rng.integers(0, 6)
        if kind == 0:  # a box with fractional, half-way corners
            g = shapely.box(cx, cy, cx + w + 0.5, cy + h + 0.5)
        elif kind == 1:  # clockwise, with a repeated point
            g = shapely.Polygon([(cx, cy), (cx, cy + h), (cx, cy + h), (cx + w, cy + h),
                                 (cx + w, cy)])
        elif kind == 2:  # a hole
            g = shapely.box(cx, cy, cx + 10 * w, cy + 10 * h).difference(
                shapely.box(cx + 2 * w, cy + 2 * h, cx + 5 * w, cy + 5 * h))
        elif kind == 3:  # several parts, one of them tiny
            g = shapely.MultiPolygon([shapely.box(cx, cy, cx + w, cy + h),
                                      shapely.box(cx + 2 * w + 1, cy, cx + 2 * w + 1.3, cy + 0.3),
                                      shapely.box(cx + 4 * w + 2, cy, cx + 5 * w + 2, cy + h)])
        elif kind == 4:  # a rotated footprint
            g = shapely.affinity.rotate(shapely.box(cx, cy, cx + w, cy + h / 2), rng.uniform(0, 90))
        else:  # a sliver that rounds to nothing
            g = shapely.box(cx, cy, cx + 0.3, cy + 0.2)
        out.append(g)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_polygons_are_the_reference_bytes(seed) -> None:
    rng = np.random.default_rng(seed)
    geoms = np.asarray(_shapes(rng, int(rng.integers(1, 300))), object)
    ids = rng.permutation(np.arange(1, len(geoms) + 1) * 7)
    state = np.asarray(STATES, object)[rng.integers(0, len(STATES), len(geoms))]
    codes = np.array([f"B{i % 50}" for i in ids])  # repeated values share one entry
    features = [{"geometry": g, "id": int(ids[i]),
                 "properties": {"id": int(ids[i]), "state": str(state[i]), "code": str(codes[i])}}
                for i, g in enumerate(geoms.tolist())]  # fmt: skip
    cmds, offsets = mvt.polygon_commands(geoms)
    columns = [("id", ids, None), ("state", state, None), ("code", codes, None)]
    assert mvt.encode("buildings", mvt.POLYGON, cmds, offsets, columns, ids=ids) == _reference(
        features)


def test_nothing_left_is_an_empty_layer_and_other_kinds_are_refused() -> None:
    sliver = np.asarray([shapely.box(1, 1, 1.2, 1.2)], object)
    got = mvt.encode("buildings", mvt.POLYGON, *mvt.polygon_commands(sliver),
                     [("id", np.array([5]), None)], ids=np.array([5]))
    assert got == _reference([{"geometry": sliver[0], "id": 5, "properties": {"id": 5}}])
    assert mapbox_vector_tile.decode(got)["buildings"]["features"] == []  # a layer, no feature
    assert mvt.encode("buildings", mvt.POLYGON, *mvt.polygon_commands(sliver[:0])) == b""
    line = np.asarray([shapely.box(0, 0, 9, 9), shapely.LineString([(0, 0), (4, 4)])], object)
    assert mvt.polygon_commands(line) is None


@pytest.fixture(scope="module")
def city():
    """4,000 small rotated footprints around one spot, some wide ones, ids in any order."""
    rng = np.random.default_rng(11)
    n = 4000
    lon = 102.6 + rng.random(n) * 0.03
    lat = 24.6 + rng.random(n) * 0.03
    w = rng.random(n) * 0.0002 + 0.00003
    w[::400] = 0.003
    ids = rng.permutation(np.arange(10, 10 + n))
    foot = {int(i): shapely.affinity.rotate(
        shapely.box(lon[k] - w[k], lat[k] - w[k] / 2, lon[k] + w[k], lat[k] + w[k] / 2),
        float(rng.uniform(0, 60)), use_radians=False) for k, i in enumerate(ids)}  # fmt: skip
    bounds = np.array([foot[int(i)].bounds for i in ids])
    src = TileSource(ids, lon, lat, bounds, [f"B{i}" for i in ids], rng.integers(1, 30, n))
    states = rng.integers(0, len(STATES), n).astype(np.int8)
    return src, foot, states, rng


def _old_cells(src, sel, z, x, y, states, where) -> bytes:
    """The per-cell features the renderer built before gis.mvt, encoded by mapbox_vector_tile."""
    minx, miny, maxx, maxy = gis_tiles.tile_bounds(z, x, y)
    idx = sel.points(minx, miny, maxx, maxy)
    if where is not None and len(idx):
        idx = idx[where(idx)]
    if not len(idx):
        return b""
    size, g = maxx - minx, gis_tiles.GRID
    cx, cy = src.px[idx], src.py[idx]
    col = np.clip(((cx - minx) / size * g).astype(np.int64), 0, g - 1)
    row = np.clip(((maxy - cy) / size * g).astype(np.int64), 0, g - 1)
    cell = row * g + col
    counts = np.bincount(cell * len(STATES) + states[idx],
                         minlength=g * g * len(STATES)).reshape(g * g, len(STATES))
    total = counts.sum(axis=1)
    sx, sy = (np.bincount(cell, weights=v, minlength=g * g) for v in (cx, cy))
    out = []
    for c in np.flatnonzero(total).tolist():
        n = int(total[c])
        px, py = round((sx[c] / n - minx) * 4096 / size), round((maxy - sy[c] / n) * 4096 / size)
        props = {s: int(counts[c, k]) for k, s in enumerate(STATES) if counts[c, k]}
        props["n"] = n
        props["state"] = next(s for s in ("unvisited", "suspect", "revisit", "visited",
                                          "complete") if counts[c, STATES.index(s)])
        out.append({"geometry": f"POINT({px} {py})", "properties": props})
    return _reference(out) if out else b""


@pytest.mark.parametrize("z", range(11, 19))
def test_render_gives_the_bytes_of_the_per_feature_encoding(city, z, monkeypatch) -> None:
    src, foot, states, rng = city

    def footprints(ids):
        return [foot[int(i)] for i in ids]

    scope = src.select(np.isin(src.groups, np.arange(1, 12)))
    wanted = STATES.index("visited")

    def where(idx):
        return states[idx] == wanted

    lo = lonlat_to_tile(102.6, 24.63, z)
    hi = lonlat_to_tile(102.63, 24.6, z)
    cells = [(x, y) for x in range(lo[0] - 1, hi[0] + 2) for y in range(lo[1] - 1, hi[1] + 2)]
    picked = [cells[k] for k in rng.choice(len(cells), min(12, len(cells)), replace=False)]
    drawn = 0
    for x, y in picked:
        for sel, flt in ((None, None), (scope, None), (None, where), (scope, where)):
            got = src.render(z, x, y, states, within=sel, where=flt, footprints=footprints)
            if z >= gis_tiles.POLYGON_ZOOM:
                with monkeypatch.context() as m:  # the general encoder, feature by feature
                    m.setattr(mvt, "polygon_commands", lambda geoms: None)
                    want = src.render(z, x, y, states, within=sel, where=flt,
                                      footprints=footprints)
            else:
                want = _old_cells(src, sel or src.everything, z, x, y, states, flt)
            assert got == want, (z, x, y)
            drawn += bool(got)
    assert drawn  # the tiles picked hold buildings
