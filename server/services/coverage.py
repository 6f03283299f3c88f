"""Coverage of buildings per round, kept in `building_coverage` (one row per visited building).

Two ways to the same answer (gis/coverage.py states the rule):

* incremental: a processed submission refreshes only its building's row, from that building's
  stored visits (so order, edits and replays do not matter);
* full recompute per round: every visit of the round re-matched with the gis engine in-process,
  or inside PostGIS (`gis.postgis`) on PostgreSQL; both must give identical states.

A building with no row in a round is unvisited. Matching uses one process-wide CoverageIndex
(projected footprints + spatial tree), rebuilt when buildings change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import shapely
import sqlalchemy as sa
from flask import current_app

from gis import postgis

# One rule for a building's state: the engine's own evidence bits and state function.
from gis.coverage import (
    _OUTCOME_BIT,
    _SUSPECT_BIT,
    OUTCOMES,
    STATES,
    Buildings,
    Coverage,
    CoverageIndex,
    CoverageSettings,
    Visits,
    _state_codes,
    compute_coverage,
    match_visits,
    rollup_by_area,
    rollup_by_coordinator,
)
from server.extensions import db
from server.models import Area, Assignment, Building, BuildingCoverage, Round, Submission, User
from server.models import Visit as VisitRow
from server.models._types import utcnow

SUSPECT_FLAGS = ("far", "poor_accuracy")


def settings() -> CoverageSettings:
    cfg = current_app.config
    return CoverageSettings(float(cfg["MATCH_DISTANCE_M"]), float(cfg["GPS_ACCURACY_M"]))


# --- the process-wide index -------------------------------------------------------------------


@dataclass
class _Cached:
    index: CoverageIndex
    signature: tuple
    generation: int


_LOCK = threading.Lock()
_CACHE: dict[str, _Cached] = {}
_GENERATION: dict[str, int] = {}  # bumped on every coverage change (tiles follow it)


def _key() -> str:
    return db.engine.url.render_as_string(hide_password=True)


def _signature() -> tuple:
    s = settings()
    top = db.session.scalar(sa.select(sa.func.max(Building.id)))
    return (top, s.match_distance_m, s.max_accuracy_m, _GENERATION.get(_key() + "#b", 0))


def load_buildings() -> Buildings:
    """Every building as the engine's table: id, footprint, expected units, street code."""
    rows = db.session.execute(
        sa.select(Building.id, Building.footprint, Building.expected_units, Area.code)
        .outerjoin(Area, Area.id == Building.street_id)
        .order_by(Building.id)
    ).all()
    if not rows:
        return Buildings.from_arrays(np.zeros(0, np.int64), np.zeros(0, object))
    ids, wkb, exp, streets = zip(*rows, strict=True)
    return Buildings.from_arrays(
        np.asarray(ids, np.int64),
        shapely.from_wkb(np.asarray(wkb, object)),
        np.asarray([e or 0 for e in exp], np.int64),
        np.asarray(streets, object),
    )


def index() -> CoverageIndex:
    """The cached CoverageIndex of this database (built on first use, ~1 s per 100k)."""
    key, sig = _key(), _signature()
    cached = _CACHE.get(key)
    if cached is not None and cached.signature == sig:
        return cached.index
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None or cached.signature != sig:
            cached = _Cached(CoverageIndex(load_buildings(), settings()), sig, 0)
            _CACHE[key] = cached
    return cached.index


def buildings_changed() -> None:
    """Call after importing or editing buildings: the index and tiles are rebuilt."""
    key = _key()
    _GENERATION[key + "#b"] = _GENERATION.get(key + "#b", 0) + 1
    coverage_changed()


def coverage_changed() -> None:
    key = _key()
    _GENERATION[key] = _GENERATION.get(key, 0) + 1


def generation() -> tuple[int, int]:
    """Changes of (buildings, coverage) seen by this process; caches key on it."""
    key = _key()
    return _GENERATION.get(key + "#b", 0), _GENERATION.get(key, 0)


# --- rounds -----------------------------------------------------------------------------------


def round_for(day: date) -> Round | None:
    """The round a visit on `day` counts for: the latest-starting one that contains it."""
    return db.session.scalar(
        sa.select(Round)
        .where(Round.starts_on <= day, Round.ends_on >= day)
        .order_by(Round.starts_on.desc(), Round.id.desc())
        .limit(1)
    )


def current_round() -> Round | None:
    """The round holding today, else the latest one."""
    return round_for(date.today()) or db.session.scalar(
        sa.select(Round).order_by(Round.starts_on.desc(), Round.id.desc()).limit(1)
    )


# --- incremental ------------------------------------------------------------------------------


def _counted():
    """Visits that count: their submission is not rejected (review) and not replaced (edit)."""
    return sa.and_(Submission.review_state != "rejected", Submission.superseded.is_(False))


