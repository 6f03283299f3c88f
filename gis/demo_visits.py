"""Random but deterministic visits to demo buildings, for tests, benchmarks and demo data."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import shapely

from gis._tables import OUTCOMES, Buildings, Visits

_OUTCOME_P = (0.70, 0.13, 0.03, 0.08, 0.04, 0.02)  # done, nobody_home, refused, vacant, ...
_M_PER_DEG_LAT = 111_320.0


def generate_visits(
    buildings: Buildings,
    n_visits: int,
    *,
    seed: int = 2016,
    rounds: Sequence[Hashable] = ("2016-10",),
    p_unlinked: float = 0.1,
    p_far: float = 0.03,
    p_poor_accuracy: float = 0.05,
    coordinator_of_street: Mapping[str, str] | None = None,
    start: str = "2016-10-01T08:00",
    minutes: int = 60 * 24 * 60,
) -> Visits:
    """Visits to random buildings: GPS noise ~5 m, some far (60-300 m), some inaccurate.

    ``p_unlinked`` of visits have no building chosen (the geotag must find it). Their times are
    spread over ``minutes`` from ``start`` (local time), in order.
    """
    if n_visits < 0:
        raise ValueError(f"n_visits must be >= 0, got {n_visits}")
    for name, p in (
        ("p_unlinked", p_unlinked),
        ("p_far", p_far),
        ("p_poor_accuracy", p_poor_accuracy),
    ):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {p}")
    rng = np.random.default_rng(seed)
    n_b = len(buildings.ids)
    b = rng.integers(0, n_b, n_visits)
    c = shapely.get_coordinates(shapely.centroid(buildings.footprints))
    lon0, lat0 = c[b, 0], c[b, 1]
    noise = rng.normal(0.0, 5.0, (n_visits, 2))
    far = rng.random(n_visits) < p_far
    ang = rng.uniform(0, 2 * np.pi, n_visits)
    dist = rng.uniform(60.0, 300.0, n_visits)
    noise[far, 0] += dist[far] * np.cos(ang[far])
    noise[far, 1] += dist[far] * np.sin(ang[far])
    lat = lat0 + noise[:, 1] / _M_PER_DEG_LAT
    lon = lon0 + noise[:, 0] / (_M_PER_DEG_LAT * np.cos(np.radians(lat0)))
    acc = rng.lognormal(np.log(6.0), 0.4, n_visits)
    poor = rng.random(n_visits) < p_poor_accuracy
    acc[poor] = rng.uniform(30.0, 120.0, int(poor.sum()))
    outcome = np.asarray(OUTCOMES, dtype=object)[rng.choice(len(OUTCOMES), n_visits, p=_OUTCOME_P)]
    exp = np.maximum(buildings.expected_units[b], 1)
    units = np.where(rng.random(n_visits) < 0.6, exp, rng.integers(0, exp + 1))
    units = np.where(outcome == "done", units, 0)
    unlinked = rng.random(n_visits) < p_unlinked
    if buildings.ids.dtype.kind in "iu":
        bids = buildings.ids[b].astype(float)
        bids[unlinked] = np.nan
    else:
        bids = buildings.ids.astype(object)[b]
        bids[unlinked] = None
    coord = None
    if coordinator_of_street is not None:
        coord = np.array([coordinator_of_street.get(s) for s in buildings.streets[b]], object)
    rnd = np.asarray(list(rounds), dtype=object)[rng.integers(0, len(rounds), n_visits)]
    if minutes < 1:
        raise ValueError(f"minutes must be >= 1, got {minutes}")
    t0 = np.datetime64(start, "m")
    times = t0 + np.sort(rng.integers(0, minutes, n_visits)).astype("timedelta64[m]")
    return Visits.from_arrays(
        np.arange(1, n_visits + 1), bids, lon, lat, acc, outcome, units, coord, times, rnd
    )
