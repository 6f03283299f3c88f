"""`serve --workers N`: several processes share the port, each submission lands once, a dead
worker is replaced, background processing runs in exactly one of them, and a stop lets the
requests in flight finish."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from server import serving
from tests.bench.ingest_target import multipart_post
from tests.support.household_form import household_instance
from tests.support.liveserver import LiveServer, child_pids, post

pytestmark = pytest.mark.slow


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def _started(tmp_path: Path, threads: int, workers: int = 1) -> LiveServer:
    """A prepared instance served by `workers` processes, each of them up."""
    server = LiveServer(tmp_path / "instance", threads=threads, workers=workers)
    server.instance.mkdir()
    server.prepare()
    server.start()
    if workers > 1:
        _wait_for(lambda: len(child_pids(server.proc.pid)) == workers)
    return server


def test_two_workers_share_the_port(tmp_path: Path) -> None:
    server = _started(tmp_path, threads=4, workers=2)
    try:
        first = child_pids(server.proc.pid)

        ids = [f"uuid:{uuid.uuid4()}" for _ in range(60)]

        def send(instance_id: str) -> int:
            with requests.Session() as session:
                return post(session, server.base, household_instance(instance_id)).status_code

        with ThreadPoolExecutor(12) as pool:
            assert set(pool.map(send, ids)) == {201}
        with ThreadPoolExecutor(12) as pool:  # resends are answered by whichever worker
            assert set(pool.map(send, ids[:20])) == {201}

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda: len(child_pids(server.proc.pid)) == 2
                  and victim not in child_pids(server.proc.pid))
        with requests.Session() as session:
            xml = household_instance(f"uuid:{uuid.uuid4()}")
            assert post(session, server.base, xml).status_code == 201

        db = sqlite3.connect(server.instance / "doorstep.sqlite3")
        try:
            def processed() -> bool:
                rows = dict(db.execute(
                    "SELECT processing_state, count(*) FROM submissions GROUP BY 1").fetchall())
                return rows == {"done": 61}

            _wait_for(processed)
        finally:
            db.close()
    finally:
        server.stop()
    assert not child_pids(server.proc.pid)  # SIGTERM to the parent stops every worker


def test_sigterm_lets_a_request_in_flight_finish(tmp_path: Path) -> None:
    """A submission half sent when the server is told to stop is still answered, 201 once
    stored, and then every process ends (Granian stops its workers gracefully; waitress's
    process died at once and reset the connection)."""
    server = _started(tmp_path, threads=2)
    try:
        instance_id = f"uuid:{uuid.uuid4()}"
        raw = multipart_post(server.port, f"/o/{server.token}/submission", "",
                             household_instance(instance_id))
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(raw[:len(raw) // 2])
        time.sleep(0.5)  # the worker has the request and waits for the rest of its body
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(raw[len(raw) // 2:])
        sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
        server.proc.wait(20)
    finally:
        server.stop()
    assert not child_pids(server.proc.pid)
    db = sqlite3.connect(server.instance / "doorstep.sqlite3")
    try:
        assert db.execute("SELECT count(*) FROM submissions WHERE instance_id = ?",
                          (instance_id,)).fetchone() == (1,)
    finally:
        db.close()


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie waiting for whoever adopted it to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="the worker list is read from /proc")
def test_workers_end_when_the_parent_is_killed(tmp_path: Path) -> None:
    """SIGKILL (or the OOM killer) on Granian's parent: its workers end too and the port
    refuses, so phones see the server down and queue, and a restart can bind the port. Orphaned
    workers used to keep the port and leave every request hanging."""
    server = _started(tmp_path, threads=2, workers=2)
    try:
        workers = child_pids(server.proc.pid)
        server.kill()
        _wait_for(lambda: all(_gone(pid) for pid in workers), timeout=15)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.url}/healthz", timeout=2)
        serving._check_port("127.0.0.1", server.port)  # a restart can bind the port again
    finally:
        server.stop()
