"""Roll-ups without touching every building: counts per street, area and coordinator.

`coverage_counts` holds, per round, how many buildings of each street are in each visited state
(kept in step by every refresh of a building, server/services/coverage/refresh.py, and rebuilt
by the full recompute); the buildings per street are counted by the database and kept per
process (counts.street_totals), so unvisited = buildings - visited. A statistics page reads a
few thousand rows and adds them up the area tree by integer street id; only the comparison of
two rounds looks at buildings, as arrays.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from gis.coverage import (
    STATES,
    counts_of,
    rollup_streets,
    rollup_streets_by_coordinator,
)
from server.extensions import db
from server.models import Area, User
from server.services import scope, sql_lists
from server.services.coverage import counts, source

UNVISITED = STATES.index("unvisited")


def street_matrix(round_id: int) -> np.ndarray:
    """Buildings per (street id, state) in a round; row 0: buildings without a street."""
    totals = counts.street_totals()[1]  # not the tile source: counted by the database
    held = counts.visited(round_id)  # kept per process, followed from the change feed
    size = max(len(totals), len(held))
    m = np.zeros((size, len(STATES)), np.int64)
    m[: len(held)] = held
    everyone = np.zeros(size, np.int64)
    everyone[: len(totals)] = totals
    m[:, UNVISITED] = np.maximum(everyone - (m.sum(axis=1) - m[:, UNVISITED]), 0)
    return m


def _areas() -> tuple[dict[int, str], dict[str, str | None], set[str]]:
    """(code by id, parent code by code, street codes) of every area."""
    rows = db.session.execute(sa.select(Area.id, Area.code, Area.parent_id, Area.level)).all()
    code_of = {r.id: r.code for r in rows}
    parents = {r.code: code_of.get(r.parent_id) for r in rows}
    return code_of, parents, {r.code for r in rows if r.level == "street"}


def _per_street(m: np.ndarray, code_of: dict[int, str]) -> dict[str | None, np.ndarray]:
    """Rows of the streets that have buildings, by code (None: no street)."""
    out: dict[str | None, np.ndarray] = {}
    for sid in np.flatnonzero(m.sum(axis=1)).tolist():
        if sid == 0:
            out[None] = m[0]
        elif sid in code_of:
            out[code_of[sid]] = m[sid]
    return out


def rollups(round_id: int, user: User | None = None,
            within: frozenset[str] | None = None) -> dict:
    """Counts and rates per area (street, village, township) and per coordinator, as far as
    the user may see: their streets, the areas above them none of whose streets is hidden
    from the user, and each coordinator's figures over the user's streets only; `within` (the
    round's streets) leaves the other streets' buildings out of every count."""
    code_of, parents, streets = _areas()
    per = _per_street(street_matrix(round_id), code_of)
    if within is not None:
        per = {code: row for code, row in per.items() if code in within}
    in_scope = visible = scope.street_codes(user)
    if within is not None:
        visible = within if visible is None else visible & within
    assigned = scope.coordinator_streets()
    if visible is not None:
        assigned = {name: [c for c in codes if c in visible] for name, codes in assigned.items()}
        assigned = {name: codes for name, codes in assigned.items() if codes}
    areas = rollup_streets(per, parents)
    coordinators = rollup_streets_by_coordinator(per, assigned)
    if visible is not None:
        hidden = set() if in_scope is None else streets - in_scope  # out of the user's scope
        shown = _with_ancestors(visible, parents) - _with_ancestors(hidden, parents)
        areas = {code: row for code, row in areas.items() if code in shown}
    return {"areas": areas, "coordinators": coordinators}


def _ids(codes: frozenset[str]) -> list[int]:
    return list(db.session.scalars(
        sa.select(Area.id).where(Area.level == "street", sql_lists.one_of(Area.code, codes))))


def counts_over(round_id: int, streets: frozenset[str] | None,
                street_ids: frozenset[int] | None = None) -> dict:
    """Counts per state, total and rates of a round's buildings in those streets (given by
    code, or by id when the caller has them; None: every building)."""
    m = street_matrix(round_id)
    if streets is None and street_ids is None:
        return counts_of(m.sum(axis=0))
    ids = sorted(street_ids) if street_ids is not None else _ids(streets)
    ids = [i for i in ids if 0 < i < len(m)]
    return counts_of(m[ids].sum(axis=0) if ids else np.zeros(len(STATES), np.int64))


def compare_counts(round_id: int, compare_id: int, streets: frozenset[str] | None) -> dict:
    """Per area (street and its ancestors): buildings visited in round `compare_id` and still
    unvisited in `round_id`, over `streets` (None: every street)."""
    groups = source.shared().source.groups
    now, _ = source.states(round_id)
    before, _ = source.states(compare_id)
    hit = (before != UNVISITED) & (now == UNVISITED)
    if streets is not None:
        lut = np.zeros(int(groups.max(initial=0)) + 1, bool)
        lut[[i for i in _ids(streets) if i < len(lut)]] = True
        hit &= lut[groups]
    code_of, parents, _streets = _areas()
    out: dict[str, int] = {}
    per = np.bincount(groups[hit], minlength=1)
    for sid in np.flatnonzero(per).tolist():
        code = code_of.get(sid) if sid else None
        while code is not None:
            out[code] = out.get(code, 0) + int(per[sid])
            code = parents.get(code)
    return out


def _with_ancestors(codes: set[str] | frozenset[str], parents: dict[str, str | None]) -> set[str]:
    out: set[str] = set()
    for code in codes:
        while code is not None and code not in out:
            out.add(code)
            code = parents.get(code)
    return out
