"""CPU of one request of each report page (metrics, assessment, meeting) on a demo city.

    DOORSTEP_INSTANCE_PATH=DIR .venv/bin/python -m server demo --buildings 20000 --no-serve
    DOORSTEP_INSTANCE_PATH=DIR .venv/bin/python tests/bench/bench_reports.py [--profile]

Logged in as the demo's admin or --user (its password reset here) through the Flask test
client, after what `serve()` does before its first request (`serving.freeze_startup`); prints
the median wall and thread CPU of --repeat requests per page (after one warm-up request), and
with --profile the top of a cProfile of the last. With --after-change each request comes after
new tokens of the day roll-ups and of the register and 200 rows of day-count moves, as a
processing batch's commit leaves them (the page during a push phase).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PAGES = {"metrics": "/reports/", "assessment": "/reports/assessment",
         "meeting": "/reports/meeting",
         # narrowed by the user's streets (scope.where_street): worth a --user run
         "home": "/", "register": "/register/?list=persons"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--pages", default=",".join(PAGES))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile-lines", type=int, default=30)
    ap.add_argument("--profile-only", default="", help="a regular expression on the file names")
    ap.add_argument("--user", default="", help="log in as this user (the demo's township "
                    "supervisor is zhuren), not the admin")
    ap.add_argument("--after-change", action="store_true",
                    help="new roll-up and register tokens before each request")
    args = ap.parse_args()
    from server import serving
    from server.cli.appcontext import create_app
    from server.extensions import db
    from server.models import Building, DataVersion, Role, User

    def changed() -> None:
        with app.app_context():
            for name in ("report_days", "register"):
                db.session.execute(sa.update(DataVersion).where(DataVersion.name == name)
                                   .values(version=sa.case((DataVersion.version > 1,
                                                            DataVersion.version - 1), else_=2)))
            moves = sa.table("coverage_day_moves", sa.column("round_id"), sa.column("street_id"),
                             sa.column("day"), sa.column("state"), sa.column("buildings"))
            report = sa.table("report_day_moves", *(sa.column(c) for c in (
                "round_id", "street_id", "person_id", "day", "visits", "suspect_visits",
                "street_round", "street_xun", "street_week", "person_round", "person_xun",
                "person_week", "approved", "reviewed")))
            if sa.inspect(db.session.connection()).has_table("report_day_moves"):
                # a batch's moves of the day roll-ups (200 rows each, summing to nothing)
                rnd, street, day = db.session.execute(sa.text(
                    "SELECT round_id, street_id, day FROM coverage_day_counts LIMIT 1")).one()
                db.session.execute(sa.insert(moves), [
                    {"round_id": rnd, "street_id": street, "day": day, "state": "visited",
                     "buildings": (-1) ** k} for k in range(200)])
                rnd, street, person, day = db.session.execute(sa.text(
                    "SELECT round_id, street_id, person_id, day FROM report_day_counts "
                    "LIMIT 1")).one()
                db.session.execute(sa.insert(report), [
                    {"round_id": rnd, "street_id": street, "person_id": person, "day": day,
                     "visits": (-1) ** k, "suspect_visits": 0, "street_round": 0,
                     "street_xun": 0, "street_week": 0, "person_round": 0, "person_xun": 0,
                     "person_week": 0, "approved": (-1) ** k, "reviewed": (-1) ** k}
                    for k in range(200)])
            db.session.commit()

    app = create_app()
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(
            User.username == args.user if args.user else User.role == Role.ADMIN.value))
        admin.set_password("bench-password-1")
        db.session.commit()
        name = admin.username
        buildings = db.session.scalar(sa.select(sa.func.count(Building.id)))
    serving.freeze_startup()  # as serve() does before the first request (and its collector)
    client = app.test_client()
    r = client.post("/login", data={"username": name, "password": "bench-password-1"})
    assert r.status_code == 302, r.data
    out = {"buildings": buildings}
    for page in args.pages.split(","):
        client.get(PAGES[page])  # templates compiled, session warm
        walls, cpus = [], []
        for _ in range(args.repeat):
            if args.after_change:
                changed()
            prof = cProfile.Profile() if args.profile else None
            t0, c0 = time.perf_counter(), time.thread_time()
            if prof:
                prof.enable()
            resp = client.get(PAGES[page])
            if prof:
                prof.disable()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.thread_time() - c0)
            assert resp.status_code == 200, (page, resp.status_code)
        out[page] = {"wall_s": round(statistics.median(walls), 3),
                     "cpu_s": round(statistics.median(cpus), 3)}
        if prof:
            print(f"--- {page}", file=sys.stderr)
            stats = pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative")
            stats.print_stats(*([args.profile_only] if args.profile_only else []),
                              args.profile_lines)
    out["load"] = os.getloadavg()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
