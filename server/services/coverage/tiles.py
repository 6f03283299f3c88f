"""Vector tiles of the coverage map, cached per process and invalidated on coverage change.

The TileSource (Web Mercator footprints + index) is built once per set of buildings; the state
of every building in a round is one int8 array reloaded when coverage changes (in this process
at once; from other processes within PROBE_SECONDS). Tiles are cached by everything that
shapes them, and their ETag says so.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import shapely
import sqlalchemy as sa

from gis.tiles import STATES, TileSource
from server.extensions import db
from server.models import Area, Building, BuildingCoverage, Visit
from server.services.coverage import store as coverage

PROBE_SECONDS = 5.0
MAX_TILES = 4096

_LOCK = threading.Lock()


@dataclass
class _Source:
    signature: tuple
    source: TileSource
    streets: np.ndarray  # street code per building (sorted ids)


@dataclass
class _States:
    key: tuple
    codes: np.ndarray
    probed_at: float


_SOURCES: dict[str, _Source] = {}
_STATES: dict[tuple, _States] = {}
_TILES: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()


def source() -> _Source:
    key = coverage.db_key()
    sig = (coverage.generation()[0], db.session.scalar(sa.select(sa.func.max(Building.id))))
    cached = _SOURCES.get(key)
    if cached is not None and cached.signature == sig:
        return cached
    with _LOCK:
        rows = db.session.execute(
            sa.select(Building.id, Building.footprint, Building.code, Area.code)
            .outerjoin(Area, Area.id == Building.street_id)
            .order_by(Building.id)
        ).all()
        if rows:
            ids, wkb, codes, streets = zip(*rows, strict=True)
            geoms = shapely.from_wkb(np.asarray(wkb, object))
        else:
            ids, geoms, codes, streets = (), np.zeros(0, object), (), ()
        src = TileSource(np.asarray(ids, np.int64), geoms, np.asarray(codes, object))
        cached = _Source(sig, src, np.asarray(streets, object))
        _SOURCES[key] = cached
    return cached


def _probe(round_id: int) -> tuple:
    top = db.session.scalar(sa.select(sa.func.max(Visit.id)))
    last = db.session.scalar(
        sa.select(sa.func.max(BuildingCoverage.updated_at)).where(
            BuildingCoverage.round_id == round_id
        )
    )
    return top, str(last)


def states(round_id: int) -> tuple[np.ndarray, tuple]:
    """State codes aligned with the tile source's ids, and a key that changes with them."""
    src = source()
    dbkey = coverage.db_key()
    local = (src.signature, coverage.generation())
    cached = _STATES.get((dbkey, round_id))
    now = time.monotonic()
    if cached is not None and cached.key[0] == local:
        if now - cached.probed_at < PROBE_SECONDS:
            return cached.codes, cached.key
        probe = _probe(round_id)
        if probe == cached.key[1]:
            cached.probed_at = now
            return cached.codes, cached.key
    probe = _probe(round_id)
    codes = coverage.state_codes(round_id, src.source.ids)
    cached = _States((local, probe), codes, now)
    _STATES[(dbkey, round_id)] = cached
    return codes, cached.key


def tile(
    round_id: int, z: int, x: int, y: int, streets: frozenset[str] | None, state: str | None,
    compare_id: int | None = None,
) -> tuple[bytes, str]:
    """(MVT bytes, ETag) of one tile; `streets` limits buildings to those streets, and
    `compare_id` to those visited in that round and still unvisited in this one."""
    src = source()
    codes, key = states(round_id)
    before_key = None
    if compare_id is not None:
        before, before_key = states(compare_id)
    ckey = (coverage.db_key(), key, round_id, z, x, y, streets, state, compare_id, before_key)
    hit = _TILES.get(ckey)
    if hit is not None:
        _TILES.move_to_end(ckey)
        return hit
    mask = None
    if streets is not None:
        mask = np.isin(src.streets, list(streets))
    if state is not None:
        m2 = codes == STATES.index(state)
        mask = m2 if mask is None else mask & m2
    if compare_id is not None:
        m3 = (before != STATES.index("unvisited")) & (codes == STATES.index("unvisited"))
        mask = m3 if mask is None else mask & m3
    data = src.source.render(z, x, y, codes, mask)
    etag = hashlib.sha256(repr(ckey).encode()).hexdigest()[:32]
    _TILES[ckey] = (data, etag)
    while len(_TILES) > MAX_TILES:
        _TILES.popitem(last=False)
    return data, etag


def clear() -> None:
    """Forget every cached tile and array (tests, imports)."""
    _SOURCES.clear()
    _STATES.clear()
    _TILES.clear()
