"""Processing in real server processes (issue 13, items 2 and 4): a worker killed with SIGKILL in
the middle of a batch loses nothing and doubles nothing, and two servers on different ports over
one PostgreSQL database take submissions, share the processing (each submission once) and serve
the same numbers and tiles."""

from __future__ import annotations

import math
import sqlite3
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.support.app import PASSWORD
from tests.support.household_form import household_instance
from tests.support.liveserver import LiveServer, post
from tests.support.processing import LAT, LOCATION, LON

pytestmark = pytest.mark.slow

PLACE = f"""
from server import create_app
from server.extensions import db
from server.models import Role
from server.services import users
from tests.support.processing import place
app = create_app()
with app.app_context():
    place(form=False)
    users.create_user("boss", Role.ADMIN, password={PASSWORD!r})
    db.session.commit()
"""

HELD_ROWS = """
SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE c.relname = 'submissions' AND l.mode = 'RowShareLock'
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
#: A batch that claimed its submissions and now waits for a lock: at its commit's token write.
BATCH_WAITING = HELD_ROWS + " AND l.pid IN (SELECT pid FROM pg_stat_activity " \
                            "WHERE wait_event_type = 'Lock')"


def _server(tmp_path: Path, name: str, database_url: str | None, **settings) -> LiveServer:
    server = LiveServer(tmp_path / name, threads=4)
    server.instance.mkdir()
    if database_url:
        server.env["DOORSTEP_DATABASE_URL"] = database_url
    server.env.update({f"DOORSTEP_{k}": str(v) for k, v in settings.items()})
    return server


def _send(bases: list[str], n: int) -> None:
    """n household submissions at the building, spread over the servers' base URLs."""

    def one(i: int) -> int:
        with requests.Session() as session:
            xml = household_instance(f"uuid:{uuid.uuid4()}", location=LOCATION, photo="")
            return post(session, bases[i % len(bases)], xml).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(n))) == {201}


def _outcome(url: str) -> dict[str, object]:
    """Submissions by state and by committed runs, visits, doubled visits, the building's
    counted visits: read straight from the database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            def grouped(column: str) -> dict:
                return dict(conn.exec_driver_sql(
                    f"SELECT {column}, count(*) FROM submissions GROUP BY {column}").all())

            return {
                "states": grouped("processing_state"), "runs": grouped("processing_runs"),
                "visits": conn.exec_driver_sql("SELECT count(*) FROM visits").scalar(),
                "doubled": conn.exec_driver_sql(
                    "SELECT count(*) FROM (SELECT submission_id FROM visits "
                    "GROUP BY submission_id HAVING count(*) > 1) d").scalar(),
                "counted": conn.exec_driver_sql(
                    "SELECT coalesce(sum(visits), 0) FROM building_coverage").scalar(),
            }
    finally:
        engine.dispose()


def _wait_for(predicate: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar()


def _kill_pg_batch_before_commit(server: LiveServer, url: str) -> None:
    """Hold every `data_versions` row, which a batch's commit writes (its tokens) after all
    its visits and marks: the worker's batch stops there, everything written, nothing
    committed. SIGKILL it then, whatever the machine's speed, and let go."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as holder:
            holder.exec_driver_sql("SELECT name FROM data_versions FOR UPDATE").all()
            server.start()
            deadline = time.monotonic() + 60
            while not _count(engine, BATCH_WAITING):
                if time.monotonic() > deadline:
                    raise AssertionError("no batch reached its commit: " + server.read_log())
                time.sleep(0.02)
            server.kill()
            holder.rollback()
        # The killed worker's backend finds its client gone and rolls back.
        _wait_for(lambda: not _count(engine, HELD_ROWS), timeout=30)
    finally:
        engine.dispose()


def _kill_sqlite_batch(server: LiveServer, path: Path, hold: float = 0.05) -> None:
    """SIGKILL once the worker's batch has held SQLite's write lock for `hold` seconds. The
    test holds that lock itself while the server starts, so the batch begins only once the
    probe watches it (started on its own, it could be done before /healthz answered)."""
    def busy() -> bool:
        con = sqlite3.connect(path, timeout=0)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.rollback()
            return False
        except sqlite3.OperationalError:  # database is locked: the worker's batch holds it
            return True
        finally:
            con.close()

    holder = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        server.start()  # the worker's claim waits on the lock (busy_timeout 30 s)
    finally:
        holder.rollback()
        holder.close()
    deadline = time.monotonic() + 60
    since = None
    while time.monotonic() < deadline:
        if busy():
            since = since or time.monotonic()
            if time.monotonic() - since >= hold:
                server.kill()
                return
        elif since is not None:
            raise AssertionError("the batch committed before it could be killed: make it "
                                 "longer")
        time.sleep(0.005)
    raise AssertionError("no batch started: " + server.read_log())


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql",
                                                             marks=pytest.mark.postgres)])
