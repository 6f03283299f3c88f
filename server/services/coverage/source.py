"""The buildings as the map reads them: plain arrays, built once and shared.

A `gis.tiles.TileSource` (representative point, bounding box, street id and code of every
building, in Web Mercator) is built from the numeric columns of `buildings` and saved under the
instance folder (`tile-cache/`), named by the database, the buildings' version (`data_versions`,
bumped by imports that edit buildings) and the highest building id. Every other process on the
host, and every restart, maps those files (`np.load(mmap_mode="r")`) instead of building them;
buildings added since (higher ids: field buildings) are read and appended.

Each scope (a frozenset of integer street ids from server.services.scope) gets its own
`Selection`, built once and kept (LRU): a township supervisor's tile searches their buildings
only, with no string compared per tile. The state of every building in a round is an int8 array
aligned with the source, patched from the change feed (feed.py: only the buildings changed since
it was read) when coverage changes, at once in this process, within PROBE_SECONDS from another;
reloaded whole only when the round was recomputed or too much changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from flask import current_app

from gis.tiles import ARRAYS, Selection, TileSource
from server.extensions import db
from server.models import Building, BuildingCoverage
from server.services.coverage import feed
from server.services.coverage import store as coverage

PROBE_SECONDS = 5.0
MAX_SCOPES = 64  # Selections kept per database (a scope is a user's or a filter's streets)
CACHE_DIR = "tile-cache"

_LOCK = threading.Lock()
_SEL = ("positions", "minx", "maxx", "miny", "maxy", "px", "py")


@dataclass
class Shared:
    """One database's source, its per-street totals and per-scope Selections."""

    signature: tuple  # (buildings version, highest id, this process's building generation)
    source: TileSource
    scopes: OrderedDict = field(default_factory=OrderedDict)
    totals: np.ndarray | None = None
    probed_at: float = field(default_factory=time.monotonic)

    def street_totals(self) -> np.ndarray:
        """Buildings per street id (index 0: buildings without a street)."""
        if self.totals is None:
            g = self.source.groups
            self.totals = np.bincount(g, minlength=1) if len(g) else np.zeros(1, np.int64)
        return self.totals

    def selection(self, street_ids: frozenset[int] | None) -> Selection | None:
        """The Selection of those streets' buildings (None: every building), built once."""
        if street_ids is None:
            return None
        hit = self.scopes.get(street_ids)
        if hit is not None:
            self.scopes.move_to_end(street_ids)
            return hit
        groups = self.source.groups
        top = int(groups.max()) if len(groups) else 0
        lut = np.zeros(max(top, max(street_ids, default=0)) + 1, bool)
        lut[list(street_ids)] = True
        sel = self.source.select(lut[groups])
        self.scopes[street_ids] = sel
        while len(self.scopes) > MAX_SCOPES:
            self.scopes.popitem(last=False)
        return sel


@dataclass
class _States:
    key: tuple  # (source signature, reload number)
    codes: np.ndarray
    probed_at: float
    seq: int  # the change feed read up to here
    gen: int  # this process's coverage changes seen


_SHARED: dict[str, Shared] = {}
_STATES: dict[tuple, _States] = {}


def _columns():
    b = Building.__table__.c
    return (b.id, b.lon, b.lat, b.minx, b.miny, b.maxx, b.maxy,
            sa.func.coalesce(b.street_id, 0), b.code)  # fmt: skip


def _read(after: int) -> TileSource:
    """The buildings with ids above `after`, straight from the driver (no Row objects)."""
    stmt = sa.select(*_columns()).where(Building.id > after).order_by(Building.id)
    rows = coverage.fetch_tuples(stmt)
    if not rows:
        return TileSource(np.zeros(0, np.int64), [], [], np.zeros((0, 4)))
    ids, lon, lat, minx, miny, maxx, maxy, street, code = zip(*rows, strict=True)
    return TileSource(np.asarray(ids, np.int64), lon, lat,
                      np.column_stack((minx, miny, maxx, maxy)), list(code),
                      np.asarray(street, np.int64))  # fmt: skip


