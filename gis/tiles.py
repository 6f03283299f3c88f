"""Mapbox vector tiles of buildings coloured by coverage state (no Flask).

A ``TileSource`` projects every footprint to Web Mercator once and keeps a spatial index;
``render`` cuts one tile. From ``POLYGON_ZOOM`` on, a tile holds the footprints (clipped,
snapped to the tile grid) with ``id``, ``code`` and ``state``; below it, buildings are counted
per grid cell and each non-empty cell is one point with the counts per state, so no tile ever
carries more than ``GRID**2`` features whatever the size of the city.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely

from gis.states import STATES

EXTENT = 4096
BUFFER = 64
POLYGON_ZOOM = 15
GRID = 64  # cells per tile side below POLYGON_ZOOM
HALF_WORLD = 20037508.342789244
LAYER = "buildings"


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web Mercator bounds (minx, miny, maxx, maxy) of tile z/x/y (XYZ scheme, y down)."""
    if not (0 <= z <= 24 and 0 <= x < 2**z and 0 <= y < 2**z):
        raise ValueError(f"no tile {z}/{x}/{y}")
    size = 2 * HALF_WORLD / 2**z
    minx = -HALF_WORLD + x * size
    maxy = HALF_WORLD - y * size
    return minx, maxy - size, minx + size, maxy


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


class TileSource:
    """Buildings in Web Mercator with a spatial index; ids sorted ascending."""

    def __init__(
        self,
        ids: np.ndarray,
        footprints: np.ndarray,
        codes: Sequence[str] | np.ndarray | None = None,
    ) -> None:
        order = np.argsort(ids, kind="stable")
        self.ids = np.asarray(ids)[order]
        # pyproj and mapbox_vector_tile load with the first tile, not when the server starts
        from pyproj import Transformer

        to_merc = Transformer.from_crs(4326, 3857, always_xy=True)

        def project(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(to_merc.transform(xy[:, 0], xy[:, 1]))

        self.footprints = shapely.transform(np.asarray(footprints, object)[order], project)
        self.codes = None if codes is None else np.asarray(codes, object)[order]
        c = shapely.get_coordinates(shapely.centroid(self.footprints))
        self.cx, self.cy = c[:, 0], c[:, 1]
        self._xorder = np.argsort(self.cx, kind="stable")
        self._xsorted = self.cx[self._xorder]
        self.tree = shapely.STRtree(self.footprints)

    def __len__(self) -> int:
        return len(self.ids)

    def _in_box(self, minx: float, miny: float, maxx: float, maxy: float) -> np.ndarray:
        lo, hi = np.searchsorted(self._xsorted, [minx, maxx], side="left")
        cand = self._xorder[lo:hi]
        y = self.cy[cand]
        return np.sort(cand[(y >= miny) & (y < maxy)])

    def render(
        self, z: int, x: int, y: int, states: np.ndarray, mask: np.ndarray | None = None
    ) -> bytes:
        """One tile; ``states`` are codes into STATES aligned with the sorted ids."""
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        if z >= POLYGON_ZOOM:
            features = self._polygons(minx, miny, maxx, maxy, states, mask)
        else:
            features = self._cells(minx, miny, maxx, maxy, states, mask)
        if not features:
            return b""
        import mapbox_vector_tile

        return mapbox_vector_tile.encode(
            [{"name": LAYER, "features": features}],
            default_options={"extents": EXTENT, "y_coord_down": True},
        )

    def _polygons(self, minx, miny, maxx, maxy, states, mask) -> list[dict]:
        size = maxx - minx
        pad = size * BUFFER / EXTENT
        idx = self.tree.query(shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad))
        idx = np.sort(idx)
        if mask is not None:
            idx = idx[mask[idx]]
        if not len(idx):
            return []
        scale = EXTENT / size

        def to_tile(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(((xy[:, 0] - minx) * scale, (maxy - xy[:, 1]) * scale))

        geoms = shapely.transform(self.footprints[idx], to_tile)
        geoms = shapely.set_precision(geoms, 1.0)
        geoms = shapely.clip_by_rect(geoms, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
        keep = ~shapely.is_empty(geoms)
        out = []
        for i, g in zip(idx[keep].tolist(), geoms[keep].tolist(), strict=True):
            props = {"id": int(self.ids[i]), "state": STATES[states[i]]}
            if self.codes is not None:
                props["code"] = str(self.codes[i])
            out.append({"geometry": g, "properties": props, "id": int(self.ids[i])})
        return out

    def _cells(self, minx, miny, maxx, maxy, states, mask) -> list[dict]:
        idx = self._in_box(minx, miny, maxx, maxy)
        if mask is not None:
            idx = idx[mask[idx]]
        if not len(idx):
            return []
        size = maxx - minx
        col = np.clip(((self.cx[idx] - minx) / size * GRID).astype(np.int64), 0, GRID - 1)
        row = np.clip(((maxy - self.cy[idx]) / size * GRID).astype(np.int64), 0, GRID - 1)
        cell = row * GRID + col
        counts = np.bincount(
            cell * len(STATES) + states[idx], minlength=GRID * GRID * len(STATES)
        ).reshape(GRID * GRID, len(STATES))
        total = counts.sum(axis=1)
        sx = np.bincount(cell, weights=self.cx[idx], minlength=GRID * GRID)
        sy = np.bincount(cell, weights=self.cy[idx], minlength=GRID * GRID)
        scale = EXTENT / size
        out = []
        for c in np.flatnonzero(total).tolist():
            n = int(total[c])
            px = round((sx[c] / n - minx) * scale)
            py = round((maxy - sy[c] / n) * scale)
            props = {s: int(counts[c, k]) for k, s in enumerate(STATES) if counts[c, k]}
            props["n"] = n
            # colour by the most urgent state present: missed buildings must stand out
            props["state"] = _urgent(counts[c])
            out.append({"geometry": f"POINT({px} {py})", "properties": props})
        return out


def _urgent(row: np.ndarray) -> str:
    for s in ("unvisited", "suspect", "revisit", "visited", "complete"):
        if row[STATES.index(s)]:
            return s
    return "unvisited"
