"""Vector tiles of the coverage map, cached per process and invalidated on coverage change.

The buildings come from the shared source (source.py: arrays built once per buildings version
and saved for every process), the user's streets as a Selection built once per scope, and the
states as one int8 array per round; a tile reads only the buildings of its scope near it, and
a polygon tile reads its footprints from the database. Tiles are cached by everything that
shapes them; the ETag is the tile's own hash, so every process gives the same.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import shapely
import sqlalchemy as sa

from gis.tiles import STATES
from server.models import Building
from server.services.coverage import source as shared_source
from server.services.coverage import store as coverage

MAX_TILES = 4096
_TILES: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()
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
        _TILES.move_to_end(ckey)
        return hit
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
    _TILES[ckey] = (data, etag)
    while len(_TILES) > MAX_TILES:
        _TILES.popitem(last=False)
    return data, etag


def clear() -> None:
    """Forget every cached tile and array (tests, imports)."""
    shared_source.clear()
    _TILES.clear()