def folder() -> Path:
    """Where this database's saved copies of the buildings live (instance folder, tile-cache)."""
    digest = hashlib.sha256(coverage.db_key().encode()).hexdigest()[:12]
    return Path(current_app.instance_path) / CACHE_DIR / digest


def _save(src: TileSource, version: int, top: int, replace: bool = False) -> None:
    """Write the arrays (and the Selection of everything) where other processes find them."""
    home = folder()
    final = home / f"v{version}-t{top}"
    if final.exists() and replace:
        shutil.rmtree(final, ignore_errors=True)
    if final.exists():
        return
    tmp = home / f".tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        for name, a in src.arrays().items():
            np.save(tmp / f"{name}.npy", a)
        for name in _SEL:
            np.save(tmp / f"sel_{name}.npy", getattr(src.everything, name))
        os.rename(tmp, final)  # another process may have won: its copy is the same
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    for old in home.glob("v*-t*"):  # older versions are of no use to anyone
        if old != final and not old.name.startswith(f"v{version}-"):
            shutil.rmtree(old, ignore_errors=True)


def _load(version: int, top: int) -> tuple[TileSource, int] | None:
    """The saved source of this version with the highest id not above `top`, memory-mapped."""
    best = None
    for d in folder().glob(f"v{version}-t*"):
        t = int(d.name.split("-t", 1)[1])
        if t <= top and (best is None or t > best[1]):
            best = (d, t)
    if best is None:
        return None
    d, t = best
    try:
        arrays = {n: np.load(d / f"{n}.npy", mmap_mode="r") for n in ARRAYS}
        sel = Selection.__new__(Selection)
        for n in _SEL:
            setattr(sel, n, np.load(d / f"sel_{n}.npy", mmap_mode="r"))
    except (OSError, ValueError):
        return None
    sel.width = float((sel.maxx - sel.minx).max()) if len(sel.positions) else 0.0
    return TileSource.from_arrays(arrays, everything=sel), t


def _append(src: TileSource, more: TileSource) -> TileSource:
    if not len(more):
        return src
    return TileSource.from_arrays({n: np.concatenate([getattr(src, n), getattr(more, n)])
                                   for n in ARRAYS})  # fmt: skip


def signature() -> tuple[int, int, int]:
    """(buildings version, highest building id, this process's building generation) now: what
    a copy of the buildings (the source, the counts per street) was made under (one statement)."""
    top, version = db.session.execute(
        sa.select(sa.select(sa.func.max(Building.id)).scalar_subquery(),
                  coverage.buildings_version_column())
    ).one()  # fmt: skip
    return version or 0, top or 0, coverage.generation()[0]


def held() -> Shared | None:
    """The source this process holds, if it was checked within PROBE_SECONDS (no statement)."""
    cached = _SHARED.get(coverage.db_key())
    if (cached is not None and cached.signature[2] == coverage.generation()[0]
            and time.monotonic() - cached.probed_at < PROBE_SECONDS):
        return cached
    return None


def shared() -> Shared:
    """This database's Shared source: in memory, else from the instance folder, else built."""
    fresh = held()
    if fresh is not None:
        return fresh  # buildings edited elsewhere are seen within PROBE_SECONDS
    key = coverage.db_key()
    cached = _SHARED.get(key)
    sig = signature()
    version, top = sig[0], sig[1]
    if cached is not None and cached.signature == sig:
        cached.probed_at = time.monotonic()
        return cached
    with _LOCK:
        cached = _SHARED.get(key)
        if cached is not None and cached.signature == sig:
            return cached
        src = None
        edited_here = cached is not None and cached.signature[2] != sig[2]
        if cached is not None and cached.signature[0::2] == sig[0::2] \
                and cached.signature[1] < top:  # only buildings added: append them
            src = _append(cached.source, _read(cached.signature[1]))
        elif not edited_here:  # buildings_changed() here: the saved copy may be stale
            found = _load(version, top)
            if found is not None:
                src = found[0] if found[1] == top else _append(found[0], _read(found[1]))
        if src is None:
            src = _read(0)
            _save(src, version, top, replace=edited_here)
        cached = Shared(sig, src)
        _SHARED[key] = cached
    return cached


