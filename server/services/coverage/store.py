"""Coverage of buildings per round, kept in `building_coverage` (one row per visited building).

Two ways to the same answer (gis/coverage.py states the rule):

* incremental (`coverage_refresh`): a processed submission refreshes only its building's row,
  from that building's stored visits (so order, edits and replays do not matter);
* full recompute per round (`coverage_recompute`): every visit of the round re-matched with the
  gis engine in-process, or inside PostGIS (`gis.postgis`) on PostgreSQL; identical states.

This module holds what both share: settings, the process-wide CoverageIndex (projected
footprints + spatial tree, rebuilt when buildings change), and reading the stored rows (states,
counts, roll-ups). A building with no row in a round is unvisited. Which round a visit belongs
to is server/services/coverage/rounds.py.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shapely
import sqlalchemy as sa
from flask import current_app

from gis.coverage import (
    STATES,
    Buildings,
    Coverage,
    CoverageIndex,
    CoverageSettings,
    rollup_by_area,
    rollup_by_coordinator,
)
from server.extensions import db
from server.i18n import N_
from server.models import (
    Area,
    Building,
    BuildingCoverage,
    FormVersion,
    RoundForm,
    Submission,
    User,
)
from server.services import scope

SUSPECT_FLAGS = ("far", "poor_accuracy")


def settings() -> CoverageSettings:
    cfg = current_app.config
    return CoverageSettings(cfg["MATCH_DISTANCE_M"], cfg["GPS_ACCURACY_M"])


# --- the process-wide index -------------------------------------------------------------------


@dataclass
class _Cached:
    index: CoverageIndex
    signature: tuple
    generation: int


_LOCK = threading.Lock()
_CACHE: dict[str, _Cached] = {}
_GENERATION: dict[str, int] = {}  # bumped on every coverage change (tiles follow it)


def db_key() -> str:
    """Which database this is (process-wide caches are per database: tests use many)."""
    return db.engine.url.render_as_string(hide_password=True)


def _signature(top_building_id: int | None) -> tuple:
    s = settings()
    if top_building_id is None:
        top_building_id = db.session.scalar(sa.select(sa.func.max(Building.id)))
    return (top_building_id, s.match_distance_m, s.max_accuracy_m,
            _GENERATION.get(db_key() + "#b", 0))  # fmt: skip


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


def index(top_building_id: int | None = None) -> CoverageIndex:
    """The cached CoverageIndex of this database (built on first use, ~1 s per 100k).

    It is rebuilt when buildings were added (the highest building id, read here unless the
    caller read it in its own query) or `buildings_changed()` was called in this process.
    """
    key, sig = db_key(), _signature(top_building_id)
    cached = _CACHE.get(key)
    if cached is not None and cached.signature == sig:
        return cached.index
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None or cached.signature != sig:
            cached = _Cached(CoverageIndex(load_buildings(), settings()), sig, 0)
            _CACHE[key] = cached
    return cached.index


def index_for(s: CoverageSettings, top_building_id: int | None = None) -> CoverageIndex:
    """The cached index under a round's own thresholds (it shares the prepared footprints)."""
    base = index(top_building_id)
    return base if base.settings == s else CoverageIndex(base.buildings, s)


def buildings_changed() -> None:
    """Call after importing or editing buildings: the index and tiles are rebuilt."""
    key = db_key()
    _GENERATION[key + "#b"] = _GENERATION.get(key + "#b", 0) + 1
    coverage_changed()


def coverage_changed() -> None:
    key = db_key()
    _GENERATION[key] = _GENERATION.get(key, 0) + 1


def generation() -> tuple[int, int]:
    """Changes of (buildings, coverage) seen by this process; caches key on it."""
    key = db_key()
    return _GENERATION.get(key + "#b", 0), _GENERATION.get(key, 0)


# --- shared by the incremental and full paths -------------------------------------------------


def counted():
    """Visits that count: their submission is not rejected (review) and not replaced (edit)."""
    return sa.and_(Submission.review_state != "rejected", Submission.superseded.is_(False))


def form_counts(round_id):
    """The submission's form counts as a visit in the round (a round listing none: every form).
    `round_id` is an int or a bind parameter."""
    listed = sa.select(RoundForm.form_id).where(RoundForm.round_id == round_id)
    return sa.or_(
        ~sa.exists(listed),
        Submission.form_version_id.in_(
            sa.select(FormVersion.id).where(FormVersion.form_id.in_(listed))
        ),
    )


