"""What processing costs per submission, in the process (issue 13, item 2): CPU, wall and
statements sent to the database, on SQLite or PostgreSQL.

    .venv/bin/python tests/bench/bench_batch_cost.py [--posts 1000] [--batch 100]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--profile 40]

A fresh instance (and, with --database-url, a fresh database on that server, dropped
afterwards) with one street of 2,025 buildings and a round holding today; --posts submissions
stored as ingest stores them, half the township's household form (a `households` entity, a
chosen building) and half bench_ingest.py's ~3 KB household form geotagged at a building. Then
`process_pending()` in batches of --batch with no time budget, then `reprocess --all` the same
way: the thread's CPU time, the wall time and the statements (a `before_cursor_execute`
listener) per submission, and the load average. No HTTP: the server's other work (ingest,
health polls, start-up) is not in these figures; bench_processing.py measures the whole.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from forms import convert_xlsform
from server.extensions import db
from server.services.ingest import accept
from server.services.processing import pipeline
from tests.bench.bench_ingest import PERSONS
from tests.support.app import make_app, upgrade
from tests.support.coverage_scenario import ensure_areas, install_forms, instance_xml
from tests.support.household_form import household_instance
from tests.support.paths import TOWNSHIP
from tests.support.processing import location, place

GRID = 45


def _store(n: int, version: str) -> None:
    today = datetime.now().astimezone().isoformat(timespec="seconds")
    for k in range(n):
        lon_lat = location(k, GRID).split()
        if k % 2:
            xml = household_instance(f"uuid:{uuid.uuid4()}", persons=PERSONS, head="户主" * 20,
                                     location=location(k, GRID), photo="")
        else:
            xml = instance_xml("household", version, f"uuid:{uuid.uuid4()}",
                               building=f"B{k % (GRID * GRID) + 1}", start=today,
                               location=(float(lon_lat[1]), float(lon_lat[0]), 5.0))
        result = accept.ingest(None, xml, [])
        assert result.status == 201, result.message
    db.session.commit()


def _measure(label: str, n: int, run) -> str:
    seen = [0]

    def count(*_args):
        seen[0] += 1

    sa.event.listen(db.engine, "before_cursor_execute", count)
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        counts = run()
    finally:
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        sa.event.remove(db.engine, "before_cursor_execute", count)
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{label}: {counts}; {n / wall:.0f}/s; per submission CPU {cpu * 1000 / n:.2f} ms, "
            f"wall {wall * 1000 / n:.2f} ms, {seen[0] / n:.2f} statements; load {load}")


def _profiled(run, top: int):
    """`run` under cProfile (its figures then hold the profiler's cost too)."""
    def wrapped():
        import cProfile
        import pstats

        prof = cProfile.Profile(time.thread_time)  # CPU, not waiting on the database
        try:
            return prof.runcall(run)
        finally:
            pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(top)
            pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(top)

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (fresh database)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="cProfile the process phase; print its N costliest functions")
    args = parser.parse_args()
    admin = url = None
    if args.database_url:
        admin = sa.create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        name = f"doorstep_bench_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(args.database_url).set(database=name).render_as_string(False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = {"PROCESSING_BATCH_SIZE": args.batch, "PROCESSING_BATCH_MS": 3_600_000}
            if url:
                config["SQLALCHEMY_DATABASE_URI"] = url
            app = make_app(Path(tmp), **config)
            upgrade(app)
            with app.app_context():
                place(grid=GRID)
                c = convert_xlsform((TOWNSHIP / "household.xlsx").read_bytes(), "household.xlsx")
                version = install_forms({"household": (c.xform, c.version)})["household"].version
                ensure_areas()
                db.session.commit()
                _store(20, version)
                pipeline.process_pending()  # caches warm: the index, the rounds, the forms
                _store(args.posts, version)
                print(f"{'PostgreSQL' if url else 'SQLite'}, {args.posts} submissions, batches "
                      f"of {args.batch}", flush=True)
                run = pipeline.process_pending if not args.profile else _profiled(
                    pipeline.process_pending, args.profile)
                print(_measure("process", args.posts, run), flush=True)
                total = args.posts + 20
                print(_measure("reprocess --all", total, lambda: (
                    pipeline.reprocess(everything=True), pipeline.process_pending())[1]),
                    flush=True)
                db.session.remove()
                db.engine.dispose()
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
