"""Matching visits to buildings, as answers: per visit (VisitMatch) or as columns (MatchResult).

The rule is gis/coverage.py's docstring; gis/_matching.py computes it over arrays. Matching many
visits in one call gives each the answer matching it alone gives: the exact distance is measured
for every visit either way, and the candidate search only narrows which footprints are measured.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from gis._matching import MatchArrays, PreparedBuildings
from gis._tables import Buildings, Visit, Visits, py
from gis.thresholds import CoverageSettings


@dataclass(frozen=True, slots=True)
class VisitMatch:
    visit_id: Hashable
    building_id: Hashable | None
    distance_m: float | None
    far: bool
    poor_accuracy: bool
    unmatched: bool

    @property
    def suspect(self) -> bool:
        return self.far or self.poor_accuracy


@dataclass(slots=True)
class MatchResult:
    """Columnar match of every visit, in input order; building_ids None where unmatched."""

    visit_ids: np.ndarray
    building_ids: np.ndarray
    distance_m: np.ndarray
    far: np.ndarray
    poor_accuracy: np.ndarray
    unmatched: np.ndarray

    def __len__(self) -> int:
        return len(self.visit_ids)

    def __getitem__(self, i: int) -> VisitMatch:
        d = float(self.distance_m[i])
        return VisitMatch(
            py(self.visit_ids[i]), py(self.building_ids[i]), None if np.isnan(d) else d,
            bool(self.far[i]), bool(self.poor_accuracy[i]), bool(self.unmatched[i]),
        )  # fmt: skip


def _prepared(buildings: Buildings | PreparedBuildings) -> PreparedBuildings:
    if isinstance(buildings, PreparedBuildings):
        return buildings
    if isinstance(buildings, Buildings):
        return PreparedBuildings(buildings)
    raise ValueError(f"buildings must be Buildings or PreparedBuildings, got {type(buildings)}")


def _match(
    prep: PreparedBuildings, visits: Visits, s: CoverageSettings, exact: bool
) -> MatchArrays:
    if not isinstance(visits, Visits):
        raise ValueError(f"visits must be a Visits table, got {type(visits).__name__}")
    chosen = prep.positions(visits.building_ids, visits.has_building, visits.ids)
    return prep.match(
        visits.lon, visits.lat, visits.accuracy_m, chosen,
        s.match_distance_m, s.max_accuracy_m, exact,
    )  # fmt: skip


def match_visits(
    buildings: Buildings | PreparedBuildings,
    visits: Visits,
    settings: CoverageSettings | None = None,
) -> MatchResult:
    """Match every visit (exact distances for all); see the module docstring for the rule."""
    prep = _prepared(buildings)
    m = _match(prep, visits, settings or CoverageSettings(), exact=True)
    bids = np.full(len(m.bpos), None, dtype=object)
    ok = m.bpos >= 0
    bids[ok] = prep.ids[m.bpos[ok]]
    return MatchResult(visits.ids, bids, m.distance, m.far, m.poor_accuracy, m.unmatched)


def _visits_of(records: Sequence[Visit]) -> Visits:
    """The Visits table of Visit records; anything else is named by its position."""
    if isinstance(records, Visit | str | bytes) or not isinstance(records, Sequence):
        raise ValueError(f"visits must be a sequence of Visit, got {type(records).__name__}")
    for k, record in enumerate(records):
        if not isinstance(record, Visit):
            raise ValueError(f"visits[{k}] must be a Visit, got {type(record).__name__}")
    return Visits.from_records(records)


def _answers(
    prep: PreparedBuildings, records: Sequence[Visit], s: CoverageSettings
) -> list[VisitMatch]:
    """Every record matched in one vectorised call (exact distances), as VisitMatch in order."""
    table = _visits_of(records)
    if not len(table):
        return []
    m = _match(prep, table, s, exact=True)
    bpos, dist = m.bpos.tolist(), m.distance.tolist()
    far, poor, unmatched = m.far.tolist(), m.poor_accuracy.tolist(), m.unmatched.tolist()
    ids = [py(prep.ids[b]) if b >= 0 else None for b in bpos]
    return [
        VisitMatch(record.id, ids[k], None if np.isnan(dist[k]) else dist[k], far[k], poor[k],
                   unmatched[k])
        for k, record in enumerate(records)
    ]
