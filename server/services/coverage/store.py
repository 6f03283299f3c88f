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
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app

from gis.states import STATES
from gis.thresholds import CoverageSettings
from server.extensions import db
from server.i18n import N_
from server.models import (
    Area,
    Building,
    BuildingCoverage,
    CoverageCount,
    DataVersion,
    FormVersion,
    RoundForm,
    Submission,
    Visit,
)
from server.models.visits import FLAGGED_SQL

if TYPE_CHECKING:
    import numpy as np

    from gis.coverage import Buildings, CoverageIndex  # annotations only (see load_buildings)

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
    # The engine, numpy and shapely (~0.15 s) load with the first index, not with this module,
    # which commands that only read rounds and counts import (`doorstep rounds list`).
    import numpy as np
    import shapely

    from gis.coverage import Buildings  # (see above)

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
            from gis.coverage import CoverageIndex  # (see load_buildings)

            cached = _Cached(CoverageIndex(load_buildings(), settings()), sig, 0)
            _CACHE[key] = cached
    return cached.index


def index_for(s: CoverageSettings, top_building_id: int | None = None) -> CoverageIndex:
    """The cached index under a round's own thresholds (it shares the prepared footprints)."""
    from gis.coverage import CoverageIndex  # (see load_buildings)

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


def flagged_column():
    """A visit has a flag: the condition of the partial index ix_visits_flagged, in its words
    (neither database's planner uses a partial index for a query that does not state them)."""
    return sa.text(f"visits.{FLAGGED_SQL}")


def suspect_column():
    """A visit's flags name a suspect one (SUSPECT_FLAGS), read from the flags' JSON text by
    the database: no list is decoded per visit."""
    text = sa.cast(Visit.flags, sa.Text)
    return sa.or_(*(text.like(f'%"{f}"%') for f in SUSPECT_FLAGS))


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


def fetch_tuples(stmt: sa.Select, conn: sa.Connection | None = None) -> list[tuple]:
    """Rows as plain DBAPI tuples (no Row objects, no type processing): for statements whose
    parameters are integers and constants, inlined as literals. `conn`: the session's
    connection unless given (a migration's)."""
    conn = conn if conn is not None else db.session.connection()
    sql = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(str(sql))
        return cur.fetchall()
    finally:
        cur.close()


def state_code_column(column, missing: int = 0):
    """A state column as its code (index into STATES) computed by the database; `missing`
    for NULL (0: unvisited)."""
    return sa.case({name: k for k, name in enumerate(STATES)}, value=column, else_=missing)


def state_codes(round_id: int, building_ids: np.ndarray) -> np.ndarray:
    """State codes (index into STATES) aligned with sorted `building_ids`."""
    import numpy as np  # (see load_buildings)

    codes = np.zeros(len(building_ids), np.int8)
    c = BuildingCoverage.__table__.c
    rows = fetch_tuples(sa.select(c.building_id, state_code_column(c.state))
                        .where(c.round_id == int(round_id)))  # fmt: skip
    if rows and len(building_ids):
        a = np.array(rows, np.int64).reshape(len(rows), 2)
        ids, st = a[:, 0], a[:, 1].astype(np.int8)
        pos = np.searchsorted(building_ids, ids)
        ok = (pos < len(building_ids)) & (
            building_ids[np.minimum(pos, len(building_ids) - 1)] == ids
        )
        codes[pos[ok]] = st[ok]
    return codes


# --- roll-up counts (buildings per street and state), kept in step with building_coverage -----


def rebuild_counts(round_id: int | None = None) -> None:
    """Rewrite `coverage_counts` of a round (None: every round) from the stored rows (no
    commit): the full recompute's and the imports' way back to an exact count."""
    t, c, b = CoverageCount.__table__, BuildingCoverage.__table__.c, Building.__table__.c
    street = sa.func.coalesce(b.street_id, 0)
    grouped = (
        sa.select(c.round_id, street, c.state, sa.func.count())
        .join_from(BuildingCoverage.__table__, Building.__table__, b.id == c.building_id)
        .group_by(c.round_id, street, c.state)
    )
    delete = sa.delete(t)
    if round_id is not None:
        grouped = grouped.where(c.round_id == int(round_id))
        delete = delete.where(t.c.round_id == int(round_id))
    db.session.execute(delete)
    db.session.execute(sa.insert(t).from_select(
        ["round_id", "street_id", "state", "buildings"], grouped))  # fmt: skip


def buildings_version_column():
    """The buildings' shared version as a scalar subquery (None before the first import)."""
    return (sa.select(DataVersion.version).where(DataVersion.name == "buildings")
            .scalar_subquery())  # fmt: skip


def buildings_edited() -> None:
    """Call inside the transaction that edited existing buildings (footprints, streets): every
    process's copy of the buildings goes stale, and the counts per street are rebuilt."""
    t = DataVersion.__table__
    done = db.session.execute(
        sa.update(t).where(t.c.name == "buildings").values(version=t.c.version + 1)
    )
    if not done.rowcount:
        db.session.execute(sa.insert(t).values(name="buildings", version=1))
    db.session.flush()
    rebuild_counts(None)
    buildings_changed()  # this process at once, the others within their probe
