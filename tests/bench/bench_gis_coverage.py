"""Benchmark of gis: demo generation, full coverage recompute and one-visit update.

Run: ``python tests/bench/bench_gis_coverage.py 100000 1000000`` (buildings; visits = 3x).
Targets: 1M buildings x 3M visits full recompute <= 2 s; one new visit <= 5 ms.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from gis._matching import PreparedBuildings
from gis.coverage import OUTCOMES, Buildings, CoverageIndex, Visit, compute_coverage
from gis.demo import generate_township
from gis.demo_visits import generate_visits


def run(n_buildings: int, visits_per_building: int = 3, updates: int = 2000) -> dict:
    out: dict = {"buildings": n_buildings, "visits": n_buildings * visits_per_building}
    t = time.perf_counter()
    tw = generate_township(buildings=n_buildings)
    out["generate_s"] = time.perf_counter() - t
    b = Buildings.from_arrays(
        np.arange(1, n_buildings + 1),
        [x.footprint for x in tw.buildings],
        [x.expected_units for x in tw.buildings],
        [x.street_code for x in tw.buildings],
    )
    del tw
    v = generate_visits(b, out["visits"])
    t = time.perf_counter()
    prep = PreparedBuildings(b)
    prep.tree  # noqa: B018 - built once per process, like the server would
    out["prepare_s"] = time.perf_counter() - t
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        compute_coverage(prep, v)
        runs.append(time.perf_counter() - t)
    out["full_recompute_s"] = min(runs)
    index = CoverageIndex(prep)
    times = []
    for i in range(min(updates, len(v))):
        bid = int(v.building_ids[i]) if v.has_building[i] else None
        visit = Visit(
            int(v.ids[i]), bid, float(v.lon[i]), float(v.lat[i]), float(v.accuracy_m[i]),
            OUTCOMES[v.outcome[i]], int(v.units[i]), None, None, v.round[i],
        )  # fmt: skip
        t = time.perf_counter()
        index.apply(visit)
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1e3
    out["apply_ms_median"] = float(np.median(ms))
    out["apply_ms_p99"] = float(np.percentile(ms, 99))
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["100000"]:
        print(json.dumps(run(int(arg)), indent=1))
