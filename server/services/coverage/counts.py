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
"""

from __future__ import annotations

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


def visited(round_id: int) -> np.ndarray:
    """Buildings per (street id, state) of the round as coverage_counts holds them (row 0: no
    street; the unvisited column is left 0). Read only: the array is shared."""
    version = source.shared().signature[0]
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
