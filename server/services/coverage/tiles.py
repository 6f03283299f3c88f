"""Vector tiles of the coverage map, cached per process and invalidated on coverage change.

The buildings come from the shared source (source.py: arrays built once per buildings version
and saved for every process), the user's streets as a Selection built once per scope, and the
states as one int8 array per round; a tile reads only the buildings of its scope near it, and
a polygon tile reads its footprints from the database. Tiles are cached by everything that
shapes them and the round's states reload number; when the states are patched from the change
feed (source.py), only the tiles that hold a changed building are dropped. The ETag is the
tile's own hash, so every process gives the same.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
import shapely
import sqlalchemy as sa

from gis.tiles import BUFFER, EXTENT, HALF_WORLD, STATES
from server.models import Building
from server.services.coverage import counts as street_counts
from server.services.coverage import source as shared_source
from server.services.coverage import store as coverage

MAX_TILES = 4096
_TILES: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()
_LOCK = threading.Lock()
#: Cache hits, misses and tiles dropped because a building in them changed (tests, benches).
STATS = {"hits": 0, "misses": 0, "dropped": 0}
_UNVISITED = STATES.index("unvisited")


def footprints(ids: np.ndarray) -> np.ndarray:
    """WGS 84 footprints of the buildings `ids` (ascending), in that order."""
    found: dict[int, bytes] = {}
    ids_list = ids.tolist()
    for start in range(0, len(ids_list), 5000):
        stmt = sa.select(Building.id, Building.footprint).where(
            Building.id.in_(ids_list[start : start + 5000]))
        found.update(coverage.fetch_tuples(stmt))
    return shapely.from_wkb(np.asarray([found[i] for i in ids_list], object))


def tile(
    round_id: int, z: int, x: int, y: int, streets: frozenset[int] | None, state: str | None,
    compare_id: int | None = None,
) -> tuple[bytes, str]:
    """(MVT bytes, ETag) of one tile; `streets` (integer street ids, None: every building)
    limits buildings to those streets, and `compare_id` to those visited in that round and
    still unvisited in this one."""
    shared = shared_source.shared()
    codes, key = shared_source.states(round_id)
    before = before_key = None
    if compare_id is not None:
        before, before_key = shared_source.states(compare_id)
    ckey = (coverage.db_key(), key, round_id, z, x, y, streets, state, compare_id, before_key)
    hit = _TILES.get(ckey)
    if hit is not None:
        STATS["hits"] += 1
        _TILES.move_to_end(ckey)
        return hit
    STATS["misses"] += 1
    wanted = None if state is None else STATES.index(state)

    def where(idx: np.ndarray) -> np.ndarray:
        keep = np.ones(len(idx), bool)
        if wanted is not None:
            keep &= codes[idx] == wanted
        if before is not None:
            keep &= (before[idx] != _UNVISITED) & (codes[idx] == _UNVISITED)
        return keep

    data = shared.source.render(
        z, x, y, codes, within=shared.selection(streets),
        where=where if wanted is not None or before is not None else None,
        footprints=footprints,
    )
    etag = hashlib.sha256(data).hexdigest()[:32]  # the same tile has the same tag everywhere
    entry = (data, etag)
    with _LOCK:  # a patch that came while drawing has replaced the arrays: do not keep it
        if shared_source.current(round_id) is codes and (
                compare_id is None or shared_source.current(compare_id) is before):
            _TILES[ckey] = entry
            while len(_TILES) > MAX_TILES:
                _TILES.popitem(last=False)
    return entry


def _reach(positions: np.ndarray, z: int) -> set[tuple[int, int]]:
    """The tiles (x, y) of zoom z that may draw a building at those positions: its box and
    point, widened by the tile buffer (a little more than the renderer reads)."""
    src = shared_source.shared().source
    size = 2 * HALF_WORLD / 2**z
    pad = size * (BUFFER + 1) / EXTENT
    lo_x = np.minimum(src.minx[positions], src.px[positions]) - pad
    hi_x = np.maximum(src.maxx[positions], src.px[positions]) + pad
    lo_y = np.minimum(src.miny[positions], src.py[positions]) - pad
    hi_y = np.maximum(src.maxy[positions], src.py[positions]) + pad
    n = 2**z - 1
    x0 = np.clip(np.floor((lo_x + HALF_WORLD) / size), 0, n).astype(np.int64)
    x1 = np.clip(np.floor((hi_x + HALF_WORLD) / size), 0, n).astype(np.int64)
    y0 = np.clip(np.floor((HALF_WORLD - hi_y) / size), 0, n).astype(np.int64)
    y1 = np.clip(np.floor((HALF_WORLD - lo_y) / size), 0, n).astype(np.int64)
    out: set[tuple[int, int]] = set()
    for a, b, c, d in zip(x0.tolist(), x1.tolist(), y0.tolist(), y1.tolist(), strict=True):
        out.update((x, y) for x in range(a, b + 1) for y in range(c, d + 1))
    return out


def _drop(dbkey: str, round_id: int, positions: np.ndarray) -> None:
    """Forget the cached tiles of the round (or compared with it) that hold a changed building;
    every other tile stays a hit."""
    with _LOCK:
        mine = [k for k in _TILES if k[0] == dbkey and round_id in (k[2], k[8])]
        reach = {z: _reach(positions, z) for z in {k[3] for k in mine}}
        gone = [k for k in mine if (k[4], k[5]) in reach[k[3]]]
        for k in gone:
            del _TILES[k]
        STATS["dropped"] += len(gone)


shared_source.on_patch(_drop)


def clear() -> None:
    """Forget every cached tile and array (tests, imports)."""
    shared_source.clear()
    street_counts.clear()
    _TILES.clear()
