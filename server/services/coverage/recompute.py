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
from gis.coverage import OUTCOMES, STATES, Coverage, Visits, compute_coverage, match_visits
from server.extensions import db
from server.models import BuildingCoverage, Round, Submission
from server.models import Visit as VisitRow
from server.models._types import utcnow
from server.services.coverage import feed, report_days, rounds, timeline
from server.services.coverage import refresh as coverage_refresh
from server.services.coverage import rollups as coverage_rollups
from server.services.coverage import store as coverage

BATCH = 50_000
_V = VisitRow.__table__.c
_S = Submission.__table__.c
# numeric columns (the outcome comes as its index in OUTCOMES, last)
_ENGINE_COLUMNS = (
    _V.id, _V.chosen_building_id, _V.lon, _V.lat, _V.gps_accuracy, _V.units_recorded
)


@dataclass
class RecomputeResult:
    round_id: int
    counts: dict
    rematched: int
    seconds: float
    engine: str
    written: int = 0  # coverage rows inserted, changed or deleted


def _counted_visits(columns, round_id: int) -> np.ndarray:
    """Numeric columns of the round's counted visits (ordered by id), as a float array.

    The few uncounted submissions (rejected, superseded, from forms the round does not count)
    are excluded by a NOT IN subquery that
    the database evaluates once: joining three million visits to their submissions costs more.
    """
    uncounted = sa.select(_S.id).where(
        sa.or_(_S.review_state == "rejected", _S.superseded.is_(True),
               sa.not_(coverage.form_counts(int(round_id))))
    )
    rows = coverage.fetch_tuples(
        sa.select(*columns)
        .where(_V.round_id == int(round_id), _V.submission_id.not_in(uncounted))
        .order_by(_V.id)
    )
    return np.array(rows, dtype=float).reshape(len(rows), len(columns))


def load_visits(round_id: int) -> tuple[Visits, np.ndarray]:
    """The round's counted visits as the engine's table (and their row ids)."""
    outcome = sa.case(
        {name: k for k, name in enumerate(OUTCOMES)}, value=_V.outcome, else_=-1
    )
    a = _counted_visits((*_ENGINE_COLUMNS, outcome), round_id)
    codes = a[:, 6].astype(np.int64)
    if (codes < 0).any():  # a stored outcome the engine does not know
        bad = int(a[int(np.flatnonzero(codes < 0)[0]), 0])
        raise ValueError(f"visit {bad}: its outcome is not one of {', '.join(OUTCOMES)}")
    visits = Visits.from_arrays(
        a[:, 0].astype(np.int64), a[:, 1], a[:, 2], a[:, 3], a[:, 4],
        np.asarray(OUTCOMES)[codes], np.nan_to_num(a[:, 5]).astype(np.int64),
    )  # fmt: skip
    return visits, visits.ids


def compute_round(round_id: int, visits: Visits | None = None) -> Coverage:
    """In-process states of every building in a round (nothing written)."""
    if visits is None:
        visits, _ = load_visits(round_id)
    return compute_coverage(coverage.index().buildings, visits,
                            settings=rounds.settings_of(round_id))


def postgis_round(round_id: int) -> dict[int, tuple[str, int, int]]:
    """The same computed inside PostGIS: building id -> (state, visits, units)."""
    s = rounds.settings_of(round_id)
    return postgis.coverage_states(
        db.session.connection(), round_id, s.match_distance_m, s.max_accuracy_m
    )


_MATCH_FLAGS = ("far", "poor_accuracy", "unmatched")


def _stored_matches(round_id: int) -> np.ndarray:
    """(building, distance, match-flag bits) of the round's counted visits, as load_visits
    orders them; the bits are read from the JSON text so that no flags list is built."""
    text = sa.cast(_V.flags, sa.Text)
    bits = sum(
        sa.case((text.like(f'%"{f}"%'), 1 << k), else_=0) for k, f in enumerate(_MATCH_FLAGS)
    )
    return _counted_visits((_V.building_id, _V.distance_m, bits), round_id)


