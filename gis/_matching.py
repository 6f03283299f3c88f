"""Vectorised visit-to-building matching in a local UTM projection.

Exact distances (GEOS, point to polygon) are computed only where cheap bounds cannot decide:
with ``q`` a point inside the footprint and ``r`` the largest distance from ``q`` to a vertex,
``|p - q| - r <= distance(p, footprint) <= |p - q|``.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from gis._tables import Buildings, py

if TYPE_CHECKING:
    from pyproj import Transformer

_EPS = 1e-6
_PARALLEL_MIN = 200_000
_GRID_MIN = 256


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the UTM zone holding (lon, lat): 326zz north, 327zz south, no exceptions."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError(f"cannot choose a UTM zone for ({lon}, {lat})")
    zone = min(60, max(1, math.floor((lon + 180.0) / 6.0) + 1))
    return (32600 if lat >= 0 else 32700) + zone


@dataclass(slots=True)
class MatchArrays:
    """Per visit: building position (-1 none), distance m (NaN unknown), flags."""

    bpos: np.ndarray
    distance: np.ndarray
    far: np.ndarray
    poor_accuracy: np.ndarray
    unmatched: np.ndarray


class PreparedBuildings:
    """Buildings sorted by id and projected once, with the bounds the filters need."""

    def __init__(self, buildings: Buildings, epsg: int | None = None) -> None:
        order = np.argsort(buildings.ids, kind="stable")
        self.ids = buildings.ids[order]
        self.streets = buildings.streets[order]
        self.expected_units = buildings.expected_units[order]
        fp = buildings.footprints[order]
        if len(fp):
            minx, miny, maxx, maxy = shapely.total_bounds(fp)
            centre = ((minx + maxx) / 2, (miny + maxy) / 2)
        else:
            centre = (0.0, 0.0)
        self.epsg = epsg or utm_epsg(*centre)
        # pyproj is imported where it projects, not when the server starts (see tests/test_cli.py)
        from pyproj import Transformer

        self.to_utm = Transformer.from_crs(4326, self.epsg, always_xy=True)
        self.footprints = shapely.transform(fp, self._project_xy)
        q = shapely.point_on_surface(self.footprints)
        self.qx, self.qy = shapely.get_x(q), shapely.get_y(q)
        coords, idx = shapely.get_coordinates(self.footprints, return_index=True)
        d = np.hypot(coords[:, 0] - self.qx[idx], coords[:, 1] - self.qy[idx])
        self.radius = np.zeros(len(fp))
        np.maximum.at(self.radius, idx, d)
        self.bounds = shapely.bounds(self.footprints)
        self._tree: shapely.STRtree | None = None
        self._grid: tuple[float, np.ndarray, np.ndarray] | None = None
        self._to_utm2: Transformer | None = None
        # integer ids spanning a modest range: an O(1) lookup table instead of a binary search
        self._lookup: np.ndarray | None = None
        if self.ids.dtype.kind in "iu" and len(self.ids):
            span = int(self.ids[-1]) - int(self.ids[0]) + 1
            if span <= 4 * len(self.ids) + 1024:
                self._lookup = np.full(span, -1, np.int64)
                self._lookup[self.ids - self.ids[0]] = np.arange(len(self.ids))

    def __len__(self) -> int:
        return len(self.ids)

    def _project_points(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """pyproj releases the GIL: big batches run in two threads, one Transformer each."""
        n = len(lon)
        if n < _PARALLEL_MIN:
            x, y = self.to_utm.transform(lon, lat)
            return np.asarray(x, float).reshape(n), np.asarray(y, float).reshape(n)
        if self._to_utm2 is None:
            from pyproj import Transformer

            self._to_utm2 = Transformer.from_crs(4326, self.epsg, always_xy=True)
        h = n // 2
        x, y = np.empty(n), np.empty(n)

        def run(t: Transformer, sl: slice) -> None:
            x[sl], y[sl] = t.transform(lon[sl], lat[sl])

        with ThreadPoolExecutor(2) as ex:
            done = [
                ex.submit(run, self.to_utm, slice(0, h)),
                ex.submit(run, self._to_utm2, slice(h, n)),
            ]
            for f in done:
                f.result()
        return x, y

    def _project_xy(self, xy: np.ndarray) -> np.ndarray:
        return np.column_stack(self.to_utm.transform(xy[:, 0], xy[:, 1]))

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(self.footprints)
        return self._tree

    def positions(
        self, building_ids: np.ndarray, has_building: np.ndarray, visit_ids: np.ndarray
    ) -> np.ndarray:
        """Positions of chosen building ids (-1 where none chosen); unknown id -> ValueError."""
        pos = np.full(len(building_ids), -1, np.int64)
        sel = np.flatnonzero(has_building)
        if not len(sel):
            return pos
        wanted = building_ids[sel]
        if (wanted.dtype.kind in "iu" and self.ids.dtype.kind not in "iu") or (
            wanted.dtype.kind in "US" and self.ids.dtype.kind not in "US"
        ):
            raise ValueError("building_ids do not have the type of the buildings' ids")
        if self._lookup is not None:
            off = wanted - self.ids[0]
            inside = (off >= 0) & (off < len(self._lookup))
            found = np.where(inside, self._lookup[np.where(inside, off, 0)], -1)
            ok = found >= 0
        else:
            found = np.minimum(np.searchsorted(self.ids, wanted), max(len(self.ids) - 1, 0))
            ok = self.ids[found] == wanted if len(self.ids) else np.zeros(len(sel), bool)
        if not ok.all():
            k = int(np.flatnonzero(~ok)[0])
            vid = visit_ids[sel[k]]
            raise ValueError(
                f"visit {py(vid)!r}: building_id {py(wanted[k])!r} is not a known building"
            )
        pos[sel] = found
        return pos

    def match(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        accuracy: np.ndarray,
        chosen: np.ndarray,
        match_distance_m: float,
        max_accuracy_m: float,
        exact: bool,
    ) -> MatchArrays:
        """Match visits; with ``exact`` every distance is measured, else only where needed."""
        n = len(lon)
        x, y = self._project_points(lon, lat)
        located = np.isfinite(x) & np.isfinite(y)
        poor = ~(accuracy <= max_accuracy_m) | ~located  # NaN accuracy or no geotag: poor
        bpos = chosen.copy()
        dist = np.full(n, np.nan)
        far = np.zeros(n, bool)
        c = np.flatnonzero((chosen >= 0) & located)
        u = np.flatnonzero((chosen < 0) & located)
        if len(c):
            far[c], dist[c] = self._check_chosen(x[c], y[c], chosen[c], match_distance_m, exact)
        if len(u):
            bpos[u], dist[u] = self._nearest(x[u], y[u], match_distance_m)
        unmatched = bpos < 0
        return MatchArrays(bpos, dist, far, poor, unmatched)

    def _check_chosen(
        self, x: np.ndarray, y: np.ndarray, b: np.ndarray, thr: float, exact: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        dq = np.hypot(x - self.qx[b], y - self.qy[b])
        sure_near = dq <= thr - _EPS  # margins keep rounding from deciding a borderline case
        sure_far = dq - self.radius[b] > thr + _EPS
        need = np.ones(len(b), bool) if exact else ~(sure_near | sure_far)
        dist = np.full(len(b), np.nan)
        k = np.flatnonzero(need)
        if len(k):
            dist[k] = shapely.distance(shapely.points(x[k], y[k]), self.footprints[b[k]])
        far = np.where(need, dist > thr, sure_far)
        return far, dist

    def _near_q(self, x: np.ndarray, y: np.ndarray, cell: float) -> np.ndarray:
        """Per point, the distance to *some* nearby point-on-surface (inf if none is found).

        The points-on-surface are binned in a grid of `cell` metres (sorted cell keys); a visit
        looks in its own and the 8 neighbouring cells (three runs of keys). Any footprint's
        |p - q| bounds its distance from above, so the least found bounds the nearest one's.
        """
        if self._grid is None or self._grid[0] != cell:
            kx = np.floor(self.qx / cell).astype(np.int64)
            ky = np.floor(self.qy / cell).astype(np.int64)
            key = (kx << 32) + ky
            order = np.argsort(key, kind="stable")
            self._grid = (cell, key[order], order)
        _, keys, order = self._grid
        best = np.full(len(x), np.inf)
        if not len(keys) or not len(x):
            return best
        vx = np.floor(x / cell).astype(np.int64)
        vy = np.floor(y / cell).astype(np.int64)
        by_cell = np.argsort((vx << 32) + vy)  # sorted queries: searchsorted stays in cache
        x, y, vx, vy = x[by_cell], y[by_cell], vx[by_cell], vy[by_cell]
        for dx in (-1, 0, 1):  # a column of 3 cells is one run of sorted keys
            k = ((vx + dx) << 32) + vy
            lo = np.searchsorted(keys, k - 1, "left")
            n = np.searchsorted(keys, k + 1, "right") - lo
            has = np.flatnonzero(n)
            if not len(has):
                continue
            reps = n[has]
            first = np.cumsum(reps) - reps  # where each visit's run of pairs starts
            v = np.repeat(has, reps)
            b = order[np.repeat(lo[has] - first, reps) + np.arange(len(v))]
            d = np.hypot(x[v] - self.qx[b], y[v] - self.qy[b])
            best[has] = np.minimum(best[has], np.minimum.reduceat(d, first))
        out = np.empty_like(best)
        out[by_cell] = best
        return out

    def _nearest(self, x: np.ndarray, y: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
        """Nearest footprint within thr (inclusive); ties -> lowest id (= lowest position).

        Candidates come from a bounding-box query; a pair is measured exactly only if its lower
        bound (box distance, rep-point distance minus radius) can beat the visit's best upper
        bound (rep-point distance) and the threshold.
        """
        bpos = np.full(len(x), -1, np.int64)
        dist = np.full(len(x), np.nan)
        # Each visit's box needs only reach its nearest point-on-surface (an upper bound on the
        # answer; see _near_q): in a dense city that cuts the pairs to measure about fivefold.
        r = np.full(len(x), thr + 2 * _EPS)
        if len(x) >= _GRID_MIN:  # for a few visits the grid costs more than it saves
            r = np.minimum(self._near_q(x, y, thr / 2.0), thr) + 2 * _EPS
        vi, bi = self.tree.query(shapely.box(x - r, y - r, x + r, y + r))
        if not len(vi):
            return bpos, dist
        if (vi[1:] < vi[:-1]).any():  # not promised by shapely; cheap to make sure
            order = np.argsort(vi, kind="stable")
            vi, bi = vi[order], bi[order]
        px, py = x[vi], y[vi]
        b = self.bounds[bi]
        dx = np.maximum(np.maximum(b[:, 0] - px, px - b[:, 2]), 0.0)
        dy = np.maximum(np.maximum(b[:, 1] - py, py - b[:, 3]), 0.0)
        dq = np.hypot(px - self.qx[bi], py - self.qy[bi])
        lower = np.maximum(np.hypot(dx, dy), dq - self.radius[bi])
        # pairs come grouped by visit (STRtree.query orders by input): a segmented minimum
        starts = np.r_[0, np.flatnonzero(vi[1:] != vi[:-1]) + 1]
        best = np.minimum.reduceat(dq, starts)
        best_per_pair = np.repeat(best, np.diff(np.r_[starts, len(vi)]))
        keep = lower <= np.minimum(best_per_pair, thr) + _EPS
        vi, bi = vi[keep], bi[keep]
        d = shapely.distance(shapely.points(x[vi], y[vi]), self.footprints[bi])
        ok = d <= thr
        vi, bi, d = vi[ok], bi[ok], d[ok]
        if not len(vi):
            return bpos, dist
        # ties: distances equal to the millimetre -> lowest id (float noise must not decide)
        order = np.lexsort((bi, np.round(d * 1000.0), vi))
        vi, bi, d = vi[order], bi[order], d[order]
        first = np.r_[True, vi[1:] != vi[:-1]]
        bpos[vi[first]], dist[vi[first]] = bi[first], d[first]
        return bpos, dist
