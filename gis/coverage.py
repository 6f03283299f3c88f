"""Coverage engine: match visits to buildings and give every building a state per round.

A pure function of buildings and visits (no database, no Flask), so it can be replayed from raw
submissions, and a PostGIS path can be checked against it. The rule, exactly:

Projection
    All distances are planar metres in one UTM zone chosen from the *buildings*: the centre of
    their WGS 84 bounding box ``((minx+maxx)/2, (miny+maxy)/2)`` gives
    ``zone = floor((lon + 180) / 6) + 1`` (clamped to 1..60, no Norway/Svalbard exceptions) and
    EPSG ``32600 + zone`` if lat >= 0 else ``32700 + zone`` (Jinning: EPSG:32648). PostGIS:
    ``ST_Distance(ST_Transform(point, epsg), ST_Transform(footprint, epsg))``.
Matching one visit (thresholds ``match_distance_m`` = 30, ``max_accuracy_m`` = 25 by default)
    * ``poor_accuracy``: accuracy > max_accuracy_m, or accuracy unknown, or no geotag.
    * A chosen building is kept: ``distance`` = point-to-polygon distance (0 inside);
      ``far`` = distance > match_distance_m. An unknown building id is a ``ValueError``.
    * No building chosen: the footprint with the smallest distance <= match_distance_m
      (``ST_DWithin``, inclusive); ties (distances equal when rounded to the millimetre)
      -> lowest building id. None -> ``unmatched``. SQL: ``ORDER BY round(dist * 1000), id``.
      Without a geotag it stays unmatched.
Evidence of a matched visit for its building in the visit's round
    * ``suspect`` if far or poor_accuracy (it counts for nothing else until reviewed);
    * otherwise by outcome: ``done`` adds its ``units`` (households recorded) to the building's
      recorded units; ``vacant`` / ``not_rented`` / ``demolished`` close the building;
      ``nobody_home`` / ``refused`` ask for a revisit.
State of a building in a round (first rule that holds; independent of visit order, so one new
visit updates one building and replaying in any order gives the same result)
    1. ``complete``: a good closing visit, or good ``done`` visits whose units sum to at least
       ``expected_units`` (with expected_units 0, any good ``done`` visit);
    2. ``visited``: a good ``done`` visit, units still missing;
    3. ``revisit``: a good ``nobody_home`` / ``refused`` visit;
    4. ``suspect``: only suspect evidence;
    5. ``unvisited``: no matched visit.
    So a good complete visit beats an earlier nobody-home, and suspect visits never hide good
    ones. Units are summed over visits (visits to different doors of one building add up);
    edits and deletions of visits need a recompute of that round.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gis._matching import MatchArrays, PreparedBuildings, utm_epsg
from gis._tables import OUTCOMES, Buildings, Visit, Visits, _building_ids, py
from gis._visit_match import (
    MatchResult,
    VisitMatch,
    _answers,
    _match,
    _prepared,
    match_visits,
)
from gis.states import STATES
from gis.thresholds import CoverageSettings

__all__ = [
    "OUTCOMES",
    "STATES",
    "Buildings",
    "Coverage",
    "CoverageIndex",
    "CoverageSettings",
    "MatchResult",
    "Visit",
    "VisitMatch",
    "Visits",
    "compute_coverage",
    "counts_of",
    "match_visits",
    "rollup_by_area",
    "rollup_by_coordinator",
    "rollup_streets",
    "rollup_streets_by_coordinator",
    "state_of_building",
    "street_counts",
    "utm_epsg",
]

_UNVISITED, _VISITED, _COMPLETE, _REVISIT, _SUSPECT = map(
    STATES.index, ("unvisited", "visited", "complete", "revisit", "suspect")
)
_DONE, _CLOSED, _RETRY, _SUSPECT_BIT = 1, 2, 4, 8
_OUTCOME_BIT = np.array([_DONE, _RETRY, _RETRY, _CLOSED, _CLOSED, _CLOSED], np.uint8)
assert len(_OUTCOME_BIT) == len(OUTCOMES)


@dataclass(slots=True)
class Coverage:
    """Per building (sorted by id) in one round: state code, units recorded, visits matched."""

    round: Hashable | None
    building_ids: np.ndarray
    streets: np.ndarray
    expected_units: np.ndarray
    units_recorded: np.ndarray
    visits: np.ndarray
    state_codes: np.ndarray

    @property
    def states(self) -> np.ndarray:
        return np.asarray(STATES, dtype=object)[self.state_codes]

    def state_of(self, building_id: Hashable) -> str:
        i = int(np.searchsorted(self.building_ids, building_id))
        if i >= len(self.building_ids) or self.building_ids[i] != building_id:
            raise ValueError(f"building_id {building_id!r} is not a known building")
        return STATES[self.state_codes[i]]

    def counts(self) -> dict[str, int]:
        return counts_of(np.bincount(self.state_codes, minlength=len(STATES)))


def counts_of(c: np.ndarray) -> dict[str, int]:
    """Buildings per state (in STATES order) as counts, total and rates."""
    out = {s: int(c[k]) for k, s in enumerate(STATES)}
    total = int(c.sum())
    out["total"] = total
    entered = out["visited"] + out["complete"]
    out["entry_rate"] = entered / total if total else 0.0  # type: ignore[assignment]
    out["complete_rate"] = out["complete"] / total if total else 0.0  # type: ignore[assignment]
    out["visited_rate"] = (total - out["unvisited"]) / total if total else 0.0  # type: ignore[assignment]
    # accuracy: the share of visited buildings whose evidence holds (not only suspect visits)
    seen = total - out["unvisited"]
    out["accuracy_rate"] = (seen - out["suspect"]) / seen if seen else 0.0  # type: ignore[assignment]
    return out


def _evidence(m: MatchArrays, outcome: np.ndarray) -> np.ndarray:
    suspect = m.far | m.poor_accuracy
    return np.where(suspect, _SUSPECT_BIT, _OUTCOME_BIT[outcome]).astype(np.uint8)


def _state_codes(bits: np.ndarray, units: np.ndarray, expected: np.ndarray) -> np.ndarray:
    done = (bits & _DONE) > 0
    complete = ((bits & _CLOSED) > 0) | (done & (units >= expected))
    return np.select(
        [complete, done, (bits & _RETRY) > 0, (bits & _SUSPECT_BIT) > 0],
        [_COMPLETE, _VISITED, _REVISIT, _SUSPECT],
        _UNVISITED,
    ).astype(np.int8)


def visit_bit(outcome: str, suspect: bool, units: int | None) -> tuple[int, int]:
    """One visit's evidence bit and the units it adds (a done visit's); a building's state is
    state_codes of the OR of its bits and the sum of its units."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}: choose one of {', '.join(OUTCOMES)}")
    bit = _SUSPECT_BIT if suspect else int(_OUTCOME_BIT[OUTCOMES.index(outcome)])
    return bit, int(units or 0) if bit == _DONE else 0


