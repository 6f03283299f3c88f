"""Durable OpenRosa ingest throughput against a real server process (DESIGN.md targets).

    .venv/bin/python tests/bench/bench_ingest.py [--clients 50] [--posts 3000] [--threads 16]

Posts ~3 KB household submissions (no attachments) from parallel clients on loopback and
prints submissions/s and latency percentiles; every answer must be 201.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.openrosa.conftest import instance
from tests.openrosa.liveserver import LiveServer, new_id, post


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=16, help="server threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp) / "instance", threads=args.threads)
        server.instance.mkdir()
        server.prepare()
        server.start()
        try:
            run(server, args.clients, args.posts)
        finally:
            server.stop()


def run(server: LiveServer, clients: int, posts: int) -> None:
    payloads = [instance(new_id(), persons=12, head="户主" * 20) for _ in range(posts)]
    print(f"payload ~{sum(map(len, payloads)) // posts} bytes; {clients} clients; {posts} posts")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    local = threading.local()

    def one(xml: bytes) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        t0 = time.perf_counter()
        status = post(session, server.base, xml).status_code
        dt = time.perf_counter() - t0
        with lock:
            latencies.append(dt)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, payloads))
    elapsed = time.perf_counter() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    print(f"statuses {statuses}")
    print(f"{posts / elapsed:.0f} submissions/s; p50 {q[49] * 1000:.0f} ms, "
          f"p99 {q[98] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
