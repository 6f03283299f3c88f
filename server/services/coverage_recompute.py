"""Full coverage recompute of a round: every visit re-matched, every building's row rewritten.

In-process (the gis engine on the cached CoverageIndex) or inside PostGIS (`gis.postgis`, on
PostgreSQL); both give identical states (tests check it). Reads and writes go through Core with
plain tuples and one executemany per 50,000 rows: ORM objects would cost more than the matching.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from gis import postgis
from gis.coverage import STATES, Coverage, Visits, compute_coverage, match_visits
from server.extensions import db
from server.models import BuildingCoverage, Round, Submission
from server.models import Visit as VisitRow
from server.models._types import utcnow
from server.services import coverage

BATCH = 50_000
_V = VisitRow.__table__.c
_S = Submission.__table__.c
_ENGINE_COLUMNS = (
    _V.id, _V.chosen_building_id, _V.lon, _V.lat, _V.gps_accuracy, _V.outcome, _V.units_recorded
)


@dataclass
class RecomputeResult:
    round_id: int
    counts: dict
    rematched: int
    seconds: float
    engine: str


def _counted_core():
    return sa.and_(_S.review_state != "rejected", _S.superseded.is_(False))


def load_visits(round_id: int) -> tuple[Visits, np.ndarray]:
    """The round's counted visits as the engine's table (and their row ids)."""
    rows = db.session.connection().execute(
        sa.select(*_ENGINE_COLUMNS)
        .select_from(VisitRow.__table__.join(Submission.__table__, _S.id == _V.submission_id))
        .where(_V.round_id == round_id, _counted_core())
        .order_by(_V.id)
    ).all()
    n = len(rows)
    if not n:
        empty = np.zeros(0)
        return Visits.from_arrays(
            np.zeros(0, np.int64), empty, empty, empty, empty, np.zeros(0, object)
        ), np.zeros(0, np.int64)
    ids, chosen, lon, lat, acc, outcome, units = zip(*rows, strict=True)
    as_float = lambda col: np.array(col, dtype=float)  # noqa: E731 (None -> NaN)
    visits = Visits.from_arrays(
        np.fromiter(ids, np.int64, n), as_float(chosen), as_float(lon), as_float(lat),
        as_float(acc), np.asarray(outcome, object), np.fromiter(units, np.int64, n),
    )  # fmt: skip
    return visits, visits.ids


def compute_round(round_id: int) -> Coverage:
    """In-process states of every building in a round (nothing written)."""
    visits, _ = load_visits(round_id)
    return compute_coverage(coverage.index().buildings, visits, settings=coverage.settings())


def postgis_round(round_id: int) -> dict[int, tuple[str, int, int]]:
    """The same computed inside PostGIS: building id -> (state, visits, units)."""
    s = coverage.settings()
    return postgis.coverage_states(
        db.session.connection(), round_id, s.match_distance_m, s.max_accuracy_m
    )


def rematch_visits(round_id: int) -> int:
    """Refresh each visit's stored match (building, distance, flags) where it changed."""
    visits, ids = load_visits(round_id)
    if not len(ids):
        return 0
    m = match_visits(coverage.index().buildings, visits, coverage.settings())
    stored = {
        r[0]: (r[1], r[2], tuple(r[3] or ()))
        for r in db.session.connection().execute(
            sa.select(_V.id, _V.building_id, _V.distance_m, _V.flags).where(
                _V.round_id == round_id
            )
        )
    }
    changes = []
    for i, vid in enumerate(ids.tolist()):
        vm = m[i]
        old_b, old_d, old_flags = stored[vid]
        keep = tuple(f for f in old_flags if f not in ("far", "poor_accuracy", "unmatched"))
        flags = coverage.match_flags(vm) + keep
        bid = None if vm.building_id is None else int(vm.building_id)
        d = vm.distance_m
        if bid != old_b or flags != old_flags or not _same(d, old_d):
            changes.append({"id": vid, "building_id": bid, "distance_m": d, "flags": list(flags)})
    if changes:
        db.session.execute(sa.update(VisitRow), changes)
    return len(changes)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-6


def _rows_in_process(round_id: int) -> tuple[list[tuple], dict]:
    cov = compute_round(round_id)
    has = np.flatnonzero(cov.visits > 0)
    states = np.asarray(STATES, object)[cov.state_codes[has]].tolist()
    rows = list(zip(cov.building_ids[has].tolist(), states, cov.visits[has].tolist(),
                    cov.units_recorded[has].tolist(), strict=True))  # fmt: skip
    return rows, cov.counts()


def _rows_postgis(round_id: int) -> tuple[list[tuple], None]:
    states = postgis_round(round_id)
    return [(b, s, n, u) for b, (s, n, u) in states.items() if n], None


def recompute(round_id: int, *, use_postgis: bool = False, rematch: bool = True) -> RecomputeResult:
    """Rebuild a round's coverage rows from all its visits (commits)."""
    if db.session.get(Round, round_id) is None:
        raise ValueError(f"no round with id {round_id}")
    if use_postgis and db.engine.dialect.name != "postgresql":
        raise ValueError("--postgis needs a PostgreSQL database with PostGIS")
    t0 = time.perf_counter()
    rematched = rematch_visits(round_id) if rematch else 0
    rows, counts = (_rows_postgis if use_postgis else _rows_in_process)(round_id)
    conn = db.session.connection()
    table = BuildingCoverage.__table__
    conn.execute(sa.delete(table).where(table.c.round_id == round_id))
    now = utcnow()
    insert = table.insert()
    for start in range(0, len(rows), BATCH):
        conn.execute(insert, [
            {"building_id": b, "round_id": round_id, "state": s, "visits": n,
             "units_recorded": u, "updated_at": now}
            for b, s, n, u in rows[start : start + BATCH]
        ])  # fmt: skip
    db.session.commit()
    coverage.coverage_changed()
    if counts is None:
        counts = coverage.stored_counts(round_id)
    return RecomputeResult(
        round_id, counts, rematched, time.perf_counter() - t0,
        "postgis" if use_postgis else "in-process",
    )  # fmt: skip
