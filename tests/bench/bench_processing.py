"""Processing against ingest on a real server (issue 13, item 2), on SQLite or PostgreSQL.

    .venv/bin/python tests/bench/bench_processing.py [--posts 2000] [--clients 10]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--workers 2]

Starts `python -m server serve` over a fresh instance folder (and, with --database-url, a fresh
database on that server, dropped afterwards) with one street, 2,025 buildings, a round holding
today and bench_ingest.py's ~3 KB household form, each submission geotagged at the next of 2,025
buildings.

1. live: the worker on; --posts submissions from --clients keep-alive connections
   (bench_ingest.py's client); /api/v1/health sampled every 0.25 s. Ingest rate (posts / time to
   the last 201), the backlog's peak, the lag from the last 201 to an empty backlog, and the
   processing rate (posts / time from the first post to an empty backlog).
2. drain: --posts more with the worker off, then a restart with the worker on: the time to an
   empty backlog is processing alone.
3. reprocess: the server stopped, `doorstep submissions reprocess --all` over everything stored.

CPU: the server process's (and its children's) user + system time over each phase, and on
PostgreSQL the time of the bench database's backends alive at the phase's end (/proc), per
submission; the load average (`os.getloadavg()`) at each phase's end.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_ingest import PERSONS, client_process, http_request
from tests.support.household_form import household_instance
from tests.support.liveserver import LiveServer, child_pids
from tests.support.paths import REPO
from tests.support.processing import location

GRID = 45  # 2,025 buildings: a submission's building has a visit or two, as in the field
PLACE = f"""
from server import create_app
from tests.support.processing import place
app = create_app()
with app.app_context():
    place(form=False, grid={GRID})
"""


TICK = os.sysconf("SC_CLK_TCK")
DB_NAME = [""]  # the bench database on PostgreSQL: its backends' CPU is counted too


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _backends() -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving the bench database."""
    out: dict[int, float] = {}
    if not DB_NAME[0]:
        return out
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"postgres:") and DB_NAME[0].encode() in cmd:
                out[int(entry.name)] = _cpu_of(int(entry.name))
    return out


class Cpu:
    """CPU seconds of the server (and children) and the database's backends over a phase."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.start()

    def _server(self) -> float:
        pid = self.server.proc.pid
        return sum(_cpu_of(p) for p in {pid, *child_pids(pid)})

    def start(self) -> None:
        self.app, self.db = self._server(), _backends()

    def text(self, n: int) -> str:
        app = self._server() - self.app
        now = _backends()
        dbs = sum(t - self.db.get(pid, 0.0) for pid, t in now.items())
        load = "/".join(f"{x:.1f}" for x in os.getloadavg())
        pg = f", database {dbs * 1000 / n:.2f} ms" if DB_NAME[0] else ""
        return f"; CPU per submission: server {app * 1000 / n:.2f} ms{pg}; load {load}"


def _post_all(server: LiveServer, posts: int, clients: int) -> float:
    """Seconds to post every submission (all must be 201)."""
    reqs = [http_request(server.port, server.token, household_instance(
        f"uuid:{uuid.uuid4()}", persons=PERSONS, head="户主" * 20, location=location(k, GRID),
        photo="")) for k in range(posts)]
    queue: mp.Queue = mp.Queue()
    proc = mp.Process(target=client_process,
                      args=(server.port, [reqs[i::clients] for i in range(clients)], queue))
    started = time.perf_counter()
    proc.start()
    results = queue.get(timeout=600)
    elapsed = time.perf_counter() - started
    proc.join(10)
    statuses = {status for _, status in results}
    assert statuses == {201}, statuses
    return elapsed


def _backlog(server: LiveServer) -> int:
    return requests.get(f"{server.url}/api/v1/health", timeout=30).json()["processing"]["pending"]


def _wait_empty(server: LiveServer) -> float:
    while _backlog(server):
        time.sleep(0.1)
    return time.perf_counter()


def live(server: LiveServer, posts: int, clients: int) -> str:
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _backlog(server))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample)
    cpu = Cpu(server)
    started = time.perf_counter()
    sampler.start()
    ingest_s = _post_all(server, posts, clients)
    ingested_at = time.perf_counter()
    emptied_at = _wait_empty(server)
    stop.set()
    sampler.join()
    rate = posts / (emptied_at - started)
    return (f"live: ingest {posts / ingest_s:.0f}/s; processing {rate:.0f}/s; backlog peak "
            f"{peak[0]}; empty {emptied_at - ingested_at:.1f} s after the "
            f"last 201" + cpu.text(posts))


def drain(server: LiveServer, posts: int, clients: int) -> str:
    server.stop()
    server.env["DOORSTEP_PROCESS_IN_BACKGROUND"] = "false"
    server.start()
    ingest_s = _post_all(server, posts, clients)
    server.stop()
    server.env["DOORSTEP_PROCESS_IN_BACKGROUND"] = "true"
    started = time.perf_counter()
    server.start()
    cpu = Cpu(server)
    cpu.app = 0.0  # from the process's start
    took = _wait_empty(server) - started
    return (f"drain: ingest alone {posts / ingest_s:.0f}/s; processing alone {posts} in "
            f"{took:.1f} s = {posts / took:.0f}/s (incl. server start)" + cpu.text(posts))


def reprocess(server: LiveServer) -> str:
    server.stop()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "server", "submissions", "reprocess", "--all"],
                          env=server.env, cwd=REPO, text=True, capture_output=True, check=True)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"reprocess --all: {took:.1f} s ({done.stdout.strip()}); command CPU {cpu:.1f} s; "
            f"load {load}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (fresh database)")
    parser.add_argument("--workers", type=int, default=1,
                        help="serve processes (on PostgreSQL each runs a processing worker)")
    args = parser.parse_args()
    admin = url = None
    if args.database_url:
        admin = sa.create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        name = f"doorstep_bench_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        DB_NAME[0] = name
        url = sa.engine.make_url(args.database_url).set(database=name).render_as_string(False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            server = LiveServer(Path(tmp) / "instance", threads=16, workers=args.workers)
            server.instance.mkdir()
            if url:
                server.env["DOORSTEP_DATABASE_URL"] = url
            server.prepare()
            server.run("-c", PLACE)
            server.start()
            try:
                print(f"{'PostgreSQL' if url else 'SQLite'}, {args.posts} posts, "
                      f"{args.clients} clients, {args.workers} serve process(es)", flush=True)
                print(live(server, args.posts, args.clients), flush=True)
                print(drain(server, args.posts, args.clients), flush=True)
                print(reprocess(server), flush=True)
            finally:
                server.stop()
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
