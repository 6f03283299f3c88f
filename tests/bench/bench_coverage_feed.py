"""Coverage changes applied from the change feed: one building in another process, and the tile
cache while visits arrive (issue 13, item 1).

    .venv/bin/python tests/bench/bench_coverage_feed.py [--sizes 200000] [--out FILE]
    DOORSTEP_BENCH_DB=postgresql+psycopg://... runs on a fresh PostgreSQL database instead.

Per city (bench_coverage.load_city, then a full recompute), this process plays the reader: the
writes are made here but without telling it (as another process's would be), so it sees them
only through its probe of `coverage_changes`.

* one change: the round's states reloaded whole (what every process did before the feed) against
  one changed building applied from the feed (probe, changed rows, patch), wall and CPU, p50/p95
  over 20 changes;
* visits arriving: `--rate` changes per second for `--seconds` while one admin client reads the
  same 20 tiles (z15/z16 around random buildings) round and round through the Flask test client,
  with PROBE_SECONDS as shipped; cache hit rate, wall and CPU per request, full reloads and
  patches; once with the feed and once with the old behaviour (every change reloads the round
  and invalidates every tile: `feed.MAX_PATCH = 0`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from bench_coverage import load_city, make_app  # noqa: E402

from gis.tiles import lonlat_to_tile  # noqa: E402

PASSWORD = "bench-password-1"


def _ms(values: list[float]) -> dict:
    a = np.array(values) * 1000
    return {"p50": round(float(np.percentile(a, 50)), 2),
            "p95": round(float(np.percentile(a, 95)), 2), "n": len(a)}  # fmt: skip


class Toggler:
    """Flips visited buildings to unvisited and back (their visits leave the round and come
    back), each flip refreshed and committed like a processed submission."""

    def __init__(self, round_id: int, rng) -> None:
        from server.extensions import db
        from server.models import BuildingCoverage

        ids = db.session.scalars(sa.select(BuildingCoverage.building_id).where(
            BuildingCoverage.round_id == round_id)).all()  # fmt: skip
        self.ids = rng.choice(np.asarray(ids), size=min(5000, len(ids)), replace=False).tolist()
        self.round_id, self.off, self.k = round_id, set(), 0

    def flip(self) -> None:
        from server.extensions import db
        from server.models import Visit
        from server.services.coverage import refresh

        b = self.ids[self.k % len(self.ids)]
        self.k += 1
        t = Visit.__table__
        if b in self.off:
            self.off.discard(b)
            db.session.execute(sa.update(t).where(t.c.building_id == b, t.c.round_id.is_(None))
                               .values(round_id=self.round_id))  # fmt: skip
        else:
            self.off.add(b)
            db.session.execute(sa.update(t).where(t.c.building_id == b,
                                                  t.c.round_id == self.round_id)
                               .values(round_id=None))  # fmt: skip
        refresh.refresh_building(b, self.round_id)
        db.session.commit()


def _quiet(monkey: list) -> None:
    """This process is told nothing of the writes it makes (as if another process made them)."""
    from server.services.coverage import feed, refresh

    for mod in (refresh, feed.coverage):
        monkey.append((mod, mod.coverage_changed))
        mod.coverage_changed = lambda: None


def bench_one_change(round_id: int, flips: Toggler) -> dict:
    from server.services.coverage import source

    source.PROBE_SECONDS = 0.0
    source.states(round_id)
    full, full_cpu, patch, patch_cpu = [], [], [], []
    for _ in range(5):
        source._STATES.clear()
        t0, c0 = time.perf_counter(), time.thread_time()
        source.states(round_id)
        full.append(time.perf_counter() - t0)
        full_cpu.append(time.thread_time() - c0)
    before = dict(source.STATS)
    for _ in range(20):
        flips.flip()
        t0, c0 = time.perf_counter(), time.thread_time()
        source.states(round_id)
        patch.append(time.perf_counter() - t0)
        patch_cpu.append(time.thread_time() - c0)
    assert source.STATS["full"] == before["full"], "a change reloaded the round"
    source.PROBE_SECONDS = 5.0
    return {"reload_whole_states": _ms(full), "reload_whole_states_cpu": _ms(full_cpu),
            "apply_one_change": _ms(patch), "apply_one_change_cpu": _ms(patch_cpu),
            "patches": source.STATS["patched"] - before["patched"]}  # fmt: skip


def bench_arriving(app, round_id: int, flips: Toggler, rate: float, seconds: float,
                   rng) -> dict:
    from server.extensions import db
    from server.models import Building
    from server.services import users
    from server.services.coverage import feed, source
    from server.services.coverage import tiles as coverage_tiles

    if db.session.scalar(sa.select(sa.func.count()).select_from(
            sa.text("users")).where(sa.text("username = 'b_admin'"))) == 0:  # fmt: skip
        users.create_user("b_admin", "admin", area_codes=[], password=PASSWORD)
        db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": "b_admin", "password": PASSWORD}).status_code
    n = db.session.scalar(sa.select(sa.func.count(Building.id)))
    picks = sorted(rng.choice(n, size=10, replace=False).tolist())
    points = [db.session.execute(sa.select(Building.lon, Building.lat).order_by(Building.id)
                                 .limit(1).offset(o)).one() for o in picks]  # fmt: skip
    urls = [f"/tiles/coverage/{round_id}/{z}/{x}/{y}.mvt"
            for lon, lat in points for z in (15, 16) for x, y in [lonlat_to_tile(lon, lat, z)]]
    for u in urls:
        assert client.get(u).status_code == 200
    s0, t0s, k0 = dict(source.STATS), dict(coverage_tiles.STATS), flips.k
    walls, cpus = [], []
    start = time.perf_counter()
    c_start = time.process_time()
    next_change, k = start, 0
    while time.perf_counter() - start < seconds:
        if time.perf_counter() >= next_change:
            flips.flip()
            next_change += 1.0 / rate
        t0, c0 = time.perf_counter(), time.thread_time()
        assert client.get(urls[k % len(urls)]).status_code == 200
        walls.append(time.perf_counter() - t0)
        cpus.append(time.thread_time() - c0)
        k += 1
    elapsed = time.perf_counter() - start
    hits = coverage_tiles.STATS["hits"] - t0s["hits"]
    misses = coverage_tiles.STATS["misses"] - t0s["misses"]
    return {"mode": "reload (old)" if feed.MAX_PATCH == 0 else "feed",
            "changes": flips.k - k0, "requests": k,
            "hit_rate": round(hits / max(1, hits + misses), 3),
            "misses": misses, "full_reloads": source.STATS["full"] - s0["full"],
            "patches": source.STATS["patched"] - s0["patched"],
            "dropped_tiles": coverage_tiles.STATS["dropped"] - t0s["dropped"],
            "request_ms": _ms(walls), "request_cpu_ms": _ms(cpus),
            "process_cpu_share": round((time.process_time() - c_start) / elapsed, 2),
            "load_average": round(os.getloadavg()[0], 2)}  # fmt: skip


def run_size(n: int, tmp: Path, db_url: str | None, rate: float, seconds: float) -> dict:
    from gis.demo import generate_township
    from server.extensions import db
    from server.models import Round
    from server.services.coverage import feed, recompute

    result: dict = {"buildings": n, "database": "postgresql" if db_url else "sqlite"}
    drop = None
    if db_url:
        admin = sa.create_engine(db_url, isolation_level="AUTOCOMMIT")
        name = f"doorstep_feed_{n}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(db_url).set(database=name).render_as_string(hide_password=False)
        drop = (admin, name)
    else:
        url = f"sqlite:///{tmp / f'feed{n}.sqlite3'}"
    app = make_app(url, tmp / f"inst{n}")
    app.config["PROCESS_IN_BACKGROUND"] = False
    monkey: list = []
    try:
        town = generate_township(seed=2016, buildings=n)
        with app.app_context():
            load_city(town)
            del town
            rid = db.session.scalar(sa.select(Round.id))
            recompute.recompute(rid, rematch=False)
            rng = np.random.default_rng(2016)
            flips = Toggler(rid, rng)
            _quiet(monkey)
            result["load_average_before"] = round(os.getloadavg()[0], 2)
            result.update(bench_one_change(rid, flips))
            result["arriving"] = [bench_arriving(app, rid, flips, rate, seconds, rng)]
            feed.MAX_PATCH, kept = 0, feed.MAX_PATCH
            result["arriving"].append(bench_arriving(app, rid, flips, rate, seconds, rng))
            feed.MAX_PATCH = kept
    finally:
        for mod, fn in monkey:
            mod.coverage_changed = fn
        if drop is not None:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            with drop[0].connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{drop[1]}" WITH (FORCE)')
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="200000")
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--out")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        for n in (int(s) for s in args.sizes.split(",")):
            res = run_size(n, Path(d), os.environ.get("DOORSTEP_BENCH_DB") or None,
                           args.rate, args.seconds)
            line = json.dumps(res)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(line + "\n")


if __name__ == "__main__":
    main()