def _patch(cached: _States, round_id: int, src: TileSource, ids: list[int]) -> np.ndarray:
    """A copy of the codes with those buildings' states read again (readers of the old array,
    tiles being drawn, keep a consistent one)."""
    codes = cached.codes.copy()
    want = np.asarray(ids, np.int64)
    pos = np.searchsorted(src.ids, want)
    ok = pos < len(src.ids)
    ok[ok] = src.ids[pos[ok]] == want[ok]
    pos, want = pos[ok], want[ok]
    codes[pos] = 0  # no row: unvisited
    c = BuildingCoverage.__table__.c
    for start in range(0, len(want), 5000):
        part = want[start : start + 5000].tolist()
        rows = coverage.fetch_tuples(
            sa.select(c.building_id, coverage.state_code_column(c.state))
            .where(c.round_id == int(round_id), c.building_id.in_(part)))  # fmt: skip
        for b, code in rows:
            codes[pos[np.searchsorted(want, b)]] = code
    return codes


#: How this process brought its states up to date (tests and benches read it).
STATS = {"full": 0, "patched": 0, "patched_buildings": 0}
_LISTENERS: list = []  # called (db key, round id, positions that changed) after a patch
_EPOCH = iter(range(1, 1 << 62))


def on_patch(fn) -> None:
    """Call `fn(db_key, round_id, positions)` when a round's states are patched in place of a
    reload (tiles.py drops the tiles holding those positions)."""
    _LISTENERS.append(fn)


def current(round_id: int) -> np.ndarray | None:
    """The states array this process holds now for the round (None: not loaded)."""
    cached = _STATES.get((coverage.db_key(), round_id))
    return None if cached is None else cached.codes


def states(round_id: int) -> tuple[np.ndarray, tuple]:
    """State codes aligned with the source's ids, and a key that changes when they are reloaded
    (patches keep the key: the listeners are told which positions changed). Another process's
    changes are seen within PROBE_SECONDS, this process's own at once."""
    src = shared()
    dbkey = coverage.db_key()
    gen = coverage.generation()[1]
    cached = _STATES.get((dbkey, round_id))
    now = time.monotonic()
    if cached is not None and cached.key[0] == src.signature:
        if cached.gen == gen and now - cached.probed_at < PROBE_SECONDS:
            return cached.codes, cached.key
        top, pruned = feed.probe()
        ids = None
        if top == cached.seq:
            ids = []
        elif pruned <= cached.seq < top:  # (a feed behind ours: the database was replaced)
            ids = feed.changed(round_id, cached.seq, top)
        if ids is not None:
            codes = _patch(cached, round_id, src.source, ids) if ids else cached.codes
            moved = np.flatnonzero(codes != cached.codes)
            _STATES[(dbkey, round_id)] = _States(cached.key, codes, now, top, gen)
            if len(moved):
                STATS["patched"] += 1
                STATS["patched_buildings"] += len(moved)
                for fn in _LISTENERS:
                    fn(dbkey, round_id, moved)
            return codes, cached.key
    top, _ = feed.probe()  # read first: a change after it is read again next time
    codes = coverage.state_codes(round_id, src.source.ids)
    STATS["full"] += 1
    cached = _States((src.signature, next(_EPOCH)), codes, now, top, gen)
    _STATES[(dbkey, round_id)] = cached
    return codes, cached.key


def clear() -> None:
    """Forget what this process holds (tests); the saved files stay."""
    _SHARED.clear()
    _STATES.clear()
