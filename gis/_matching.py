"""Vectorised visit-to-building matching in a local UTM projection.

Exact distances (GEOS, point to polygon) are computed only where cheap bounds cannot decide:
with ``q`` a point inside the footprint and ``r`` the largest distance from ``q`` to a vertex,
``|p - q| - r <= distance(p, footprint) <= |p - q|``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer

from gis._tables import Buildings

_EPS = 1e-6


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
        self.to_utm = Transformer.from_crs(4326, self.epsg, always_xy=True)
        self.footprints = shapely.transform(fp, self._project_xy)
        q = shapely.point_on_surface(self.footprints)
        self.qx, self.qy = shapely.get_x(q), shapely.get_y(q)
        coords, idx = shapely.get_coordinates(self.footprints, return_index=True)
        d = np.hypot(coords[:, 0] - self.qx[idx], coords[:, 1] - self.qy[idx])
        self.radius = np.zeros(len(fp))
        np.maximum.at(self.radius, idx, d)
        self._tree: shapely.STRtree | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def _project_xy(self, xy: np.ndarray) -> np.ndarray:
        return np.column_stack(self.to_utm.transform(xy[:, 0], xy[:, 1]))

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(self.footprints)
        return self._tree

    def positions(self, building_ids: np.ndarray, visit_ids: np.ndarray) -> np.ndarray:
        """Positions of chosen building ids (-1 where none chosen); unknown id -> ValueError."""
        n = len(building_ids)
        if building_ids.dtype == object:
            chosen = np.array([v is not None and v == v for v in building_ids], bool)
        elif building_ids.dtype.kind == "f":
            chosen = ~np.isnan(building_ids)
        else:
            chosen = np.ones(n, bool)
        pos = np.full(n, -1, np.int64)
        if not chosen.any():
            return pos
        wanted = building_ids[chosen]
        try:
            wanted = wanted.astype(self.ids.dtype) if self.ids.dtype.kind != "O" else wanted
        except (TypeError, ValueError):
            raise ValueError("building_ids do not have the type of the buildings' ids") from None
        found = np.searchsorted(self.ids, wanted)
        found = np.minimum(found, max(len(self.ids) - 1, 0))
        ok = (self.ids[found] == wanted) if len(self.ids) else np.zeros(len(wanted), bool)
        if not ok.all():
            k = int(np.flatnonzero(~ok)[0])
            vid = visit_ids[np.flatnonzero(chosen)[k]]
            raise ValueError(f"visit {vid!r}: building_id {wanted[k]!r} is not a known building")
        pos[chosen] = found
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
        x, y = self.to_utm.transform(lon, lat)
        x, y = np.asarray(x, float).reshape(n), np.asarray(y, float).reshape(n)
        located = np.isfinite(x) & np.isfinite(y)
        poor = ~(accuracy <= max_accuracy_m) | ~located  # NaN accuracy or no geotag: poor
        bpos = chosen.copy()
        dist = np.full(n, np.nan)
        far = np.zeros(n, bool)
        c = np.flatnonzero((chosen >= 0) & located)
        if len(c):
            far[c], dist[c] = self._check_chosen(x[c], y[c], chosen[c], match_distance_m, exact)
        u = np.flatnonzero((chosen < 0) & located)
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

    def _nearest(self, x: np.ndarray, y: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
        """Nearest footprint within thr (inclusive); ties -> lowest id (= lowest position)."""
        pts = shapely.points(x, y)
        vi, bi = self.tree.query(pts, predicate="dwithin", distance=thr)
        bpos = np.full(len(x), -1, np.int64)
        dist = np.full(len(x), np.nan)
        if len(vi):
            d = shapely.distance(pts[vi], self.footprints[bi])
            order = np.lexsort((bi, d, vi))
            vi, bi, d = vi[order], bi[order], d[order]
            first = np.r_[True, vi[1:] != vi[:-1]]
            bpos[vi[first]], dist[vi[first]] = bi[first], d[first]
        return bpos, dist
