"""The one-building state rule (used by the database refresh) agrees with the full recompute."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from gis.coverage import (
    OUTCOMES,
    Buildings,
    compute_coverage,
    match_visits,
    state_of_building,
)
from gis.demo import generate_township
from gis.demo_visits import generate_visits


def test_state_of_building_agrees_with_compute_coverage_on_a_generated_city() -> None:
    tw = generate_township(buildings=1500, seed=11)
    b = Buildings.from_arrays(
        np.arange(1, len(tw.buildings) + 1),
        [x.footprint for x in tw.buildings],
        [x.expected_units for x in tw.buildings],
        [x.street_code for x in tw.buildings],
    )
    v = generate_visits(b, 4500, seed=11, p_unlinked=0.2)
    full = compute_coverage(b, v)
    m = match_visits(b, v)
    per: dict[int, list] = defaultdict(list)
    for i in range(len(v)):
        if m.building_ids[i] is not None:
            suspect = bool(m.far[i] or m.poor_accuracy[i])
            per[int(m.building_ids[i])].append((OUTCOMES[v.outcome[i]], suspect, int(v.units[i])))
    expected = dict(zip(b.ids.tolist(), b.expected_units.tolist(), strict=True))
    for k, bid in enumerate(full.building_ids.tolist()):
        state, n, units = state_of_building(per.get(bid, []), expected[bid])
        assert (state, n, units) == (
            full.states[k], int(full.visits[k]), int(full.units_recorded[k])
        ), bid
    assert {s for s in full.states} >= {"visited", "complete", "revisit", "suspect", "unvisited"}


@pytest.mark.parametrize(
    ("visits", "expected_units", "state"),
    [
        ([], 3, "unvisited"),
        ([("nobody_home", False, 0), ("done", False, 1)], 2, "visited"),
        ([("done", False, 1), ("done", False, 1)], 2, "complete"),
        ([("vacant", True, 0)], 2, "suspect"),
        ([("vacant", True, 0), ("refused", False, 0)], 2, "revisit"),
        ([("demolished", False, 0)], 5, "complete"),
    ],
)
def test_state_of_building_rule(visits, expected_units, state) -> None:
    assert state_of_building(visits, expected_units)[0] == state


def test_state_of_building_refuses_unknown_outcomes() -> None:
    with pytest.raises(ValueError, match="unknown outcome 'maybe'"):
        state_of_building([("maybe", False, 0)], 1)