def state_codes(bits: np.ndarray, units: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Codes into STATES of many buildings at once (bits: OR of visit_bit; units of DONE
    visits), for callers that replay visits themselves (the reports' states as of a day)."""
    return _state_codes(bits.astype(np.uint8), units.astype(np.int64), expected.astype(np.int64))


def state_of_building(
    visits: Iterable[tuple[str, bool, int]], expected_units: int | None
) -> tuple[str, int, int]:
    """(state, visits, units recorded) of one building from its matched visits in a round.

    Each visit is ``(outcome, suspect, units)``; the rule is the module docstring's, the one
    ``compute_coverage`` applies to every building at once (so a database can refresh one
    building's row from its stored visits and agree with a full recompute).
    """
    bits, units, n = 0, 0, 0
    for outcome, suspect, unit_count in visits:
        n += 1
        bit, added = visit_bit(outcome, suspect, unit_count)
        bits, units = bits | bit, units + added
    code = _state_codes(
        np.array([bits], np.uint8),
        np.array([units], np.int64),
        np.array([expected_units or 0], np.int64),
    )[0]
    return STATES[int(code)], n, units


def compute_coverage(
    buildings: Buildings | PreparedBuildings,
    visits: Visits,
    *,
    round: Hashable | None = None,
    settings: CoverageSettings | None = None,
) -> Coverage:
    """Full recompute for one round (``round=None``: every visit, whatever its round)."""
    prep = _prepared(buildings)
    if round is not None:
        keep = np.flatnonzero(visits.round == round)
        visits = Visits(*(getattr(visits, f)[keep] for f in Visits.__slots__))
    m = _match(prep, visits, settings or CoverageSettings(), exact=False)
    ok = m.bpos >= 0
    b, ev = m.bpos[ok], _evidence(m, visits.outcome)[ok]
    n = len(prep)
    bits = np.zeros(n, np.uint8)
    for bit in (_DONE, _CLOSED, _RETRY, _SUSPECT_BIT):
        bits |= np.where(np.bincount(b[(ev & bit) > 0], minlength=n) > 0, bit, 0).astype(np.uint8)
    good_done = ev == _DONE
    units = np.bincount(b[good_done], weights=visits.units[ok][good_done], minlength=n)
    units = units.astype(np.int64)
    return Coverage(
        round, prep.ids, prep.streets, prep.expected_units, units,
        np.bincount(b, minlength=n).astype(np.int32),
        _state_codes(bits, units, prep.expected_units),
    )  # fmt: skip


class CoverageIndex:
    """Built once from the buildings; matches and applies one new visit in well under 5 ms."""

    def __init__(
        self,
        buildings: Buildings | PreparedBuildings,
        settings: CoverageSettings | None = None,
    ) -> None:
        self.buildings = _prepared(buildings)
        self.settings = settings or CoverageSettings()
        self._rounds: dict[Hashable | None, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _one(self, visit: Visit) -> MatchArrays:
        if not isinstance(visit, Visit):
            raise ValueError(f"visit must be a Visit, got {type(visit).__name__}")
        v = Visits.from_records([visit])
        return _match(self.buildings, v, self.settings, exact=True)

    def match(self, visit: Visit) -> VisitMatch:
        """Match one visit without changing any state."""
        return self._to_match(visit, self._one(visit))

    def match_many(self, visits: Sequence[Visit]) -> list[VisitMatch]:
        """Match many visits in one vectorised call (a processing batch's, say) without
        changing any state: the answers of `match` on each, in order, for a fraction of the
        cost. An unknown chosen building or a non-Visit is a ValueError naming it."""
        return _answers(self.buildings, visits, self.settings)

    def _to_match(self, visit: Visit, m: MatchArrays) -> VisitMatch:
        b, d = int(m.bpos[0]), float(m.distance[0])
        return VisitMatch(
            visit.id, py(self.buildings.ids[b]) if b >= 0 else None, None if np.isnan(d) else d,
            bool(m.far[0]), bool(m.poor_accuracy[0]), bool(m.unmatched[0]),
        )  # fmt: skip

    def _round(self, round: Hashable | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if round not in self._rounds:
            n = len(self.buildings)
            self._rounds[round] = (
                np.zeros(n, np.uint8),
                np.zeros(n, np.int64),
                np.zeros(n, np.int32),
            )
        return self._rounds[round]

    def apply(self, visit: Visit) -> tuple[VisitMatch, str | None]:
        """Match one new visit and update its building's state; apply each visit only once."""
        m = self._one(visit)
        b = int(m.bpos[0])
        if b < 0:
            return self._to_match(visit, m), None
        bits, units, count = self._round(visit.round)
        ev = int(_evidence(m, np.array([OUTCOMES.index(visit.outcome)]))[0])
        bits[b] |= ev
        count[b] += 1
        if ev == _DONE:
            units[b] += int(visit.units or 0)
        return self._to_match(visit, m), STATES[self._state(b, visit.round)]

    def _state(self, b: int, round: Hashable | None) -> int:
        bits, units, _ = self._round(round)
        exp = self.buildings.expected_units
        return int(_state_codes(bits[b : b + 1], units[b : b + 1], exp[b : b + 1])[0])

    def state(self, building_id: Hashable, round: Hashable | None = None) -> str:
        bid, has = _building_ids(np.array([building_id], dtype=object), 1)
        pos = self.buildings.positions(bid, has, np.array([None]))
        return STATES[self._state(int(pos[0]), round)]

    def coverage(self, round: Hashable | None = None) -> Coverage:
        bits, units, count = self._round(round)
        p = self.buildings
        return Coverage(
            round, p.ids, p.streets, p.expected_units, units.copy(), count.copy(),
            _state_codes(bits, units, p.expected_units),
        )  # fmt: skip


def street_counts(coverage: Coverage) -> dict[str | None, np.ndarray]:
    """Buildings per state (an array in STATES order) of each street (None: no street)."""
    streets, inv = np.unique(coverage.streets.astype(str), return_inverse=True)
    per = np.zeros((len(streets), len(STATES)), np.int64)
    np.add.at(per, (inv, coverage.state_codes), 1)
    return {None if code == "None" else code: row
            for code, row in zip(streets.tolist(), per, strict=True)}  # fmt: skip


def rollup_streets(
    per_street: Mapping[str | None, np.ndarray], parents: Mapping[str, str | None]
) -> dict[str | None, dict[str, float]]:
    """Counts per state, total and rates for every street and all its ancestors, from the
    buildings per state of each street (``street_counts``, or counts kept by a database)."""
    acc: dict[str | None, np.ndarray] = {}
    for code, row in per_street.items():
        key: str | None = code
        if key is not None and key not in parents:
            raise ValueError(f"parents has no entry for street {key!r}")
        seen = set()
        while True:
            acc[key] = acc.get(key, 0) + row
            if key is None or parents.get(key) is None or key in seen:
                break
            seen.add(key)
            key = parents[key]
    for code in parents:
        acc.setdefault(code, np.zeros(len(STATES), np.int64))
    return {k: counts_of(v) for k, v in acc.items()}


def rollup_by_area(
    coverage: Coverage, parents: Mapping[str, str | None]
) -> dict[str | None, dict[str, float]]:
    """Counts per state, total and rates for every street and all its ancestors; ``parents``
    maps each area code to its parent's (None: the root); streetless buildings count under None."""
    return rollup_streets(street_counts(coverage), parents)


def rollup_streets_by_coordinator(
    per_street: Mapping[str | None, np.ndarray], assignments: Mapping[str, Iterable[str]]
) -> dict[str, dict[str, float]]:
    """Counts per state for the buildings in each coordinator's assigned streets."""
    out = {}
    for user, codes in assignments.items():
        rows = [per_street[c] for c in codes if c in per_street]
        out[user] = counts_of(np.sum(rows, axis=0) if rows else np.zeros(len(STATES), np.int64))
    return out


def rollup_by_coordinator(coverage: Coverage,
                          assignments: Mapping[str, Iterable[str]]) -> dict[str, dict[str, float]]:
    return rollup_streets_by_coordinator(street_counts(coverage), assignments)
