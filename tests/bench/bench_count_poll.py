"""The coverage map's fixed costs per request: its 10 s count poll and a cached tile, per role.

    .venv/bin/python tests/bench/bench_count_poll.py --keep DIR [--sizes 1000000] [--repeat 20]

Uses the city bench_scoped_tiles.py keeps in DIR (`--keep`; built there first if missing: a 1M
city takes minutes). Per role (admin; township supervisor; village supervisor with the map's
village filter; the village supervisor's `?coordinator=` filter) it sends the request
`server/client/src/coverage/main.js` `refreshCounts()` sends, through the Flask test client:

* `poll`: the first answer (200), then `poll_304` the same request revalidated with the ETag
  it got (what the browser does every 10 s while nothing in the scope moved);
* `poll_after_change`: after one building of the scope changed state (a refresh and commit in
  this process): the first poll that must see it;
* `tile_cached`: one z15 tile of the scope, asked again (a tile cache hit);

each with the median wall time, the median thread CPU and the SQL statements per request.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

import bench_scoped_tiles as scoped  # noqa: E402
from bench_coverage import load_city, make_app  # noqa: E402

from gis.tiles import lonlat_to_tile  # noqa: E402


def _statements(app) -> list[int]:
    from server.extensions import db
    from server.services.coverage import store as coverage_store

    counter = [0]

    def count(*_args) -> None:
        counter[0] += 1

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    raw = coverage_store.fetch_tuples

    def counted(stmt):  # the statements sent straight to the driver
        counter[0] += 1
        return raw(stmt)

    coverage_store.fetch_tuples = counted
    return counter


def _measure(client, url: str, counter: list[int], n: int, headers=None, status=200,
             before=None) -> dict:
    wall, cpu, stmts = [], [], []
    for _ in range(n):
        if before is not None:
            before()
        s0 = counter[0]
        t0, c0 = time.perf_counter(), time.thread_time()
        resp = client.get(url, headers=headers or {})
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        stmts.append(counter[0] - s0)
        assert resp.status_code == status, (url, resp.status_code, resp.data[:200])
    return {"wall_ms": round(statistics.median(wall) * 1000, 2),
            "cpu_ms": round(statistics.median(cpu) * 1000, 2),
            "statements": int(statistics.median(stmts))}  # fmt: skip


def _poll_url(round_id: int, role: str, query: str) -> str:
    """The URL refreshCounts() asks for with this role's filter (limit=1: the one row shown)."""
    url = f"/api/v1/coverage/stats?round={round_id}"
    if role == "village supervisor":
        url += f"&area={scoped.PLACE['village']}"
    if query:
        url += "&" + query.lstrip("?")
    return url + ("&limit=1" if LIMIT[0] else "")


LIMIT = [True]


def _one_building(username: str, query: str, round_id: int) -> int:
    """A building of the scope with visits in the round (the change moves them)."""
    from server.extensions import db
    from server.models import Building, User, Visit
    from server.services import scope
    from server.services.coverage import query as coverage_query

    if query:
        ids = scope.assigned_streets(coverage_query.coordinator(query.split("=", 1)[1]))
    else:
        ids = scope.visible_streets(db.session.scalar(
            sa.select(User).where(User.username == username)))
    q = (sa.select(Visit.building_id).join(Building, Building.id == Visit.building_id)
         .where(Visit.round_id == round_id))
    if ids is not None:
        q = q.where(Building.street_id.in_(sorted(ids)))
    return db.session.scalar(q.order_by(Visit.building_id).limit(1))


def bench(app, round_id: int, n: int) -> dict:
    from server.extensions import db
    from server.models import Visit
    from server.services.coverage import refresh

    counter = _statements(app)
    out = {}
    roles = scoped._users()
    for role, (username, query) in roles.items():
        client = app.test_client()
        r = client.post("/login", data={"username": username, "password": scoped.PASSWORD})
        assert r.status_code == 302
        url = _poll_url(round_id, role, query)
        client.get(url)  # the process's first answer of this scope (caches filled)
        row = {"url": url, "poll": _measure(client, url, counter, n)}
        etag = client.get(url).headers.get("ETag")
        if etag:
            row["poll_304"] = _measure(client, url, counter, n, {"If-None-Match": etag}, 304)
        bid = _one_building(username, query, round_id)
        off = [False]

        def change(bid: int = bid, off: list = off) -> None:  # visits leave the round, come back
            t = Visit.__table__
            was = t.c.round_id.is_(None) if off[0] else t.c.round_id == round_id
            db.session.execute(sa.update(t).where(t.c.building_id == bid, was).values(
                round_id=round_id if off[0] else None))
            off[0] = not off[0]
            refresh.refresh_building(bid, round_id)
            db.session.commit()

        row["poll_after_change"] = _measure(client, url, counter, 2 * max(2, n // 8),
                                            before=change)
        points = scoped._scope_points(username, query, 1, scoped.np.random.default_rng(7))
        z, x, y = 15, *lonlat_to_tile(*points[0], 15)
        tile = f"/tiles/coverage/{round_id}/{z}/{x}/{y}.mvt{query}"
        client.get(tile)
        row["tile_cached"] = _measure(client, tile, counter, n)
        out[role] = row
        print(role, json.dumps(row), file=sys.stderr, flush=True)
    return out


def main() -> None:
    from gis.demo import generate_township
    from server.extensions import db
    from server.models import Round
    from server.services.coverage import recompute

    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", required=True, help="folder of bench_scoped_tiles.py's cities")
    ap.add_argument("--sizes", default="1000000")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--no-limit", action="store_true",
                    help="poll without limit=1 (the client before it asked for one row)")
    args = ap.parse_args()
    LIMIT[0] = not args.no_limit
    folder = Path(args.keep)
    for size in (int(s) for s in args.sizes.split(",")):
        app = make_app(f"sqlite:///{folder / f'tiles{size}.sqlite3'}", folder / f"inst{size}")
        with app.app_context():
            if not (folder / f"tiles{size}.ready").exists():
                load_city(generate_township(seed=2016, buildings=size))
                recompute.recompute(db.session.scalar(sa.select(Round.id)), rematch=False)
                (folder / f"tiles{size}.ready").touch()
            rid = db.session.scalar(sa.select(Round.id))
            load = os.getloadavg()[0]
            res = {"buildings": size, "load_average_before": load,
                   "roles": bench(app, rid, args.repeat),
                   "load_average_after": os.getloadavg()[0]}
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