def building_state(expected_units: int | None, visits: Iterable[tuple[str, int, list]]) -> tuple:
    """(state, visits, units) of one building from its (outcome, units, flags) visits."""
    bits, units, n = 0, 0, 0
    for outcome, unit_count, flags in visits:
        n += 1
        suspect = any(f in SUSPECT_FLAGS for f in flags or ())
        bit = _SUSPECT_BIT if suspect else int(_OUTCOME_BIT[OUTCOMES.index(outcome)])
        bits |= bit
        if bit == 1:  # a good "done" visit adds its units
            units += int(unit_count or 0)
    code = _state_codes(
        np.array([bits], np.uint8),
        np.array([units], np.int64),
        np.array([expected_units or 0], np.int64),
    )[0]
    return STATES[int(code)], n, units


def refresh_building(building_id: int, round_id: int) -> str:
    """Recompute one building's row in one round from its stored visits (no commit)."""
    expected = db.session.scalar(
        sa.select(Building.expected_units).where(Building.id == building_id)
    )
    rows = db.session.execute(
        sa.select(VisitRow.outcome, VisitRow.units_recorded, VisitRow.flags)
        .join(Submission, Submission.id == VisitRow.submission_id)
        .where(VisitRow.building_id == building_id, VisitRow.round_id == round_id, _counted())
    ).all()
    state, n, units = building_state(expected, rows)
    row = db.session.get(BuildingCoverage, (building_id, round_id))
    if n == 0:
        if row is not None:
            db.session.delete(row)
    else:
        if row is None:
            row = BuildingCoverage(building_id=building_id, round_id=round_id)
            db.session.add(row)
        row.state, row.visits, row.units_recorded, row.updated_at = state, n, units, utcnow()
    coverage_changed()
    return state


# --- full recompute ---------------------------------------------------------------------------


def load_visits(round_id: int) -> tuple[Visits, np.ndarray]:
    """The round's counted visits as the engine's table (and their row ids)."""
    rows = db.session.execute(
        sa.select(
            VisitRow.id,
            VisitRow.chosen_building_id,
            VisitRow.lon,
            VisitRow.lat,
            VisitRow.gps_accuracy,
            VisitRow.outcome,
            VisitRow.units_recorded,
        )
        .join(Submission, Submission.id == VisitRow.submission_id)
        .where(VisitRow.round_id == round_id, _counted())
        .order_by(VisitRow.id)
    ).all()
    if not rows:
        empty = np.zeros(0)
        return Visits.from_arrays(
            np.zeros(0, np.int64), empty, empty, empty, empty, np.zeros(0, object)
        ), np.zeros(0, np.int64)
    cols = list(zip(*rows, strict=True))
    bids = np.array([np.nan if b is None else b for b in cols[1]], float)
    visits = Visits.from_arrays(
        np.asarray(cols[0], np.int64),
        bids,
        np.asarray(cols[2], object),
        np.asarray(cols[3], object),
        np.asarray(cols[4], object),
        np.asarray(cols[5], object),
        np.asarray(cols[6], np.int64),
    )
    return visits, visits.ids


def compute_round(round_id: int) -> Coverage:
    """In-process states of every building in a round (nothing written)."""
    visits, _ = load_visits(round_id)
    return compute_coverage(index().buildings, visits, settings=settings())


def postgis_round(round_id: int) -> dict[int, tuple[str, int, int]]:
    """The same computed inside PostGIS: building id -> (state, visits, units)."""
    s = settings()
    return postgis.coverage_states(
        db.session.connection(), round_id, s.match_distance_m, s.max_accuracy_m
    )


@dataclass
class RecomputeResult:
    round_id: int
    counts: dict
    rematched: int
    seconds: float
    engine: str


def rematch_visits(round_id: int) -> int:
    """Refresh each visit's stored match (building, distance, flags) where it changed."""
    visits, ids = load_visits(round_id)
    if not len(ids):
        return 0
    m = match_visits(index().buildings, visits, settings())
    stored = {
        r.id: (r.building_id, r.distance_m, tuple(r.flags or ()))
        for r in db.session.execute(
            sa.select(VisitRow.id, VisitRow.building_id, VisitRow.distance_m, VisitRow.flags).where(
                VisitRow.round_id == round_id
            )
        )
    }
    changes = []
    for i, vid in enumerate(ids.tolist()):
        vm = m[i]
        old_b, old_d, old_flags = stored[vid]
        keep = tuple(f for f in old_flags if f not in ("far", "poor_accuracy", "unmatched"))
        flags = match_flags(vm) + keep
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


def match_flags(vm) -> tuple[str, ...]:
    return tuple(
        f
        for f, on in (
            ("far", vm.far),
            ("poor_accuracy", vm.poor_accuracy),
            ("unmatched", vm.unmatched),
        )
        if on
    )


