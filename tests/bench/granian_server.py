"""bench_ingest.py --server granian: the same app and client, Granian instead of waitress.

Granian's HTTP/1 parsing, connection handling and response writing are Rust; only the WSGI
call is Python. It runs tests/bench/granian_app.py (the app with `serve`'s startup sweep and
pool sizing) in one worker process with --threads blocking threads. Granian is not one of
Doorstep's dependencies: install it into the virtualenv to run this.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.liveserver import REPO, LiveServer, free_port


class GranianServer(LiveServer):
    """LiveServer's instance and client, with the app under `granian --interface wsgi`."""

    def start(self) -> None:
        self.port = free_port()
        self.log = open(self.log_dir / f"server-{self.port}.log", "wb")  # noqa: SIM115
        granian = Path(sys.executable).with_name("granian")
        if not granian.exists():
            raise SystemExit("--server granian needs `pip install granian` (not a dependency)")
        self.env["GRANIAN_BLOCKING_THREADS"] = str(self.threads)
        self.proc = subprocess.Popen(
            [str(granian), "--interface", "wsgi", "--host", "127.0.0.1", "--port",
             str(self.port), "--workers", str(self.workers), "--blocking-threads",
             str(self.threads), "--no-ws", "--http", "1", "tests.bench.granian_app:app"],
            env=self.env, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_healthy()


def stored_count(db_path: Path) -> int:
    """Submissions stored in the instance's SQLite database (is every 201 durable?)."""
    con = sqlite3.connect(db_path, timeout=60)
    try:
        return con.execute("SELECT count(*) FROM submissions").fetchone()[0]
    finally:
        con.close()
