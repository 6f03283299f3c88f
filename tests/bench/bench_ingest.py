"""Durable OpenRosa ingest throughput against a real server process (docs/ARCHITECTURE.md targets).

    .venv/bin/python tests/bench/bench_ingest.py [--clients 50] [--posts 6000]
        [--stored 20000,200000] [--threads 16] [--workers 1] [--client-procs 2] [--worker]
        [--basic] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--server waitress|granian]

Starts `python -m server serve` on loopback over a fresh instance folder (SQLite, or with
--database-url a fresh database on that PostgreSQL server, dropped afterwards), then for each
figure in --stored: bulk-inserts stored submissions (rows + raw XML, straight into the
database) until that many are stored, and posts --posts new ~3 KB household submissions (no
attachments) from --clients keep-alive connections. The client is cheap so that it does not
dominate: several processes, each driving its connections with one selector loop over raw
sockets and pre-built HTTP requests.
Prints submissions/s and latency percentiles per round; every answer must be 201. With --worker
the background processing worker runs in the server too (it is off by default: this measures
ingest, processing is off the request path). With --basic the clients post to `/o/submission`
with the coordinator's username and password (HTTP Basic, as ODK Collect set up with an account
does) instead of the device-token URL.
With --target-url no Doorstep is started: the same client posts the same requests to another
OpenRosa server already running on this machine (ODK Central: its app-user URL
`/v1/key/<token>/projects/<id>/submission`, or `http://user:password@…/submission` for HTTP
Basic); stored submissions are then filled by posting, since its database is not ours to write.
With --server granian the same app runs under Granian's WSGI interface (one worker process,
--threads blocking threads; tests/bench/granian_app.py) instead of `serve`'s waitress, to
compare the HTTP server's share of the CPU; the stored count is checked after each round (every
201 durable).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import multiprocessing as mp
import os
import selectors
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.granian_server import GranianServer, stored_count
from tests.bench.ingest_target import ExternalTarget, add_arguments, multipart_post, run_target
from tests.support.household_form import household_instance
from tests.support.liveserver import LiveServer, child_pids

PERSONS = 32  # ~3 KB of XML, as a township household submission with its people


def household(instance_id: str) -> bytes:
    return household_instance(instance_id, persons=PERSONS, head="户主" * 20)


BASIC_PASSWORD = "bench collector password"
BASIC_SETUP = f"""
import sqlalchemy as sa
from server import create_app
from server.extensions import db
from server.models import User
app = create_app()
with app.app_context():
    db.session.scalar(sa.select(User).where(User.username == "collector")).set_password(
        {BASIC_PASSWORD!r})
    db.session.commit()
