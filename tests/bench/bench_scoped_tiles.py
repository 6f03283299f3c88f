"""Tiles per role, the statistics and report pages, and the shared tile source, on generated cities.

    .venv/bin/python tests/bench/bench_scoped_tiles.py [--sizes 200000,1000000] [--out FILE]
        [--keep DIR] [--pages-only]
    DOORSTEP_BENCH_DB=postgresql+psycopg://... runs on a fresh PostgreSQL database instead.

Per city (bench_coverage.load_city: gis.demo township, 3 generated visits per building, one
round, then a full recompute) it measures through the Flask test client, logged in as each
role (admin; a township supervisor assigned the township; a village supervisor; a coordinator's
streets, i.e. `?coordinator=` for that supervisor — coordinators themselves get no tiles), the
whole request (session, scope, filters, tile):

* tiles: for zooms 11–17, up to 12 tiles per zoom over the role's buildings (random buildings of
  the scope), each requested once cold (not in the tile cache; the source, the states and the
  scope's Selection loaded) and then cached; p50 / p95 of each; the first tile of a scope
  (its Selection built) apart;
* the statistics page (first page, a village's streets, the coordinators' second page sorted
  by entry rate), `/api/v1/coverage/stats` (first and second page), the map page and the round
  page, 5 times each;
* the tile source: built from the database (no saved copy), read back from the instance folder
  (another process, a restart), and the states array of the round;
* the report pages (metrics, assessment, staffing, meeting), 5 times each;
* one building's refresh (its row, its steps, its street's counts) with commit, p50 / p95,
  wall and thread CPU: nothing changed, and a visit rejected then restored (things move).

--keep DIR keeps the built city (SQLite file and instance folder) in DIR and reuses it on the
next run (building the 1M city takes minutes); --pages-only skips the tiles, the tile source and
the refresh, measuring the pages alone; --refresh-only measures the refresh alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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


def _users() -> dict:
    from server.extensions import db
    from server.models import Area, Assignment, Role, User
    from server.services import users

    town = db.session.scalar(sa.select(Area.code).where(Area.level == "township"))
    village = db.session.scalar(sa.select(Area).where(Area.level == "village").order_by(Area.id))
    PLACE["village"] = village.code
    coordinator = db.session.scalar(
        sa.select(User.username).join(Assignment, Assignment.user_id == User.id)
        .join(Area, Area.id == Assignment.area_id)
        .where(User.role == Role.COORDINATOR.value, Area.path.like(village.path + "/%"))
        .limit(1))  # fmt: skip
    for name, role, areas in (("b_admin", "admin", []), ("b_town", "supervisor", [town]),
                              ("b_village", "supervisor", [village.code])):
        if db.session.scalar(sa.select(User.id).where(User.username == name)) is None:
            users.create_user(name, role, area_codes=areas, password=PASSWORD)
    db.session.commit()
    return {"admin": ("b_admin", ""), "township supervisor": ("b_town", ""),
            "village supervisor": ("b_village", ""),
            "coordinator's streets": ("b_village", f"?coordinator={coordinator}")}


def _scope_points(user_name: str, query: str, k: int, rng) -> list[tuple[float, float]]:
    from server.extensions import db
    from server.models import Area, Building, User
    from server.services import scope
    from server.services.coverage import query as coverage_query

    user = db.session.scalar(sa.select(User).where(User.username == user_name))
    if query:
        coordinator = coverage_query.coordinator(query.split("=", 1)[1])
        ids = scope.assigned_streets(coordinator)
    else:
        ids = scope.visible_streets(user)
    q = sa.select(Building.lon, Building.lat)
    if ids is not None:
        q = q.join(Area, Area.id == Building.street_id).where(Area.id.in_(sorted(ids)))
    n = db.session.scalar(sa.select(sa.func.count()).select_from(q.subquery()))
    offsets = sorted(rng.choice(n, size=min(k, n), replace=False).tolist())
    return [tuple(db.session.execute(q.order_by(Building.id).limit(1).offset(o)).one())
            for o in offsets]


def _pages(round_id: int) -> list[tuple[str, str]]:
    """(name, path) of the pages measured per role; PAGES_EXTRA adds pages of later code."""
    pages = [("stats_page", f"/coverage/stats?round={round_id}"),
            ("stats_api", f"/api/v1/coverage/stats?round={round_id}"),
            ("map_page", f"/coverage/?round={round_id}"),
            ("round_page", f"/rounds/{round_id}"),
            ("metrics_page", f"/reports/?round={round_id}"),
            ("assessment_page", f"/reports/assessment?round={round_id}"),
            ("staffing_page", "/reports/staffing"),
            ("meeting_page", "/reports/meeting"),
            ("stats_village_page", f"/coverage/stats?round={round_id}&area={PLACE['village']}"),
            ("stats_api_page_2", f"/api/v1/coverage/stats?round={round_id}&offset=200"),
            ("stats_coordinators_page_2", f"/coverage/stats?round={round_id}&cpage=2&sort="
                                          "entry_rate"),
            *PAGES_EXTRA]  # fmt: skip
    return [(n, p) for n, p in pages if ONLY["pages"] is None or n in ONLY["pages"]]


PAGES_EXTRA: list[tuple[str, str]] = []
ONLY: dict[str, set[str] | None] = {"pages": None, "roles": None}
REPEAT = [5]  # requests per page (--repeat)
PLACE: dict[str, str] = {}  # the village supervisor's village (drill-down pages)


def _page_times(client, path: str, query: str) -> dict:
    times, cpu = [], []
    for _ in range(REPEAT[0]):
        t0, c0 = time.perf_counter(), time.thread_time()
        resp = client.get(path + (query.replace("?", "&") if "?" in path and query else query))
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        assert resp.status_code == 200, (path, resp.status_code)
    return {"median": round(statistics.median(times) * 1000, 1),
            "max": round(max(times) * 1000, 1),
            "cpu_median": round(statistics.median(cpu) * 1000, 1)}  # fmt: skip


def bench_roles(app, round_id: int, pages_only: bool = False) -> dict:
    from server.services.coverage import tiles as coverage_tiles

    out: dict = {}
    roles = _users()
    rng = np.random.default_rng(2016)
    for role, (username, query) in roles.items():
        if ONLY["roles"] is not None and role not in ONLY["roles"]:
            continue
        client = app.test_client()
        r = client.post("/login", data={"username": username, "password": PASSWORD})
        assert r.status_code == 302, r.data
        if pages_only:
            out[role] = {f"{name}_ms": _page_times(client, path, query)
                         for name, path in _pages(round_id)}
            print(role, json.dumps(out[role]), file=sys.stderr, flush=True)
            continue
        points = _scope_points(username, query, 12, rng)
        tiles = [(z, *lonlat_to_tile(lon, lat, z)) for z in range(11, 18)
                 for lon, lat in points]
        tiles = list(dict.fromkeys(tiles))
        first = None
        cold, warm, sizes, cold_cpu, warm_cpu = [], [], [], [], []
        for z, x, y in tiles:
            url = f"/tiles/coverage/{round_id}/{z}/{x}/{y}.mvt{query}"
            t0, c0 = time.perf_counter(), time.thread_time()
            resp = client.get(url)
            dt, dc = time.perf_counter() - t0, time.thread_time() - c0
            assert resp.status_code == 200, (url, resp.data[:200])
            if first is None:
                first = dt
            else:
                cold.append(dt)
                cold_cpu.append(dc)
            sizes.append(len(resp.data))
        for z, x, y in tiles:
            url = f"/tiles/coverage/{round_id}/{z}/{x}/{y}.mvt{query}"
            t0, c0 = time.perf_counter(), time.thread_time()
            client.get(url)
            warm.append(time.perf_counter() - t0)
            warm_cpu.append(time.thread_time() - c0)
        row = {"tiles": len(tiles), "first_tile_ms": round(first * 1000, 1),
               "cold": _ms(cold), "cached": _ms(warm),
               "cold_cpu": _ms(cold_cpu), "cached_cpu": _ms(warm_cpu),
               "kB_p50": round(float(np.median(sizes)) / 1000, 1)}  # fmt: skip
        for name, path in _pages(round_id):
            row[f"{name}_ms"] = _page_times(client, path, query)
        out[role] = row
        coverage_tiles._TILES.clear()  # the next role starts cold too
    return out


def bench_source(app, round_id: int) -> dict:
    from server.services.coverage import source

    out = {}
    folder = Path(app.instance_path) / source.CACHE_DIR
    shutil.rmtree(folder, ignore_errors=True)
    source.clear()
    t0 = time.perf_counter()
    source.shared()
    out["source_build_s"] = round(time.perf_counter() - t0, 3)
    source.clear()
    t0 = time.perf_counter()
    source.shared()
    out["source_read_back_s"] = round(time.perf_counter() - t0, 4)
    t0 = time.perf_counter()
    source.states(round_id)
    out["states_load_s"] = round(time.perf_counter() - t0, 3)
    return out


def bench_refresh(round_id: int, n: int = 200) -> dict:
    """One building's refresh with its commit, wall and thread CPU: random buildings as they
    are (nothing changed), then a visit of each rejected and restored, each refreshed (a review
    decision: the row, the steps and the day counts move; `changed_state`: how many of these
    refreshes changed the building's state)."""
    from server.extensions import db
    from server.models import Building, Submission, Visit
    from server.services.coverage import refresh

    ids = db.session.scalars(sa.select(Building.id).order_by(sa.func.random()).limit(n)).all()
    out: dict = {}
    wall, cpu = [], []

    def timed(bid: int) -> str:
        t0, c0 = time.perf_counter(), time.thread_time()
        state = refresh.refresh_building(bid, round_id)
        db.session.commit()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        return state

    for bid in ids:
        timed(bid)
    out["refresh_building_ms"], out["refresh_building_cpu_ms"] = _ms(wall), _ms(cpu)
    wall, cpu, changed = [], [], 0
    for bid in ids:
        row = db.session.execute(sa.select(Submission.id, Submission.review_state).join(
            Visit, Visit.submission_id == Submission.id).where(
            Visit.building_id == bid, Visit.round_id == round_id,
            Submission.review_state != "rejected").limit(1)).first()
        if row is None:
            continue
        sub, states = row[0], []
        for review in ("rejected", row[1]):  # rejected, then restored
            db.session.execute(sa.update(Submission).where(Submission.id == sub)
                               .values(review_state=review))
            states.append(timed(bid))
        changed += 2 * (states[0] != states[1])
    out["refresh_building_changed_ms"] = _ms(wall)
    out["refresh_building_changed_cpu_ms"] = _ms(cpu)
    out["changed_state"] = changed
    return out


def _contention() -> float:
    return os.getloadavg()[0]


def run_size(n: int, tmp: Path, db_url: str | None, pages_only: bool = False,
             refresh_only: bool = False) -> dict:
    from gis.demo import generate_township
    from server.extensions import db
    from server.models import Round
    from server.services.coverage import recompute

    result: dict = {"buildings": n}
    drop = None
    if db_url:
        admin = sa.create_engine(db_url, isolation_level="AUTOCOMMIT")
        name = f"doorstep_tiles_{n}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(db_url).set(database=name).render_as_string(hide_password=False)
        drop = (admin, name)
    else:
        url = f"sqlite:///{tmp / f'tiles{n}.sqlite3'}"
    app = make_app(url, tmp / f"inst{n}")
    app.config["PROCESS_IN_BACKGROUND"] = False
    ready = tmp / f"tiles{n}.ready"
    try:
        with app.app_context():
            if not ready.exists():
                town = generate_township(seed=2016, buildings=n)
                result["load_s"] = round(load_city(town)["load_s"], 1)
                del town
                rid = db.session.scalar(sa.select(Round.id))
                t0 = time.perf_counter()
                recompute.recompute(rid, rematch=False)
                result["recompute_s"] = round(time.perf_counter() - t0, 1)
                if drop is None:
                    ready.touch()
            rid = db.session.scalar(sa.select(Round.id))
            if refresh_only:
                result["load_average_before"] = _contention()
                result.update(bench_refresh(rid))
                result["load_average_after"] = _contention()
                return result
            if not pages_only:
                result.update(bench_source(app, rid))
            result["load_average_before"] = _contention()
            result["roles"] = bench_roles(app, rid, pages_only)
            result["load_average_after"] = _contention()
            if not pages_only:
                result.update(bench_refresh(rid))
    finally:
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
    ap.add_argument("--out")
    ap.add_argument("--keep", help="folder that keeps the built cities for the next run")
    ap.add_argument("--pages-only", action="store_true")
    ap.add_argument("--refresh-only", action="store_true",
                    help="measure one building's refresh alone (no tiles, source or pages)")
    ap.add_argument("--pages", help="comma-separated page names to measure (default: all)")
    ap.add_argument("--roles", help="comma-separated roles to measure (default: all)")
    ap.add_argument("--repeat", type=int, default=5, help="requests per page (default 5)")
    args = ap.parse_args()
    ONLY["pages"] = set(args.pages.split(",")) if args.pages else None
    ONLY["roles"] = set(args.roles.split(",")) if args.roles else None
    REPEAT[0] = args.repeat
    with tempfile.TemporaryDirectory() as d:
        folder = Path(args.keep) if args.keep else Path(d)
        folder.mkdir(parents=True, exist_ok=True)
        for n in (int(s) for s in args.sizes.split(",")):
            res = run_size(n, folder, os.environ.get("DOORSTEP_BENCH_DB") or None,
                           args.pages_only, args.refresh_only)
            line = json.dumps(res)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(line + "\n")


if __name__ == "__main__":
    main()
