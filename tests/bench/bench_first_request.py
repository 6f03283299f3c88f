"""A fresh process's first requests: statistics (API and page) and a tile, per role.

    .venv/bin/python tests/bench/bench_first_request.py --city DIR [--size 200000]
        [--runs 3] [--order stats_api,stats_page,tile] [--roles admin,township]
        [--profile admin] [--no-saved-source] [--code DIR] [--freeze]

DIR is a city kept by `bench_scoped_tiles.py --sizes N --keep DIR` (tilesN.sqlite3 and its
instance folder instN). Each run starts a new Python process (what a restart or another worker
of the server is), which imports the server, calls create_app() against that database and
instance, logs in (timed apart) and asks the URLs in the order given, once each, timing each
request's wall and thread CPU and counting its SQL statements; it also says what the process
then holds (the tile source, a round's states array, the counts). --no-saved-source deletes the
instance's saved copies (tile-cache/: the tile source, the buildings per street) before each run
(a process that finds none); --profile ROLE prints the cProfile of that role's first request in
its first run (the project's own functions, cumulative, top 40); --code DIR runs the server
found in DIR (e.g. `git archive <commit> server gis migrations` unpacked: the "before");
--freeze does what `serving.serve()` does before its first request (`freeze_startup()`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "bench-password-1"
ROLES = {"admin": ("wb_admin", "admin", None), "township": ("wb_town", "supervisor", "township")}


def _setup(city: Path, size: int) -> dict:
    """Users of each role and a z15 tile over the township's middle building (once per city)."""
    sys.path.insert(0, str(ROOT))
    import sqlalchemy as sa

    from gis.tiles import lonlat_to_tile
    from server import create_app
    from server.extensions import db
    from server.models import Area, Building, Round, User
    from server.services import users

    app = create_app(_config(city, size))
    with app.app_context():
        town = db.session.scalar(sa.select(Area.code).where(Area.level == "township"))
        for name, role, level in ROLES.values():
            if db.session.scalar(sa.select(User.id).where(User.username == name)) is None:
                users.create_user(name, role, area_codes=[town] if level else [],
                                  password=PASSWORD)
        db.session.commit()
        n = db.session.scalar(sa.select(sa.func.count(Building.id)))
        lon, lat = db.session.execute(sa.select(Building.lon, Building.lat)
                                      .order_by(Building.id).offset(n // 2).limit(1)).one()
        z, x, y = 15, *lonlat_to_tile(lon, lat, 15)
        rid = db.session.scalar(sa.select(Round.id))
    return {"round": rid, "tile": f"/tiles/coverage/{rid}/{z}/{x}/{y}.mvt"}


def _config(city: Path, size: int) -> dict:
    return {"TESTING": True, "INSTANCE_PATH": str(city / f"inst{size}"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{city / f'tiles{size}.sqlite3'}",
            "SECRET_KEY": "bench", "PROCESS_IN_BACKGROUND": False}


def child(args) -> None:
    """One fresh process: create_app, log in, the URLs once each (JSON on stdout)."""
    w0, c0 = time.perf_counter(), time.process_time()
    sys.path.insert(0, args.code or str(ROOT))
    import sqlalchemy as sa

    from server import create_app
    from server.extensions import db
    from server.services.coverage import counts, source
    from server.services.coverage import store as coverage_store

    app = create_app(_config(Path(args.city), args.size))
    if args.freeze:
        from server import serving

        serving.freeze_startup()  # what serve() does before the first request
    out: dict = {"start": {"wall_ms": round((time.perf_counter() - w0) * 1000),
                           "cpu_ms": round((time.process_time() - c0) * 1000)}}
    statements = [0]
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute",
                        lambda *a, **k: statements.__setitem__(0, statements[0] + 1))
    raw = coverage_store.fetch_tuples  # straight to the driver: no SQLAlchemy event

    def counted(stmt):
        statements[0] += 1
        return raw(stmt)

    coverage_store.fetch_tuples = counted
    client = app.test_client()
    plan = json.loads(args.plan)
    urls = {"stats_api": f"/api/v1/coverage/stats?round={plan['round']}",
            "stats_page": f"/coverage/stats?round={plan['round']}", "tile": plan["tile"]}

    def timed(name: str, call) -> None:
        n0, w, c = statements[0], time.perf_counter(), time.thread_time()
        status = call()
        out[name] = {"wall_ms": round((time.perf_counter() - w) * 1000, 1),
                     "cpu_ms": round((time.thread_time() - c) * 1000, 1),
                     "statements": statements[0] - n0, "status": status}

    user = ROLES[args.role][0]
    timed("login", lambda: client.post("/login", data={"username": user,
                                                       "password": PASSWORD}).status_code)
    for k, name in enumerate(args.order.split(",")):
        if k == 0 and args.profile_me:
            import cProfile
            import io
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            timed(name, lambda n=name: client.get(urls[n]).status_code)
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(
                r"/(server|gis)/", 40)  # the project's own functions
            print(buf.getvalue(), file=sys.stderr)
        else:
            timed(name, lambda n=name: client.get(urls[n]).status_code)
        out[name]["held"] = {"source": bool(source._SHARED), "states": bool(source._STATES),
                             "counts": bool(counts._COUNTS), "states_full": source.STATS["full"]}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--city", required=True)
    ap.add_argument("--size", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--order", default="stats_api,stats_page,tile")
    ap.add_argument("--roles", default="admin,township")
    ap.add_argument("--profile", help="role whose first request is profiled (first run)")
    ap.add_argument("--no-saved-source", action="store_true")
    ap.add_argument("--freeze", action="store_true",
                    help="gc.freeze() after create_app(), as serving.serve() does")
    ap.add_argument("--code", help="folder holding the server to measure (default: this "
                                   "checkout; e.g. an export of the commit before, for 'before')")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile-me", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--plan", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    city = Path(args.city)
    plan = json.dumps(_setup(city, args.size))
    results: dict = {}
    for role in args.roles.split(","):
        runs = []
        for k in range(args.runs):
            if args.no_saved_source:
                shutil.rmtree(city / f"inst{args.size}" / "tile-cache", ignore_errors=True)
            cmd = [sys.executable, __file__, "--child", "--city", str(city), "--size",
                   str(args.size), "--role", role, "--plan", plan, "--order", args.order,
                   *(["--code", args.code] if args.code else []),
                   *(["--freeze"] if args.freeze else [])]
            if args.profile == role and k == 0:
                cmd.append("--profile-me")
            load = os.getloadavg()[0]
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
            if done.returncode:
                sys.exit(done.stderr)
            if done.stderr.strip():
                print(done.stderr, file=sys.stderr)
            runs.append({**json.loads(done.stdout.strip().splitlines()[-1]), "load": load})
        results[role] = runs
        for name in ["start", "login", *args.order.split(",")]:
            wall = [r[name]["wall_ms"] for r in runs]
            cpu = [r[name]["cpu_ms"] for r in runs]
            print(f"{role:9} {name:11} wall median {statistics.median(wall):8.1f} ms "
                  f"(min {min(wall):.1f}) cpu median {statistics.median(cpu):8.1f} ms "
                  f"(min {min(cpu):.1f}) statements {[r[name].get('statements') for r in runs]}"
                  f" held {runs[-1][name].get('held', '')}", flush=True)
        print(f"{role:9} load {[round(r['load'], 2) for r in runs]}", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