#: Each flag a visit may carry, in English (the catalogue has the Chinese).
FLAG_WORDS = {
    "far": N_("Far from the building"),
    "poor_accuracy": N_("Poor GPS accuracy"),
    "unmatched": N_("Not matched to a building"),
    "unknown_building": N_("Building not in the list"),
    "no_geotag": N_("No geotag"),
}


def match_flags(vm) -> tuple[str, ...]:
    """The stored flags of a visit's match (a gis VisitMatch)."""
    return tuple(
        f
        for f, on in (
            ("far", vm.far),
            ("poor_accuracy", vm.poor_accuracy),
            ("unmatched", vm.unmatched),
        )
        if on
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


def _within(cov: Coverage, streets: frozenset[str] | None) -> Coverage:
    """Only the buildings of those streets (None: all)."""
    if streets is None:
        return cov
    keep = np.isin(cov.streets.astype(str), list(streets))
    return Coverage(cov.round, *(a[keep] for a in (
        cov.building_ids, cov.streets, cov.expected_units, cov.units_recorded, cov.visits,
        cov.state_codes)))  # fmt: skip


def counts_over(round_id: int, streets: frozenset[str] | None) -> dict:
    """Counts per state, total and rates of a round's buildings in those streets."""
    return _within(stored_coverage(round_id), streets).counts()


def area_parents() -> dict[str, str | None]:
    rows = db.session.execute(sa.select(Area.code, Area.parent_id, Area.id)).all()
    code_of = {r.id: r.code for r in rows}
    return {r.code: code_of.get(r.parent_id) for r in rows}


def rollups(round_id: int, user: User | None = None,
            within: frozenset[str] | None = None) -> dict:
    """Counts and rates per area (street, village, township) and per coordinator, as far as
    the user may see: their streets, the areas above them none of whose streets is hidden
    from the user, and each coordinator's figures over the user's streets only; `within` (the
    round's streets) leaves the other streets' buildings out of every count."""
    cov = _within(stored_coverage(round_id), within)
    parents = area_parents()
    in_scope = visible = scope.street_codes(user)
    if within is not None:
        visible = within if visible is None else visible & within
    assigned = scope.coordinator_streets()
    if visible is not None:
        assigned = {name: [c for c in codes if c in visible] for name, codes in assigned.items()}
        assigned = {name: codes for name, codes in assigned.items() if codes}
    areas = rollup_by_area(cov, parents)
    coordinators = rollup_by_coordinator(cov, assigned)
    if visible is not None:
        streets = set(db.session.scalars(sa.select(Area.code).where(Area.level == "street")))
        hidden = set() if in_scope is None else streets - in_scope  # out of the user's scope
        shown = _with_ancestors(visible, parents) - _with_ancestors(hidden, parents)
        areas = {code: row for code, row in areas.items() if code in shown}
    return {"areas": areas, "coordinators": coordinators}


def compare_counts(round_id: int, compare_id: int, streets: frozenset[str] | None) -> dict:
    """Per area (street and its ancestors): buildings visited in round `compare_id` and still
    unvisited in `round_id`, over `streets` (None: every street)."""
    prep = index().buildings
    now = state_codes(round_id, prep.ids)
    before = state_codes(compare_id, prep.ids)
    unvisited = STATES.index("unvisited")
    hit = (before != unvisited) & (now == unvisited)
    codes = prep.streets.astype(str)
    if streets is not None:
        hit &= np.isin(codes, list(streets))
    parents = area_parents()
    out: dict[str, int] = {}
    found, n = np.unique(codes[hit], return_counts=True)
    for street, count in zip(found.tolist(), n.tolist(), strict=True):
        code: str | None = street
        while code is not None and code != "None":
            out[code] = out.get(code, 0) + int(count)
            code = parents.get(code)
    return out


def _with_ancestors(codes: set[str] | frozenset[str], parents: dict[str, str | None]) -> set[str]:
    out: set[str] = set()
    for code in codes:
        while code is not None and code not in out:
            out.add(code)
            code = parents.get(code)
    return out