def recompute(round_id: int, *, use_postgis: bool = False, rematch: bool = True) -> RecomputeResult:
    """Rebuild a round's coverage rows from all its visits (commits)."""
    if db.session.get(Round, round_id) is None:
        raise ValueError(f"no round with id {round_id}")
    if use_postgis and db.engine.dialect.name != "postgresql":
        raise ValueError("--postgis needs a PostgreSQL database with PostGIS")
    t0 = time.perf_counter()
    rematched = rematch_visits(round_id) if rematch else 0
    if use_postgis:
        states = postgis_round(round_id)
        rows = [
            {
                "building_id": b,
                "round_id": round_id,
                "state": s,
                "visits": n,
                "units_recorded": u,
                "updated_at": utcnow(),
            }
            for b, (s, n, u) in states.items()
            if n
        ]
    else:
        cov = compute_round(round_id)
        has = np.flatnonzero(cov.visits > 0)
        now = utcnow()
        states_arr = cov.states
        rows = [
            {
                "building_id": int(cov.building_ids[i]),
                "round_id": round_id,
                "state": states_arr[i],
                "visits": int(cov.visits[i]),
                "units_recorded": int(cov.units_recorded[i]),
                "updated_at": now,
            }
            for i in has.tolist()
        ]
    db.session.execute(sa.delete(BuildingCoverage).where(BuildingCoverage.round_id == round_id))
    for start in range(0, len(rows), 20000):
        db.session.execute(sa.insert(BuildingCoverage), rows[start : start + 20000])
    db.session.commit()
    coverage_changed()
    counts = stored_counts(round_id)
    return RecomputeResult(
        round_id,
        counts,
        rematched,
        time.perf_counter() - t0,
        "postgis" if use_postgis else "in-process",
    )


# --- reading coverage -------------------------------------------------------------------------


def stored_states(round_id: int) -> dict[int, str]:
    """building id -> state for buildings with a row (the rest are unvisited)."""
    return dict(
        db.session.execute(
            sa.select(BuildingCoverage.building_id, BuildingCoverage.state).where(
                BuildingCoverage.round_id == round_id
            )
        ).all()
    )


def state_codes(round_id: int, building_ids: np.ndarray) -> np.ndarray:
    """State codes (index into STATES) aligned with sorted `building_ids`."""
    codes = np.zeros(len(building_ids), np.int8)
    rows = db.session.execute(
        sa.select(BuildingCoverage.building_id, BuildingCoverage.state).where(
            BuildingCoverage.round_id == round_id
        )
    ).all()
    if rows:
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        st = np.fromiter((STATES.index(r[1]) for r in rows), np.int8, len(rows))
        pos = np.searchsorted(building_ids, ids)
        ok = (pos < len(building_ids)) & (
            building_ids[np.minimum(pos, len(building_ids) - 1)] == ids
        )
        codes[pos[ok]] = st[ok]
    return codes


def stored_coverage(round_id: int) -> Coverage:
    """A Coverage of the stored rows (for roll-ups) over every building."""
    prep = index().buildings
    codes = state_codes(round_id, prep.ids)
    n = len(prep.ids)
    return Coverage(
        round_id,
        prep.ids,
        prep.streets,
        prep.expected_units,
        np.zeros(n, np.int64),
        np.zeros(n, np.int32),
        codes,
    )


def stored_counts(round_id: int) -> dict:
    return stored_coverage(round_id).counts()


def area_parents() -> dict[str, str | None]:
    rows = db.session.execute(sa.select(Area.code, Area.parent_id, Area.id)).all()
    code_of = {r.id: r.code for r in rows}
    return {r.code: code_of.get(r.parent_id) for r in rows}


def coordinator_streets() -> dict[str, list[str]]:
    """Coordinator username -> street codes of their assignments (villages expand to streets)."""
    rows = db.session.execute(
        sa.select(User.username, Area.path)
        .join(Assignment, Assignment.user_id == User.id)
        .join(Area, Area.id == Assignment.area_id)
        .where(User.role == "coordinator")
    ).all()
    streets = db.session.execute(
        sa.select(Area.code, Area.path).where(Area.level == "street")
    ).all()
    out: dict[str, list[str]] = {}
    for username, path in rows:
        out.setdefault(username, []).extend(
            code for code, p in streets if p == path or p.startswith(path + "/")
        )
    return out


def rollups(round_id: int) -> dict:
    """Counts and rates per area (street, village, township) and per coordinator."""
    cov = stored_coverage(round_id)
    return {
        "areas": rollup_by_area(cov, area_parents()),
        "coordinators": rollup_by_coordinator(cov, coordinator_streets()),
    }
