"""Serving: Granian (a Rust HTTP server) calling the app through WSGI, in N worker processes.

Granian parses HTTP, holds the connections and writes the answers in Rust; only the WSGI call
is Python, on `threads` blocking threads per worker. Against waitress, whose HTTP side is
Python, that took a quarter off the server's CPU per submission (tests/bench/RESULTS.md, "Ingest
at ~1 ms per submission"). Granian's parent process binds the port and supervises the workers
(N = `--workers`; one Python process tops out at one core, the GIL): it restarts a worker that
dies (and gives up on a crash loop) and stops them all gracefully on SIGTERM/SIGINT, each
finishing the requests it has. Each worker has its own database pool and ingest committer
(SQLite serialises their writes; PostgreSQL arbitrates with unique constraints). Start-up hooks
(the background processing worker) run in the first worker only on SQLite; on PostgreSQL every
worker runs one (server.services.processing.queue: disjoint batches, each submission once).
Granian has no body limit: server.body_limit refuses bodies past MAX_CONTENT_LENGTH.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask
from granian.constants import HTTPModes, Interfaces
from granian.server import MPServer
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from server.body_limit import BodyLimit
from server.extensions import db
from server.services import storage
from server.services.processing.worker import start_worker


def _run_hooks(app: Flask, first: bool = True) -> None:
    """What a serving process starts besides the web threads: the processing worker. On
    PostgreSQL in every process (they claim disjoint batches), on SQLite in the first only
    (one writer at a time)."""
    if first or app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        start_worker(app)


def sweep_at_start(app: Flask, say: Callable[[str], None] = print) -> int:
    """Remove the `.part` files of writes a crash interrupted, before any worker of this
    server writes (the processing worker sweeps old ones again every hour)."""
    with app.app_context():
        removed = storage.sweep_temporary(storage.STARTUP_SWEEP_AGE_S)
    if removed:
        say(f"Removed {removed} leftover temporary files of interrupted writes")
    return removed


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


#: The collector's thresholds while serving (Python's default: 700, 10, 10). A report request
#: at a million buildings allocates hundreds of thousands of short-lived rows and tuples; with
#: a collection every 700 allocations, collecting was 0.4–0.5 s of a meeting report's CPU
#: (gc.callbacks, tests/bench/RESULTS.md). Cycles are still collected: the young every 50,000
#: allocations, all of them every ten million (the third threshold as Python's: memory kept
#: in check).
GC_THRESHOLDS = (50_000, 20, 10)


def freeze_startup() -> None:
    """What start-up made (modules, models, the app) lives as long as the process: frozen out
    of the garbage collector's sight, the full collections that a fresh process's first requests
    set off (they build the area tree, the rounds, the staff's streets) no longer walk it: 70 ms
    of CPU of the first statistics request at a million buildings. Forked workers also keep
    sharing those pages instead of copying them when the collector would touch them. Then the
    collector runs at GC_THRESHOLDS (forked workers inherit them)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)



def serve(app: Flask, host: str, port: int, threads: int = 8, workers: int = 1,
          say: Callable[[str], None] = print) -> None:
    """Serve until SIGTERM/SIGINT: Granian's parent here, `workers` processes forked from it
    (each runs _worker's start first)."""
    sweep_at_start(app, say)
    with app.app_context():
        size_pool(db.engine, threads)
    _check_port(host, port)  # a taken port fails now, with one clear line
    freeze_startup()
    server = MPServer(
        "doorstep", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
        blocking_threads=threads, http=HTTPModes.http1, websockets=False,
        respawn_failed_workers=True, respawn_interval=0.5)
    wsgi = BodyLimit(app, app.config["MAX_CONTENT_LENGTH"])
    count = f" with {workers} worker processes" if workers > 1 else ""
    say(f"Doorstep listening on http://{host}:{port}/{count}")
    server.serve(spawn_target=_worker(app), target_loader=lambda: wsgi, wrap_loader=False)


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


def _worker(app: Flask) -> Callable[..., Any]:
    """Granian's WSGI worker with Doorstep's start first: its own database connections (never
    the parent's), the start-up hooks, and no request header taken from the process's
    environment (Granian starts every request's environ from os.environ: an HTTP_* variable
    there would read as a header the client sent)."""
    spawn = MPServer._spawn_wsgi_worker
    parent = os.getpid()

    def start(worker_id: int, *args: Any, **kwargs: Any) -> Any:
        exit_with_parent(parent)
        for name in [n for n in os.environ if n.startswith("HTTP_")]:
            del os.environ[name]
        with app.app_context():
            db.engine.dispose(close=False)
        _run_hooks(app, first=worker_id == 1)
        return spawn(worker_id, *args, **kwargs)

    return start


def exit_with_parent(parent: int) -> None:
    """Linux: the kernel sends this worker SIGTERM when Granian's parent dies, even by SIGKILL
    or the OOM killer. Without it the orphaned workers kept the port and took requests that
    then hung: the phones saw a server neither up nor down, and a restarted server found its
    port held."""
    if os.getpid() == parent or not sys.platform.startswith("linux"):
        return  # not a forked worker; elsewhere a service manager stops the process group
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the line above
        os.kill(os.getpid(), signal.SIGTERM)