def rematch_visits(round_id: int, visits: Visits | None = None) -> int:
    """Refresh each visit's stored match (building, distance, flags) where it changed."""
    if visits is None:
        visits, _ = load_visits(round_id)
    ids = visits.ids
    if not len(ids):
        return 0
    m = match_visits(coverage.index().buildings, visits, rounds.settings_of(round_id))
    old = _stored_matches(round_id)
    if len(old) != len(ids):  # changed in between (another process): compare nothing
        raise RuntimeError("visits changed during the recompute; run it again")
    new_b = np.array([np.nan if b is None else b for b in m.building_ids], float)
    new_bits = m.far.astype(int) + 2 * m.poor_accuracy.astype(int) + 4 * m.unmatched.astype(int)

    def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (np.abs(a - b) <= 1e-6) | (np.isnan(a) & np.isnan(b))

    changed = np.flatnonzero(
        ~(same(new_b, old[:, 0]) & same(m.distance_m, old[:, 1]) & (new_bits == old[:, 2]))
    )
    if not len(changed):
        return 0
    kept: dict[int, list[str]] = {}
    changed_ids = ids[changed].tolist()
    for start in range(0, len(changed_ids), 5000):
        for vid, flags in db.session.connection().execute(
            sa.select(_V.id, _V.flags).where(_V.id.in_(changed_ids[start : start + 5000]))
        ):
            kept[vid] = [f for f in flags or () if f not in _MATCH_FLAGS]
    changes = []
    for i, vid in zip(changed.tolist(), changed_ids, strict=True):
        vm = m[i]
        bid = None if vm.building_id is None else int(vm.building_id)
        flags = [*coverage.match_flags(vm), *kept[vid]]
        changes.append({"id": vid, "building_id": bid, "distance_m": vm.distance_m,
                        "flags": flags})  # fmt: skip
    db.session.execute(sa.update(VisitRow), changes)
    return len(changes)


def _rows_in_process(round_id: int, visits: Visits | None) -> tuple[list[tuple], dict]:
    cov = compute_round(round_id, visits)
    has = np.flatnonzero(cov.visits > 0)
    states = np.asarray(STATES, object)[cov.state_codes[has]].tolist()
    rows = list(zip(cov.building_ids[has].tolist(), states, cov.visits[has].tolist(),
                    cov.units_recorded[has].tolist(), strict=True))  # fmt: skip
    return rows, cov.counts()


def _rows_postgis(round_id: int, _visits: Visits | None) -> tuple[list[tuple], None]:
    states = postgis_round(round_id)
    return [(b, s, n, u) for b, (s, n, u) in states.items() if n], None


def _write(round_id: int, rows: list[tuple]) -> int:
    """Make the round's stored rows equal `rows` (building, state, visits, units); returns how
    many rows were written or deleted. Unchanged rows are left alone (and keep updated_at)."""
    table = BuildingCoverage.__table__
    c = table.c
    stored = {
        r[0]: tuple(r[1:])
        for r in coverage.fetch_tuples(
            sa.select(c.building_id, c.state, c.visits, c.units_recorded).where(
                c.round_id == int(round_id)
            )
        )
    }
    now = utcnow()
    changed = [
        {"building_id": b, "round_id": round_id, "state": st, "visits": n,
         "units_recorded": u, "updated_at": now}
        for b, st, n, u in rows
        if stored.pop(b, None) != (st, n, u)
    ]  # fmt: skip
    if stored:  # buildings whose visits all went (rejected, re-matched elsewhere)
        gone = [{"b": b, "r": round_id} for b in stored]
        db.session.connection().execute(coverage_refresh.DELETE, gone)
    for start in range(0, len(changed), BATCH):
        coverage_refresh.upsert(changed[start : start + BATCH])
    return len(changed) + len(stored)


def recompute(round_id: int, *, use_postgis: bool = False, rematch: bool = True) -> RecomputeResult:
    """Rebuild a round's coverage rows from all its visits (commits)."""
    if db.session.get(Round, round_id) is None:
        raise ValueError(f"no round with id {round_id}")
    if use_postgis and db.engine.dialect.name != "postgresql":
        raise ValueError("--postgis needs a PostgreSQL database with PostGIS")
    t0 = time.perf_counter()
    # the visits' inputs (geotag, chosen building, outcome) are read once for both steps
    visits = None if use_postgis and not rematch else load_visits(round_id)[0]
    rematched = rematch_visits(round_id, visits) if rematch else 0
    rows, counts = (_rows_postgis if use_postgis else _rows_in_process)(round_id, visits)
    written = _write(round_id, rows)
    coverage.rebuild_counts(round_id)  # the roll-ups' counts, exact again
    timeline.rebuild(round_id)  # the reports' states by day, exact again
    report_days.rebuild(round_id)  # and the report pages' sums
    feed.note_rewritten(db.session(), round_id)  # every process reloads the round
    db.session.commit()
    coverage.coverage_changed()
    if counts is None:
        counts = coverage_rollups.counts_over(round_id, None)
    return RecomputeResult(
        round_id, counts, rematched, time.perf_counter() - t0,
        "postgis" if use_postgis else "in-process", written,
    )  # fmt: skip
