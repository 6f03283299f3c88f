"""Coverage engine: a scenario with known truth, and incremental == full on a demo township."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from gis.coverage import (
    OUTCOMES,
    STATES,
    Buildings,
    CoverageIndex,
    CoverageSettings,
    Visit,
    Visits,
    compute_coverage,
    match_visits,
    rollup_by_area,
    rollup_by_coordinator,
    utm_epsg,
)
from gis.demo import generate_township
from gis.demo_visits import generate_visits

_TO_LL = Transformer.from_crs(32648, 4326, always_xy=True)
_ORIGIN = Transformer.from_crs(4326, 32648, always_xy=True).transform(102.6, 24.6)


def _ll(x: float, y: float) -> tuple[float, float]:
    """Local metres east/north of the origin -> lon/lat."""
    return _TO_LL.transform(_ORIGIN[0] + x, _ORIGIN[1] + y)


def _square(x: float, y: float, half: float = 5.0) -> shapely.Polygon:
    corners = ((-half, -half), (half, -half), (half, half), (-half, half))
    return shapely.Polygon([_ll(x + dx, y + dy) for dx, dy in corners])


# id: (centre east m, centre north m, expected units)
BUILDINGS = {
    1: (0, 0, 2), 2: (100, 0, 3), 3: (200, 0, 1), 4: (300, 0, 2), 5: (400, 0, 1),
    6: (500, 0, 2), 7: (600, 0, 4), 8: (700, 0, 1), 9: (0, 100, 2),
    10: (1000, 0, 5), 11: (1030, 0, 1),
}  # fmt: skip

# id, chosen building, (east, north) of the geotag, accuracy, outcome, units
VISITS = [
    (101, 1, (3, 2), 5.0, "done", 2),  # inside b1, all units: complete
    (102, 2, (100, 9), 6.0, "nobody_home", 0),  # b2 first nobody home ...
    (103, 2, (104, -8), 6.0, "done", 3),  # ... then all units: complete
    (104, 3, (200, 80), 5.0, "done", 1),  # 75 m from b3: far -> suspect
    (105, 4, (300, 12), 7.0, "done", 1),  # 1 of 2 units: visited
    (106, 5, (401, 6), 9.0, "refused", 0),  # revisit
    (107, None, (503, 1), 8.0, "done", 2),  # no building chosen: nearest is b6
    (108, 7, (600, 2), 40.0, "done", 4),  # poor accuracy -> suspect evidence ...
    (109, 7, (602, 1), 5.0, "nobody_home", 0),  # ... a good nobody-home wins: revisit
    (110, None, (850, 300), 5.0, "done", 1),  # nothing within 30 m: unmatched
    (111, 9, (1, 95), 4.0, "vacant", 0),  # vacant: complete
    (112, None, (1015, 0), 5.0, "done", 5),  # 10 m from b10 and b11: tie -> lowest id
    (113, 4, (300, 1), None, "done", 1),  # unknown accuracy: suspect, b4 stays visited
    (114, None, (60, 0), 5.0, "done", 1),  # 45 m from b2, 55 m from b1: unmatched
    (115, 3, (None, None), 5.0, "done", 1),  # no geotag: poor accuracy, b3 stays suspect
]

# visit id: (matched building, distance m or None, far, poor_accuracy, unmatched)
EXPECTED_MATCH = {
    101: (1, 0.0, False, False, False),
    102: (2, 4.0, False, False, False),
    104: (3, 75.0, True, False, False),
    105: (4, 7.0, False, False, False),
    107: (6, 0.0, False, False, False),
    108: (7, 0.0, False, True, False),
    110: (None, None, False, False, True),
    112: (10, 10.0, False, False, False),
    113: (4, 0.0, False, True, False),
    114: (None, None, False, False, True),
    115: (3, None, False, True, False),
}

EXPECTED_STATE = {
    1: "complete", 2: "complete", 3: "suspect", 4: "visited", 5: "revisit", 6: "complete",
    7: "revisit", 8: "unvisited", 9: "complete", 10: "complete", 11: "unvisited",
}  # fmt: skip


def _buildings() -> Buildings:
    ids = list(BUILDINGS)
    return Buildings.from_arrays(
        ids,
        [_square(x, y) for x, y, _ in BUILDINGS.values()],
        [e for _, _, e in BUILDINGS.values()],
        ["S1" if i < 10 else "S2" for i in ids],
    )


def _visit(row, round="r1") -> Visit:
    vid, bid, (x, y), acc, outcome, units = row
    lon, lat = (None, None) if x is None else _ll(x, y)
    return Visit(vid, bid, lon, lat, acc, outcome, units, "xieguan01", None, round)


def _visits() -> Visits:
    return Visits.from_records([_visit(r) for r in VISITS])


@pytest.fixture(scope="module")
def matches():
    m = match_visits(_buildings(), _visits())
    return {m[i].visit_id: m[i] for i in range(len(m))}


@pytest.fixture(scope="module")
def coverage():
    return compute_coverage(_buildings(), _visits(), round="r1")


@pytest.mark.parametrize(("visit_id", "expected"), EXPECTED_MATCH.items())
def test_match(matches, visit_id, expected):
    bid, dist, far, poor, unmatched = expected
    m = matches[visit_id]
    assert (m.building_id, m.far, m.poor_accuracy, m.unmatched) == (bid, far, poor, unmatched)
    if dist is None:
        assert m.distance_m is None
    else:
        assert m.distance_m == pytest.approx(dist, abs=0.05)


@pytest.mark.parametrize(("building_id", "state"), EXPECTED_STATE.items())
def test_state(coverage, building_id, state):
    assert coverage.state_of(building_id) == state


@pytest.mark.parametrize(("building_id", "state"), EXPECTED_STATE.items())
def test_incremental_state(building_id, state):
    index = CoverageIndex(_buildings())
    for row in reversed(VISITS):  # order does not matter
        index.apply(_visit(row))
    assert index.state(building_id, "r1") == state


def test_units_recorded(coverage):
    units = dict(zip(coverage.building_ids.tolist(), coverage.units_recorded.tolist(), strict=True))
    assert units[1] == 2 and units[2] == 3 and units[4] == 1 and units[3] == 0


def test_rounds_are_separate():
    visits = Visits.from_records([_visit(VISITS[0], "r1"), _visit(VISITS[1], "r2")])
    assert compute_coverage(_buildings(), visits, round="r2").state_of(1) == "unvisited"
    assert compute_coverage(_buildings(), visits, round="r2").state_of(2) == "revisit"
    assert compute_coverage(_buildings(), visits, round="r1").state_of(1) == "complete"


def test_rollups(coverage):
    parents = {"S1": "V1", "S2": "V1", "V1": "T", "T": None}
    r = rollup_by_area(coverage, parents)
    assert r["S2"]["complete"] == 1 and r["S2"]["unvisited"] == 1 and r["S2"]["total"] == 2
    assert r["T"]["total"] == 11 and r["T"]["complete"] == 5
    assert r["T"]["entry_rate"] == pytest.approx(6 / 11)
    c = rollup_by_coordinator(coverage, {"xieguan01": ["S2"], "xieguan02": []})
    assert c["xieguan01"]["total"] == 2 and c["xieguan02"]["total"] == 0


def test_utm_choice():
    assert utm_epsg(102.6, 24.6) == 32648
    assert utm_epsg(-70.0, -33.0) == 32719


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"match_distance_m": 0}, "match_distance_m"), ({"max_accuracy_m": -1}, "max_accuracy_m")],
)
def test_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        CoverageSettings(**kwargs)


def test_unknown_building_names_visit():
    v = Visits.from_records([_visit((7, 99, (0, 0), 5.0, "done", 1))])
    with pytest.raises(ValueError, match=r"visit 7: building_id 99"):
        compute_coverage(_buildings(), v)


def test_bad_outcome_names_visit():
    with pytest.raises(ValueError, match=r"outcome of visit 7 is 'maybe'"):
        Visits.from_records([_visit((7, 1, (0, 0), 5.0, "maybe", 1))])


def test_frame_in_other_crs_warns():
    gpd = pytest.importorskip("geopandas")
    b = _buildings()
    frame = gpd.GeoDataFrame(
        {"id": b.ids, "expected_units": b.expected_units}, geometry=list(b.footprints), crs=4326
    ).to_crs(32648)
    with pytest.warns(UserWarning, match="EPSG:4326"):
        again = Buildings.from_frame(frame)
    cov = compute_coverage(again, _visits(), round="r1")
    assert cov.state_of(6) == "complete"


@pytest.fixture(scope="module")
def demo():
    tw = generate_township(buildings=3000, seed=5)
    b = Buildings.from_arrays(
        np.arange(1, len(tw.buildings) + 1),
        [x.footprint for x in tw.buildings],
        [x.expected_units for x in tw.buildings],
        [x.street_code for x in tw.buildings],
    )
    visits = generate_visits(b, 9000, seed=5, rounds=("2016-10", "2016-11"), p_unlinked=0.3)
    return tw, b, visits


def test_incremental_equals_full_on_demo(demo):
    _, b, v = demo
    index = CoverageIndex(b)
    for i in range(len(v)):
        bid = int(v.building_ids[i]) if v.has_building[i] else None
        outcome = OUTCOMES[v.outcome[i]]
        visit = Visit(v.ids[i], bid, v.lon[i], v.lat[i], v.accuracy_m[i], outcome,
                      int(v.units[i]), None, None, v.round[i])  # fmt: skip
        index.apply(visit)
    for rnd in ("2016-10", "2016-11"):
        full = compute_coverage(b, v, round=rnd)
        inc = index.coverage(rnd)
        assert (full.state_codes == inc.state_codes).all()
        assert (full.units_recorded == inc.units_recorded).all()
        assert (full.visits == inc.visits).all()
    counts = compute_coverage(b, v, round="2016-10").counts()
    assert all(counts[s] > 0 for s in STATES)


def test_nearest_agrees_with_brute_force(demo):
    _, b, v = demo
    m = match_visits(b, v)
    to_utm = Transformer.from_crs(4326, 32648, always_xy=True)
    fp = shapely.transform(b.footprints, lambda xy: np.column_stack(to_utm.transform(*xy.T)))
    x, y = to_utm.transform(v.lon, v.lat)
    pts = shapely.points(x, y)
    unlinked = np.flatnonzero(~v.has_building)
    for i in unlinked[:500]:
        d = shapely.distance(pts[i], fp)
        best = int(np.argmin(d))
        if d[best] <= 30:
            assert m.building_ids[i] == b.ids[best]
            assert m.distance_m[i] == pytest.approx(d[best])
        else:
            assert m.unmatched[i]
    chosen = np.flatnonzero(v.has_building)
    pos = v.building_ids[chosen] - 1
    d = shapely.distance(pts[chosen], fp[pos])
    np.testing.assert_allclose(m.distance_m[chosen], d)
    assert (m.far[chosen] == (d > 30)).all()
