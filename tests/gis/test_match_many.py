"""Matching a processing batch's visits in one call (issue 13, item 2): `CoverageIndex.match_many`
gives every visit exactly the answer `match` gives it alone, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest

from gis.coverage import OUTCOMES, Buildings, CoverageIndex, CoverageSettings, Visit
from gis.demo import generate_township
from gis.demo_visits import generate_visits
from tests.gis.test_coverage import VISITS, _buildings, _visit

# id, chosen building, (east, north) of the geotag, accuracy, outcome, units: the edges
EDGES = [
    (201, None, (5, 0), 5.0, "done", 1),  # on b1's wall: distance 0
    (202, 1, (5, 3), 5.0, "done", 1),  # on the wall of the chosen building
    (203, None, (35, 0), 5.0, "done", 1),  # 30 m from b1's wall: the threshold, inclusive
    (204, 1, (35, 0), 5.0, "done", 1),  # 30 m from the chosen building: not far
    (205, None, (35.01, 0), 5.0, "done", 1),  # just beyond: unmatched
    (206, 2, (100, 36), 5.0, "done", 1),  # 31 m from the chosen building: far
    (207, None, (1015, 0), 25.0, "done", 1),  # a tie at the accuracy limit: lowest id
    (208, None, (1015, 0), 25.01, "done", 1),  # poor accuracy, still matched
    (209, None, (None, None), None, "done", 1),  # no geotag, no building: unmatched
    (210, 10, (None, None), 3.0, "done", 1),  # no geotag, a building: poor accuracy
    (211, None, (5000, 5000), 5.0, "done", 1),  # far from everything
]


def _one_at_a_time(index: CoverageIndex, visits: list[Visit]) -> list:
    return [index.match(v) for v in visits]


@pytest.mark.parametrize("settings", [None, CoverageSettings(10, 5)])
def test_many_equals_one_at_a_time_on_the_edges(settings):
    index = CoverageIndex(_buildings(), settings)
    visits = [_visit(r) for r in VISITS + EDGES]
    many = index.match_many(visits)
    assert many == _one_at_a_time(index, visits)
    if settings is None:  # the edges decide as the rule says
        by_id = {m.visit_id: m for m in many}
        assert (by_id[201].building_id, by_id[201].distance_m) == (1, pytest.approx(0, abs=1e-6))
        assert by_id[203].building_id == 1 and by_id[205].unmatched
        assert not by_id[204].far and by_id[206].far
        assert by_id[207].building_id == 10 and not by_id[207].poor_accuracy
        assert by_id[208].building_id == 10 and by_id[208].poor_accuracy
        assert by_id[209].unmatched and by_id[209].poor_accuracy
        assert by_id[210].building_id == 10 and by_id[210].distance_m is None
        assert by_id[211].unmatched


def test_many_equals_one_at_a_time_on_a_township():
    """Thousands of buildings, many visits (the candidate search a large call takes), a third
    with no building chosen, some with poor or unknown accuracy."""
    tw = generate_township(buildings=2000, seed=11)
    b = Buildings.from_arrays(
        np.arange(1, len(tw.buildings) + 1),
        [x.footprint for x in tw.buildings],
        [x.expected_units for x in tw.buildings],
        [x.street_code for x in tw.buildings],
    )
    v = generate_visits(b, 1200, seed=11, rounds=("r",), p_unlinked=0.35, p_poor_accuracy=0.1)
    visits = []
    for i in range(len(v)):
        acc = None if i % 97 == 0 else float(v.accuracy_m[i])
        lon, lat = (None, None) if i % 89 == 0 else (float(v.lon[i]), float(v.lat[i]))
        bid = int(v.building_ids[i]) if v.has_building[i] else None
        visits.append(Visit(int(v.ids[i]), bid, lon, lat, acc, OUTCOMES[v.outcome[i]]))
    index = CoverageIndex(b)
    many = index.match_many(visits)
    assert many == _one_at_a_time(index, visits)
    assert sum(m.unmatched for m in many) > 0 and sum(m.far for m in many) > 0
    assert sum(m.building_id is not None and m.distance_m is not None for m in many) > 600


def test_many_of_none_is_none():
    assert CoverageIndex(_buildings()).match_many([]) == []


@pytest.mark.parametrize(("visits", "message"), [
    ([_visit(VISITS[0]), "x"], r"visits\[1\] must be a Visit, got str"),
    (_visit(VISITS[0]), r"visits must be a sequence of Visit, got Visit"),
    ([_visit(VISITS[0]), _visit((7, 99, (0, 0), 5.0, "done", 1))],
     r"visit 7: building_id 99 is not a known building"),
])
def test_bad_visits_are_named(visits, message):
    with pytest.raises(ValueError, match=message):
        CoverageIndex(_buildings()).match_many(visits)