def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(tmp_path, request, database):
    n = 1500  # one batch's writes must outlast the SQLite probe's 50 ms (500 took ~70 ms)
    url = request.getfixturevalue("postgres_url") if database == "postgresql" else None
    server = _server(tmp_path, "a", url, PROCESS_IN_BACKGROUND="false")
    url = url or f"sqlite:///{server.instance / 'doorstep.sqlite3'}"
    server.prepare()
    server.run("-c", PLACE)
    server.start()
    try:
        _send([server.base], n)
    finally:
        server.stop()
    assert _outcome(url)["states"] == {"pending": n}

    # One batch of all of them, killed while it runs.
    server.env.update(DOORSTEP_PROCESS_IN_BACKGROUND="true", DOORSTEP_PROCESSING_BATCH_SIZE=str(n),
                      DOORSTEP_PROCESSING_BATCH_MS="600000")
    try:
        if database == "postgresql":
            _kill_pg_batch_before_commit(server, url)
        else:
            _kill_sqlite_batch(server, server.instance / "doorstep.sqlite3")
    finally:
        server.kill()  # (already dead unless the wait failed: no server outlives the test)
    assert _outcome(url) == {"states": {"pending": n}, "runs": {0: n}, "visits": 0,
                             "doubled": 0, "counted": 0}  # nothing of the batch remains

    server.env.update(DOORSTEP_PROCESSING_BATCH_SIZE="50", DOORSTEP_PROCESSING_BATCH_MS="250")
    server.start()
    try:
        _wait_for(lambda: _outcome(url)["states"] == {"done": n})
        assert _outcome(url) == {"states": {"done": n}, "runs": {1: n}, "visits": n,
                                 "doubled": 0, "counted": n}
    finally:
        server.stop()


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    return z, x, y


def _admin(server: LiveServer) -> requests.Session:
    session = requests.Session()
    r = session.post(f"{server.url}/login", data={"username": "boss", "password": PASSWORD},
                     allow_redirects=False)
    assert r.status_code == 302, r.text
    return session


@pytest.mark.postgres
def test_two_servers_over_one_postgresql_share_the_work(tmp_path, postgres_url):
    n = 300
    one = _server(tmp_path, "one", postgres_url, PROCESSING_BATCH_SIZE=10)
    two = _server(tmp_path, "two", postgres_url, PROCESSING_BATCH_SIZE=10)
    one.prepare()
    one.run("-c", PLACE)
    two.token = one.token  # the same database: the same coordinator's device link
    one.start()
    two.start()
    try:
        _send([one.base, two.base], n)
        _wait_for(lambda: _outcome(postgres_url)["states"] == {"done": n})
        assert _outcome(postgres_url) == {"states": {"done": n}, "runs": {1: n}, "visits": n,
                                          "doubled": 0, "counted": n}
        processed = [requests.get(f"{s.url}/api/v1/health", timeout=10).json()["worker"]
                     for s in (one, two)]
        assert all(w["running"] and w["processed"] > 0 for w in processed), processed
        assert sum(w["processed"] for w in processed) == n

        admins = [_admin(s) for s in (one, two)]
        stats = [a.get(f"{s.url}/api/v1/coverage/stats", timeout=30).json()
                 for a, s in zip(admins, (one, two), strict=True)]
        assert stats[0] == stats[1]
        assert stats[0]["areas"], stats[0]
        z, x, y = _tile_of(LON + 0.00005, LAT + 0.00005, 16)
        time.sleep(5.5)  # a process sees others' coverage changes within tiles.PROBE_SECONDS
        tiles = [a.get(f"{s.url}/tiles/coverage/{stats[0]['round']}/{z}/{x}/{y}.mvt",
                       timeout=30) for a, s in zip(admins, (one, two), strict=True)]
        assert [t.status_code for t in tiles] == [200, 200]
        assert tiles[0].content and tiles[0].content == tiles[1].content
    finally:
        one.stop()
        two.stop()