"""


def http_request(port: int, token: str | None, xml: bytes) -> bytes:
    """A submission POST: to the device-token URL, or with HTTP Basic when token is None."""
    path = f"/o/{token}/submission" if token is not None else "/o/submission"
    auth = "" if token is not None else "Authorization: Basic " + base64.b64encode(
        f"collector:{BASIC_PASSWORD}".encode()).decode() + "\r\n"
    return multipart_post(port, path, auth, xml)


class _Conn:
    """One keep-alive connection sending its requests one after another."""

    def __init__(self, port: int, requests: list[bytes]):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.todo = requests
        self.buf = b""
        self.out = b""
        self.t0 = 0.0
        self.results: list[tuple[float, int]] = []

    def next_request(self) -> bool:
        if not self.todo:
            return False
        self.out = self.todo.pop()
        self.t0 = time.perf_counter()
        return True

    def response_done(self) -> bool:
        """True once a whole response is in the buffer (recorded and removed)."""
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return False
        head = self.buf[:head_end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-length":
                length = int(value)
        if len(self.buf) < head_end + 4 + length:
            return False
        self.results.append((time.perf_counter() - self.t0, int(head.split()[1])))
        self.buf = self.buf[head_end + 4 + length:]
        return True


def client_process(port: int, per_conn: list[list[bytes]], out: mp.Queue) -> None:
    sel = selectors.DefaultSelector()
    conns = [_Conn(port, reqs) for reqs in per_conn]
    for c in conns:
        if c.next_request():
            sel.register(c.sock, selectors.EVENT_WRITE, c)
    active = len(sel.get_map())
    while active:
        for key, events in sel.select(timeout=60):
            c: _Conn = key.data
            if events & selectors.EVENT_WRITE:
                sent = c.sock.send(c.out)
                c.out = c.out[sent:]
                if not c.out:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            elif events & selectors.EVENT_READ:
                chunk = c.sock.recv(65536)
                if not chunk:
                    raise RuntimeError("server closed a connection")
                c.buf += chunk
                if c.response_done():
                    if c.next_request():
                        sel.modify(c.sock, selectors.EVENT_WRITE, c)
                    else:
                        sel.unregister(c.sock)
                        c.sock.close()
                        active -= 1
    out.put([r for c in conns for r in c.results])


def server_cpu_seconds(pid: int) -> float:
    """The server's CPU: its own plus that of its worker processes (serve --workers)."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in child_pids(pid))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds(url: str | None) -> dict[int, float] | None:
    """CPU so far of each PostgreSQL backend serving this run's database (same machine), by
    PID, None on SQLite."""
    if not url:
        return None
    name = url.rsplit("/", 1)[1].encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if name in (entry / "cmdline").read_bytes():
                    found[int(entry.name)] = cpu_seconds(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def backends_cpu_since(before: dict[int, float], url: str | None) -> float:
    """The backends' CPU since `before`: a backend that exits during the round takes its
    share with it (an undercount, never a negative figure)."""
    after = database_cpu_seconds(url) or {}
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def run_round(server: LiveServer | None, clients: int, posts: int, procs: int,
              basic: bool = False, url: str | None = None,
              target: ExternalTarget | None = None) -> dict:
    if target is None:
        assert server is not None
        port, pid, token = server.port, server.proc.pid, None if basic else server.token
        requests = [http_request(port, token, household(f"uuid:{uuid.uuid4()}"))
                    for _ in range(posts)]
    else:
        port, pid = target.port, target.pid
        requests = [target.request(household(f"uuid:{uuid.uuid4()}")) for _ in range(posts)]
    per_conn = [requests[i::clients] for i in range(clients)]
    queue: mp.Queue = mp.Queue()
    workers = [mp.Process(target=client_process, args=(port, per_conn[p::procs], queue))
               for p in range(procs)]
    cpu0 = server_cpu_seconds(pid)
    db0 = database_cpu_seconds(url)
    load0 = os.getloadavg()[0]
    started = time.perf_counter()
    for w in workers:
        w.start()
    results = [r for _ in workers for r in queue.get(timeout=600)]
    elapsed = time.perf_counter() - started
    cpu = server_cpu_seconds(pid) - cpu0
    db_cpu = None if db0 is None else backends_cpu_since(db0, url)
    for w in workers:
        w.join(10)
    latencies = sorted(r[0] for r in results)
    statuses: dict[int, int] = {}
    for _, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    q = statistics.quantiles(latencies, n=100)
    return {"rate": len(results) / elapsed, "p50": q[49] * 1000, "p99": q[98] * 1000,
            "max": latencies[-1] * 1000, "statuses": statuses,
            "cpu_ms": cpu * 1000 / len(results), "load": load0,
            "db_cpu_ms": None if db_cpu is None else db_cpu * 1000 / len(results),
            "payload": sum(len(r) for r in requests) // posts}


def fill(db_path: Path, target: int, chunk: int = 20000) -> int:
    """Bulk-insert stored submissions (rows and raw XML, as ingest leaves them, processed)
    until `target` are stored; returns how many are stored."""
    con = sqlite3.connect(db_path, timeout=60)
    try:
        con.execute("PRAGMA synchronous=NORMAL")
        (count,) = con.execute("SELECT count(*) FROM submissions").fetchone()
        (fv_id,) = con.execute("SELECT min(id) FROM form_versions").fetchone()
        template = household("uuid:00000000-0000-0000-0000-000000000000")
        while count < target:
            n = min(chunk, target - count)
            subs, blobs = [], []
            for _ in range(n):
                iid = f"uuid:{uuid.uuid4()}"
                xml = template.replace(b"uuid:00000000-0000-0000-0000-000000000000", iid.encode())
                digest = hashlib.sha256(xml).hexdigest()
                subs.append((iid, fv_id, digest, len(xml), f"db:{digest}"))
                blobs.append((digest, xml))
            with con:
                con.executemany(
                    "INSERT INTO submissions (instance_id, form_version_id, received_at, "
                    "xml_sha256, xml_size, storage_key, superseded, review_state, "
                    "processing_state, attachments_expected, attachments_present, lon, lat, "
                    "gps_accuracy) VALUES (?, ?, datetime('now'), ?, ?, ?, 0, 'received', "
                    "'done', 1, 0, 102.6, 24.6, 5)", subs)
                con.executemany("INSERT INTO submission_blobs (sha256, xml) VALUES (?, ?)",
                                blobs)
            count += n
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count
    finally:
        con.close()


def fill_postgres(url: str, target: int, chunk: int = 20000) -> int:
    """fill() on PostgreSQL, with COPY (then ANALYZE, as autovacuum would soon do)."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn) as con:
        (count,) = con.execute("SELECT count(*) FROM submissions").fetchone()
        (fv_id,) = con.execute("SELECT min(id) FROM form_versions").fetchone()
        template = household("uuid:00000000-0000-0000-0000-000000000000")
        while count < target:
            n = min(chunk, target - count)
            rows, blobs = [], []
            for _ in range(n):
                iid = f"uuid:{uuid.uuid4()}"
                xml = template.replace(b"uuid:00000000-0000-0000-0000-000000000000",
                                       iid.encode())
                digest = hashlib.sha256(xml).hexdigest()
                rows.append((iid, fv_id, "now", digest, len(xml), f"db:{digest}", False,
                             "received", "done", 1, 0, 102.6, 24.6, 5, False))
                blobs.append((digest, xml))
            with con.cursor() as cur:  # one COPY at a time on a connection
                with cur.copy("COPY submissions (instance_id, form_version_id, received_at, "
                              "xml_sha256, xml_size, storage_key, superseded, review_state, "
                              "processing_state, attachments_expected, attachments_present, "
                              "lon, lat, gps_accuracy, draft) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                with cur.copy("COPY submission_blobs (sha256, xml) FROM STDIN") as copy:
                    for blob in blobs:
                        copy.write_row(blob)
            con.commit()
            count += n
        con.execute("ANALYZE submissions")
        con.execute("ANALYZE submission_blobs")
        con.commit()
        return count


def _db_cpu(ms: float | None) -> str:
    return "" if ms is None else f" + PostgreSQL {ms:.2f} ms"


def figures(r: dict) -> str:
    """One round's figures as the report line gives them."""
    return (f"{r['rate']:.0f} submissions/s; p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms, "
            f"max {r['max']:.0f} ms; server CPU {r['cpu_ms']:.2f} ms/submission"
            f"{_db_cpu(r['db_cpu_ms'])}; load before {r['load']:.1f}; "
            f"statuses {r['statuses']}; request ~{r['payload']} bytes")


@contextmanager
def fresh_database(server_url: str):
    """A new database on that PostgreSQL server for this run (its URL), dropped afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"doorstep_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(server_url).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--posts", type=int, default=6000)
    parser.add_argument("--stored", default="20000,200000",
                        help="comma-separated stored-submission counts, one round each")
    parser.add_argument("--threads", type=int, default=16, help="server threads")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    parser.add_argument("--worker", action="store_true", help="run the processing worker")
    parser.add_argument("--basic", action="store_true",
                        help="HTTP Basic to /o/submission instead of the device-token URL")
    parser.add_argument("--dir", default=None, help="instance folder parent (default: temp)")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (a fresh database is made and dropped)")
    parser.add_argument("--server", choices=("waitress", "granian"), default="waitress",
                        help="the HTTP server under the app (granian: tests/bench/granian_app.py)")
    add_arguments(parser)
    args = parser.parse_args()
    if args.target_url:
        run_target(args, run_round, figures)
    elif args.database_url:
        with fresh_database(args.database_url) as url:
            run(args, url)
    else:
        run(args, None)


def run(args: argparse.Namespace, url: str | None) -> None:
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        kind = GranianServer if args.server == "granian" else LiveServer
        server = kind(Path(tmp) / "instance", threads=args.threads, workers=args.workers,
                      database_url=url)
        server.env["DOORSTEP_PROCESS_IN_BACKGROUND"] = "true" if args.worker else "false"
        server.instance.mkdir()
        server.prepare()
        if args.basic:
            server.run("-c", BASIC_SETUP)
        server.start()
        try:
            run_round(server, args.clients, min(500, args.posts), args.client_procs,
                      args.basic)  # warm-up
            for target in (int(t) for t in args.stored.split(",")):
                t0 = time.perf_counter()
                if url:
                    stored = fill_postgres(url, target)
                else:
                    stored = fill(server.instance / "doorstep.sqlite3", target)
                filled = time.perf_counter() - t0
                r = run_round(server, args.clients, args.posts, args.client_procs, args.basic,
                              url)
                if not url:
                    durable = stored_count(server.instance / "doorstep.sqlite3") - stored
                    if durable != r["statuses"].get(201, 0):
                        raise SystemExit(f"{durable} stored for {r['statuses']}")
                print(f"stored {stored:>9,} (filled in {filled:.0f} s): {figures(r)}; "
                      f"{args.clients} clients, "
                      f"{args.posts} posts, {args.workers} x {args.threads} server threads, "
                      f"{'PostgreSQL' if url else 'SQLite'}, {args.server}"
                      f"{', HTTP Basic' if args.basic else ', token URL'}",
                      flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
