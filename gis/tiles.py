"""Mapbox vector tiles of buildings coloured by coverage state (no Flask).

A ``TileSource`` holds every building as arrays in Web Mercator (representative point, bounding
box, street id) searched by binary search on a sorted edge; a ``Selection`` is the same index over
some buildings (a user's scope), built once per scope; ``render`` cuts one tile. From
``POLYGON_ZOOM`` on, a tile holds the footprints (clipped, snapped to the tile grid) with ``id``,
``code`` and ``state``; below it, buildings are counted per grid cell and each non-empty cell is
one point with the counts per state, so no tile ever carries more than ``GRID**2`` features
whatever the size of the city.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import shapely

from gis import mvt
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


R = 6378137.0  # the sphere of EPSG:3857
MAX_LAT = 85.0511287798066


def to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 degrees to Web Mercator metres (EPSG:3857's spherical formulas, vectorised)."""
    lam = np.radians(np.asarray(lon, float))
    phi = np.radians(np.clip(np.asarray(lat, float), -MAX_LAT, MAX_LAT))
    return lam * R, np.log(np.tan(np.pi / 4 + phi / 2)) * R


def from_mercator(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator metres back to WGS 84 degrees."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return np.degrees(x / R), np.degrees(2 * np.arctan(np.exp(y / R)) - np.pi / 2)


def _project(xy: np.ndarray) -> np.ndarray:
    return np.column_stack(to_mercator(xy[:, 0], xy[:, 1]))


#: The arrays a TileSource is made of (saved and loaded as they are: no geometry objects).
ARRAYS = ("ids", "px", "py", "minx", "miny", "maxx", "maxy", "groups", "codes")


class Selection:
    """Positions of some buildings sorted by their bounding box's west edge, with sorted copies
    of what a tile's search reads: a tile looks only at a slice of it (binary search) and never
    at the buildings outside the selection. One for every building, one per scope."""

    def __init__(self, src: TileSource, positions: np.ndarray) -> None:
        pos = positions[np.argsort(src.minx[positions], kind="stable")]
        self.positions = pos
        self.minx, self.maxx = src.minx[pos], src.maxx[pos]
        self.miny, self.maxy = src.miny[pos], src.maxy[pos]
        self.px, self.py = src.px[pos], src.py[pos]
        self.width = float((self.maxx - self.minx).max()) if len(pos) else 0.0

    @classmethod
    def subset(cls, parent: Selection, mask: np.ndarray) -> Selection:
        """The parent's entries where `mask` (a bool per entry) holds, in the parent's order:
        the west edges stay sorted, ties by position, as a stable sort would leave them."""
        self = cls.__new__(cls)
        for name in ("positions", "minx", "maxx", "miny", "maxy", "px", "py"):
            setattr(self, name, np.asarray(getattr(parent, name))[mask])
        self.width = float((self.maxx - self.minx).max()) if len(self.positions) else 0.0
        return self

    def __len__(self) -> int:
        return len(self.positions)

    def extent(self) -> tuple[float, float, float, float] | None:
        """(minlon, minlat, maxlon, maxlat) of the selected buildings; None if there are none."""
        if not len(self.positions):
            return None
        west, south = from_mercator(self.minx.min(), self.miny.min())
        east, north = from_mercator(self.maxx.max(), self.maxy.max())
        return float(west), float(south), float(east), float(north)

    def _strip(self, lo: float, hi: float) -> slice:
        a, b = np.searchsorted(self.minx, [lo - self.width, hi], side="left")
        return slice(int(a), int(b))

    def boxes(self, minx: float, miny: float, maxx: float, maxy: float) -> np.ndarray:
        """Positions whose bounding box meets the box (an STRtree query's answer)."""
        s = self._strip(minx, maxx + 1e-9)
        hit = ((self.maxx[s] >= minx) & (self.minx[s] <= maxx)
               & (self.maxy[s] >= miny) & (self.miny[s] <= maxy))  # fmt: skip
        return self.positions[s][hit]

    def points(self, minx: float, miny: float, maxx: float, maxy: float) -> np.ndarray:
        """Positions whose representative point lies in [minx, maxx) x [miny, maxy)."""
        s = self._strip(minx, maxx)
        x, y = self.px[s], self.py[s]
        hit = (x >= minx) & (x < maxx) & (y >= miny) & (y < maxy)
        return self.positions[s][hit]


class TileSource:
    """Buildings as plain arrays in Web Mercator, ids ascending: representative point, bounding
    box, group (the street's integer id), code. Footprints are not held: a polygon tile asks
    ``footprints(ids)`` for the few it draws, so the source is cheap to build, to save and to
    load (``arrays()`` / ``from_arrays``), and one process's work can serve every other."""

    def __init__(self, ids, lon, lat, bounds, codes=None, groups=None) -> None:
        order = np.argsort(np.asarray(ids), kind="stable")
        self.ids = np.asarray(ids, np.int64)[order]
        self.px, self.py = to_mercator(np.asarray(lon, float)[order], np.asarray(lat, float)[order])
        b = np.asarray(bounds, float).reshape(-1, 4)[order]
        self.minx, self.miny = to_mercator(b[:, 0], b[:, 1])
        self.maxx, self.maxy = to_mercator(b[:, 2], b[:, 3])
        n = len(self.ids)
        self.groups = (np.zeros(n, np.int64) if groups is None
                       else np.asarray(groups, np.int64)[order])  # fmt: skip
        self.codes = np.asarray([] if codes is None else codes, str)
        if len(self.codes):
            self.codes = self.codes[order]
        self.everything = Selection(self, np.arange(n))

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], everything: Selection | None = None
    ) -> TileSource:
        """The source of saved arrays (with its saved Selection of everything, if given)."""
        self = cls.__new__(cls)
        for name in ARRAYS:
            setattr(self, name, arrays[name])
        self.everything = everything or Selection(self, np.arange(len(self.ids)))
        return self

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAYS}

    def __len__(self) -> int:
        return len(self.ids)

    def select(self, keep: np.ndarray) -> Selection:
        """A Selection of the buildings where `keep` (a bool per building) holds. A large one
        (a township of a million buildings) is taken from the Selection of everything in its
        order, not sorted again; a few streets' buildings are sorted, cheaper than that pass."""
        keep = np.asarray(keep, bool)
        if np.count_nonzero(keep) * 8 < len(keep):
            return Selection(self, np.flatnonzero(keep))
        ev = self.everything
        return Selection.subset(ev, keep[np.asarray(ev.positions)])

    def render(
        self, z: int, x: int, y: int, states: np.ndarray,
        within: Selection | None = None,
        where: Callable[[np.ndarray], np.ndarray] | None = None,
        footprints: Callable[[np.ndarray], Sequence] | None = None,
    ) -> bytes:
        """One tile; ``states`` are codes into STATES aligned with the ids. Only buildings of
        ``within`` (default: all) for whose positions ``where`` holds are drawn; ``footprints``
        gives the WGS 84 footprints of building ids (tiles from POLYGON_ZOOM need it)."""
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        sel = self.everything if within is None else within
        if z >= POLYGON_ZOOM:
            if footprints is None:
                raise ValueError("a polygon tile needs the footprints")
            return self._polygons(sel, (minx, miny, maxx, maxy), states, where, footprints)
        return self._cells(sel, (minx, miny, maxx, maxy), states, where)

    def _polygons(self, sel, box, states, where, footprints) -> bytes:
        minx, miny, maxx, maxy = box
        size = maxx - minx
        pad = size * BUFFER / EXTENT
        idx = np.sort(sel.boxes(minx - pad, miny - pad, maxx + pad, maxy + pad))
        if where is not None and len(idx):
            idx = idx[where(idx)]
        if not len(idx):
            return b""
        scale = EXTENT / size

        def to_tile(xy: np.ndarray) -> np.ndarray:
            xy = _project(xy)
            return np.column_stack(((xy[:, 0] - minx) * scale, (maxy - xy[:, 1]) * scale))

        geoms = shapely.transform(np.asarray(footprints(self.ids[idx]), object), to_tile)
        geoms = shapely.set_precision(geoms, 1.0)
        geoms = shapely.clip_by_rect(geoms, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
        keep = ~shapely.is_empty(geoms)
        idx, geoms = idx[keep], geoms[keep]
        ids = self.ids[idx]
        columns: list[mvt.Column] = [("id", ids, None), ("state", _NAMES[states[idx]], None)]
        if len(self.codes):
            columns.append(("code", self.codes[idx], None))
        encoded = mvt.polygon_commands(geoms)
        if encoded is None:  # a clip that left lines or points: the general encoder
            return _reference(geoms, columns, ids)
        return mvt.encode(LAYER, mvt.POLYGON, *encoded, columns, ids=ids)

    def _cells(self, sel, box, states, where) -> bytes:
        minx, miny, maxx, maxy = box
        idx = sel.points(minx, miny, maxx, maxy)
        if where is not None and len(idx):
            idx = idx[where(idx)]
        if not len(idx):
            return b""
        size = maxx - minx
        cx, cy = self.px[idx], self.py[idx]
        col = np.clip(((cx - minx) / size * GRID).astype(np.int64), 0, GRID - 1)
        row = np.clip(((maxy - cy) / size * GRID).astype(np.int64), 0, GRID - 1)
        cell = row * GRID + col
        counts = np.bincount(
            cell * len(STATES) + states[idx], minlength=GRID * GRID * len(STATES)
        ).reshape(GRID * GRID, len(STATES))
        total = counts.sum(axis=1)
        sx = np.bincount(cell, weights=cx, minlength=GRID * GRID)
        sy = np.bincount(cell, weights=cy, minlength=GRID * GRID)
        scale = EXTENT / size
        full = np.flatnonzero(total)
        counts, total = counts[full], total[full]
        px = np.rint((sx[full] / total - minx) * scale).astype(np.int64)
        py = np.rint((maxy - sy[full] / total) * scale).astype(np.int64)
        # colour by the most urgent state present: missed buildings must stand out
        urgent = np.full(len(full), STATES.index("unvisited"), np.int64)
        for s in _URGENCY[::-1]:
            k = STATES.index(s)
            urgent[counts[:, k] > 0] = k
        columns: list[mvt.Column] = [(s, counts[:, k], counts[:, k] > 0)
                                     for k, s in enumerate(STATES)]
        columns += [("n", total, None), ("state", _NAMES[urgent], None)]
        return mvt.encode(LAYER, mvt.POINT, *mvt.point_commands(px, py), columns)


_NAMES = np.array(STATES, object)
_URGENCY = ("unvisited", "suspect", "revisit", "visited", "complete")


def _reference(geoms: np.ndarray, columns: list, ids: np.ndarray) -> bytes:
    """mapbox_vector_tile's encoding of the features (what gis.mvt's equals)."""
    import mapbox_vector_tile

    features = [{"geometry": g, "id": int(ids[i]),
                 "properties": {k: (int(v[i]) if isinstance(v[i], np.integer) else str(v[i]))
                                for k, v, _ in columns}}
                for i, g in enumerate(geoms.tolist())]  # fmt: skip
    if not features:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": LAYER, "features": features}],
        default_options={"extents": EXTENT, "y_coord_down": True},
    )
