"""A round's `coverage_counts` as one array per process, brought up to date from the change feed.

The map polls its counts every 10 s; reading every street's rows of the round for each poll
cost tens of milliseconds at a million buildings. Here a process reads them once, then, like
the states array (source.py), follows the change feed (feed.py): the streets of the buildings
changed since it last looked are read again, and nothing else. It looks at once after a change
made in this process, and at most PROBE_SECONDS after one made in another. The feed's top is
read before the rows, so the rows hold at least every change up to it (a later change is read
again at the next look: its street is in the feed after the top).

A full recompute (the feed says the round was rewritten), too many changes, or an edit of
buildings (`buildings` version: the counts were rebuilt) reads the round whole again.

The buildings per street (unvisited = buildings - visited) are counted by the database
(`street_totals`: one scan of the street index) and saved under the instance folder like the
tile source, not taken from that source: a process's first statistics request built it, every
building's coordinates and code (3 s of CPU at a million buildings when no saved copy was
there), to count buildings per street.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from gis.coverage import STATES
from server.models import Building, CoverageCount
from server.services.coverage import feed, source
from server.services.coverage import store as coverage

_CHUNK = 5000


@dataclass
class _Counts:
    buildings_version: int  # the `buildings` version it was read under
    visited: np.ndarray  # (street id, state): buildings from coverage_counts (no unvisited)
    seq: int  # the change feed read up to here
    probed_at: float
    gen: int  # this process's coverage changes seen


_COUNTS: dict[tuple[str, int], _Counts] = {}
_LOCK = threading.Lock()
#: How this process brought its counts up to date (tests and benches read it).
STATS = {"full": 0, "patched": 0}


def _rows(round_id: int, streets: list[int] | None) -> list[tuple]:
    c = CoverageCount.__table__.c
    stmt = (sa.select(c.street_id, coverage.state_code_column(c.state), c.buildings)
            .where(c.round_id == int(round_id), c.buildings != 0))  # fmt: skip
    if streets is None:
        return coverage.fetch_tuples(stmt)
    out: list[tuple] = []
    for start in range(0, len(streets), _CHUNK):
        out += coverage.fetch_tuples(stmt.where(c.street_id.in_(streets[start:start + _CHUNK])))
    return out


def _fill(m: np.ndarray, rows: list[tuple]) -> np.ndarray:
    a = np.array(rows, np.int64).reshape(len(rows), 3)
    size = int(a[:, 0].max()) + 1 if len(a) else 0
    if size > len(m):
        m = np.vstack([m, np.zeros((size - len(m), len(STATES)), np.int64)])
    np.add.at(m, (a[:, 0], a[:, 1]), a[:, 2])
    return m


def _streets_of(building_ids: list[int]) -> list[int]:
    b = Building.__table__.c
    out: set[int] = set()
    for start in range(0, len(building_ids), _CHUNK):
        out.update(r[0] for r in coverage.fetch_tuples(
            sa.select(sa.func.coalesce(b.street_id, 0)).distinct()
            .where(b.id.in_(building_ids[start:start + _CHUNK]))))  # fmt: skip
    return sorted(out)


@dataclass
class _Totals:
    signature: tuple  # source.signature(): (buildings version, highest id, generation)
    per_street: np.ndarray
    probed_at: float


_TOTALS: dict[str, _Totals] = {}


def _count(after: int) -> np.ndarray:
    """Buildings per street id among those with ids above `after` (row 0: no street)."""
    b = Building.__table__.c
    stmt = sa.select(b.street_id, sa.func.count()).group_by(b.street_id)  # the index alone
    rows = coverage.fetch_tuples(stmt.where(b.id > after) if after else stmt)
    a = np.array([(s or 0, n) for s, n in rows], np.int64).reshape(len(rows), 2)
    out = np.zeros(int(a[:, 0].max(initial=0)) + 1, np.int64)
    np.add.at(out, a[:, 0], a[:, 1])
    return out


def street_totals() -> tuple[tuple, np.ndarray]:
    """(signature, buildings per street id): the held tile source's when this process has one,
    else counted by the database and kept like the source (buildings added since: counted and
    added; edited: counted again). Read only: the array is shared."""
    fresh = source.held()
    if fresh is not None:
        return fresh.signature, fresh.street_totals()
    key, now = coverage.db_key(), time.monotonic()
    cached = _TOTALS.get(key)
    if (cached is not None and cached.signature[2] == coverage.generation()[0]
            and now - cached.probed_at < source.PROBE_SECONDS):
        return cached.signature, cached.per_street
    sig = source.signature()
    edited_here = cached is not None and cached.signature[2] != sig[2]
    if cached is not None and cached.signature == sig:
        per = cached.per_street
    elif cached is not None and cached.signature[0::2] == sig[0::2] \
            and cached.signature[1] < sig[1]:  # only buildings added
        per = _plus(cached.per_street, _count(cached.signature[1]))
    else:  # buildings_changed() here: the saved copy may be stale
        found = None if edited_here else _load_totals(sig[0], sig[1])
        if found is None:
            per = _count(0)
            _save_totals(per, sig[0], sig[1])
        else:
            per = found[0] if found[1] == sig[1] else _plus(found[0], _count(found[1]))
    _TOTALS[key] = _Totals(sig, per, now)
    return sig, per


def _plus(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(max(len(a), len(b)), np.int64)
    out[: len(a)] += a
    out[: len(b)] += b
    return out


def _save_totals(per: np.ndarray, version: int, top: int) -> None:
    """Save the totals beside the tile source (`totals-v<version>-t<top>.npy`): a restart or
    another process reads a few kilobytes instead of scanning the buildings' street index."""
    home = source.folder()
    final = home / f"totals-v{version}-t{top}.npy"
    tmp = home / f".totals-{os.getpid()}-{threading.get_ident()}.npy"
    try:
        home.mkdir(parents=True, exist_ok=True)
        np.save(tmp, per)
        os.replace(tmp, final)  # (replaces a stale copy after buildings_changed())
    except OSError:
        tmp.unlink(missing_ok=True)
        return
    for old in home.glob("totals-v*-t*.npy"):  # another version's are of no use to anyone
        if not old.name.startswith(f"totals-v{version}-"):
            old.unlink(missing_ok=True)


