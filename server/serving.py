"""Serving: waitress threads in one process, or several processes sharing one port.

One Python process tops out at one core (the GIL): with `--workers N` the parent forks N
children that each bind the same address with SO_REUSEPORT (the kernel spreads connections
over them) and serve with waitress. Each child has its own database pool and ingest committer
(SQLite serialises their writes; PostgreSQL arbitrates with unique constraints). Start-up hooks
(the background processing worker) run in child 0 only on SQLite; on PostgreSQL every child
runs a worker (server.services.processing.queue: disjoint batches, each submission once). The
parent restarts a child that dies and stops them all on SIGTERM/SIGINT.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

import waitress
from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from server.extensions import db
from server.services import storage
from server.services.processing.worker import start_worker


def _run_hooks(app: Flask, first: bool = True) -> None:
    """What a serving process starts besides the web threads: the processing worker. On
    PostgreSQL in every process (they claim disjoint batches), on SQLite in the first only
    (one writer at a time)."""
    if first or app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        start_worker(app)


def body_limit(app: Flask) -> int:
    """waitress's max_request_body_size from MAX_CONTENT_LENGTH: a larger body is refused with
    413 as soon as its Content-Length (or, chunked, its running size) says so, before waitress
    reads and buffers it for the app. waitress refuses at `>=`, Flask at `>`: hence the +1."""
    return app.config["MAX_CONTENT_LENGTH"] + 1


def _listen(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def sweep_at_start(app: Flask, say: Callable[[str], None] = print) -> int:
    """Remove the `.part` files of writes a crash interrupted, before any worker of this
    server writes (the processing worker sweeps old ones again every hour)."""
    with app.app_context():
        removed = storage.sweep_temporary(storage.STARTUP_SWEEP_AGE_S)
    if removed:
        say(f"Removed {removed} leftover temporary files of interrupted writes")
    return removed


class OncePer(logging.Filter):
    """Lets one record through per `seconds`. waitress warns "Task queue depth is N" for
    every request that waits for a thread: under a burst of phones that was a log line for
    most requests. One a minute still says the threads are saturated."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.next_at = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now < self.next_at:
            return False
        self.next_at = now + self.seconds
        return True


QUEUE_WARNINGS = OncePer(60.0)


def size_pool(engine: Engine, threads: int) -> None:
    """One pooled connection per web thread, plus the processing worker's. SQLAlchemy's
    default keeps 5 and opens the rest as overflow, closing each when it is returned: under
    16 busy threads that was a new database connection every ten requests (on SQLite its
    pragmas; on PostgreSQL a new server process each time)."""
    pool = engine.pool
    wanted = threads + 2
    if not isinstance(pool, QueuePool) or pool.size() >= wanted:
        return
    engine.pool = QueuePool(
        pool._creator, pool_size=wanted, max_overflow=pool._max_overflow,
        pre_ping=pool._pre_ping, use_lifo=pool._pool.use_lifo, timeout=pool._timeout,
        recycle=pool._recycle, echo=pool.echo, logging_name=pool._orig_logging_name,
        reset_on_return=pool._reset_on_return, _dispatch=pool.dispatch, dialect=pool._dialect)
    pool.dispose()


def freeze_startup() -> None:
    """What start-up made (modules, models, the app) lives as long as the process: frozen out
    of the garbage collector's sight, the full collections that a fresh process's first requests
    set off (they build the area tree, the rounds, the staff's streets) no longer walk it: 70 ms
    of CPU of the first statistics request at a million buildings. Forked workers also keep
    sharing those pages instead of copying them when the collector would touch them."""
    gc.collect()
    gc.freeze()


def serve(app: Flask, host: str, port: int, threads: int = 8, workers: int = 1,
          say: Callable[[str], None] = print) -> None:
    sweep_at_start(app, say)
    with app.app_context():
        size_pool(db.engine, threads)
    queue_log = logging.getLogger("waitress.queue")
    if QUEUE_WARNINGS not in queue_log.filters:
        queue_log.addFilter(QUEUE_WARNINGS)
    freeze_startup()
    if workers <= 1:
        _run_hooks(app)
        say(f"Doorstep listening on http://{host}:{port}/")
        waitress.serve(app, host=host, port=port, threads=threads, ident="doorstep",
                       max_request_body_size=body_limit(app))
        return
    if not hasattr(socket, "SO_REUSEPORT"):
        raise SystemExit("--workers needs SO_REUSEPORT (Linux, BSD); use one worker here")
    # Bind once in the parent so a taken port fails now, with one clear line.
    _listen(host, port, reuse_port=True).close()
    say(f"Doorstep listening on http://{host}:{port}/ with {workers} worker processes")
    _supervise(app, host, port, threads, workers)


def _child(app: Flask, index: int, host: str, port: int, threads: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with app.app_context():
        db.engine.dispose(close=False)  # never share the parent's connections
    _run_hooks(app, first=index == 0)
    sock = _listen(host, port, reuse_port=True)
    sock.listen(1024)
    waitress.serve(app, sockets=[sock], threads=threads, ident="doorstep",
                   max_request_body_size=body_limit(app))


def _spawn(app: Flask, index: int, host: str, port: int, threads: int) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            _child(app, index, host, port, threads)
        finally:
            os._exit(0)
    return pid


def _supervise(app: Flask, host: str, port: int, threads: int, workers: int) -> None:
    children = {_spawn(app, i, host, port, threads): i for i in range(workers)}
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, None)
        if index is not None and not stopping:
            print(f"doorstep: worker {index} (pid {pid}) ended; starting another", file=sys.stderr)
            time.sleep(0.5)  # a crash loop must not spin
            children[_spawn(app, index, host, port, threads)] = index