def _load_totals(version: int, top: int) -> tuple[np.ndarray, int] | None:
    """The saved totals of this version with the highest id not above `top`."""
    best = None
    for f in source.folder().glob(f"totals-v{version}-t*.npy"):
        t = int(f.name[:-4].split("-t", 1)[1])
        if t <= top and (best is None or t > best[1]):
            best = (f, t)
    if best is None:
        return None
    try:
        return np.load(best[0]), best[1]
    except (OSError, ValueError):
        return None


def visited(round_id: int) -> np.ndarray:
    """Buildings per (street id, state) of the round as coverage_counts holds them (row 0: no
    street; the unvisited column is left 0). Read only: the array is shared."""
    version = street_totals()[0][0]
    key = (coverage.db_key(), int(round_id))
    gen = coverage.generation()[1]
    now = time.monotonic()
    cached = _COUNTS.get(key)
    if cached is not None and cached.buildings_version == version:
        if cached.gen == gen and now - cached.probed_at < source.PROBE_SECONDS:
            return cached.visited
        with _LOCK:
            return _follow(key, cached, round_id, gen, now)
    top, _ = feed.probe()  # first: a change after it is read again next time
    m = _fill(np.zeros((0, len(STATES)), np.int64), _rows(round_id, None))
    STATS["full"] += 1
    _COUNTS[key] = _Counts(version, m, top, now, gen)
    return m


def _follow(key: tuple, cached: _Counts, round_id: int, gen: int, now: float) -> np.ndarray:
    """The cached counts with the streets changed since they were read read again (the
    whole round when the feed cannot say which)."""
    top, pruned = feed.probe()
    if top == cached.seq:
        _COUNTS[key] = _Counts(cached.buildings_version, cached.visited, top, now, gen)
        return cached.visited
    ids = feed.changed(round_id, cached.seq, top) if pruned <= cached.seq < top else None
    if ids is None:
        m = _fill(np.zeros((0, len(STATES)), np.int64), _rows(round_id, None))
        STATS["full"] += 1
    else:
        streets = _streets_of(ids)
        m = cached.visited.copy()  # readers of the old array keep a consistent one
        m[[s for s in streets if s < len(m)]] = 0
        m = _fill(m, _rows(round_id, streets))
        STATS["patched"] += 1
    _COUNTS[key] = _Counts(cached.buildings_version, m, top, now, gen)
    return m


def clear() -> None:
    """Forget what this process holds (tests)."""
    _COUNTS.clear()
    _TOTALS.clear()
