"""Imports run in a helper process with a memory cap and a time limit, never in the server's.

A GIS file of a few hundred kilobytes can ask for gigabytes and minutes (a self-intersecting
ring of 20,000 vertices took 159 s and 1.6 GB to repair; a million vertices passed 10 GB, and a
second such import got the server killed). So the reading, checking and repairing of a file
(`server.services.import_jobs`) runs in a child process whose address space is capped
(`RLIMIT_AS`) and which is stopped after a time limit; the request only waits for its answer.
A child that runs out of memory or time, or dies, costs that child: the server answers a clear
refusal and goes on. One import runs at a time per server process; another is told to wait.
The cap is counted on top of what the child starts with (the loaded libraries, ~350 MB of
address space), so a setting means the same whatever those libraries reserve.

Children come from a `multiprocessing` fork server started on first use, which has loaded
geopandas and GDAL once (about a second), so each import forks a ready process (~50 ms) with
no thread, lock or database connection of the server's in it. The child's temporary files go
in a folder the server makes for it and removes after it ended, however it ended: a child
killed mid-read (out of memory or time) once left its copy of the file (11 MB) in /tmp.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import resource
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from gis import limits
from server.services import import_jobs
from server.services.errors import ServiceError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Modules the fork server imports once, so children start with them loaded.
PRELOAD = ("server.services.import_jobs",)
MIB = 1024 * 1024
_busy = threading.BoundedSemaphore(1)
_context_lock = threading.Lock()
_context: Any = None


class ImportBusy(ServiceError):
    """Another import is running in this server process: one at a time bounds the memory."""

    status = 503
    code = "import_busy"


class ImportAborted(ServiceError):
    """The helper process ran out of memory or time, or died: nothing was imported."""

    status = 413
    code = "import_too_costly"


def _ctx():
    """The fork-server context, its preload set before the fork server first starts."""
    global _context
    with _context_lock:
        if _context is None:
            _context = multiprocessing.get_context("forkserver")
            _context.set_forkserver_preload(list(PRELOAD))
        return _context


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _out_of_memory(err: BaseException) -> bool:
    """MemoryError from Python or numpy, GEOS/GDAL reporting a failed allocation, no room
    left for a thread's stack or a library loaded late."""
    text = str(err).lower()
    return isinstance(err, MemoryError) or any(s in text for s in (
        "bad_alloc", "out of memory", "can't start new thread", "failed to map segment"))


def _address_space() -> int:
    """Bytes of address space this process has now (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _cap(limit: int) -> None:
    """Cap the address space, never above a cap the server itself runs under."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _portable(err: BaseException) -> BaseException:
    """The exception if the server can rebuild it from a pickle, else one with its text."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:
        return RuntimeError(f"{type(err).__name__}: {err}")
    return err


def _child(conn: multiprocessing.connection.Connection, memory_bytes: int, scratch: str,
           job: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    """Run `job` under the cap (on top of what the child has now), its temporary files in
    `scratch`, and send ("ok" | "error" | "memory", value, stats) back."""
    start = time.perf_counter()
    tempfile.tempdir = scratch  # the server removes it, should this process die
    try:
        limits.can_interrupt()  # the repair budget's thread, started before the cap
        import_jobs.warm_up()
        _cap(_address_space() + memory_bytes)
        answer: tuple = ("ok", job(*args, **kwargs))
    except BaseException as err:  # everything goes back to the server, which decides
        answer = ("memory", None) if _out_of_memory(err) else ("error", _portable(err))
    stats = {"seconds": time.perf_counter() - start, "peak_rss_mb": _peak_rss_mb()}
    try:
        conn.send((*answer, stats))
    except MemoryError:  # pickling a large answer needs memory too
        conn.send(("memory", None, stats))
    except Exception as err:  # a value that does not pickle: say what it was
        conn.send(("error", RuntimeError(f"{type(err).__name__}: {answer[1]!r}"), stats))
    finally:
        conn.close()


def run(job: Callable[..., T], *args: Any, memory_mb: int, time_limit_s: float,
        **kwargs: Any) -> T:
    """`job(*args, **kwargs)` in a helper process allowed `memory_mb` MiB of address space
    beyond what it starts with, stopped after `time_limit_s`: its value, or its exception
    raised here; ImportAborted when it ran out of memory or time or died; ImportBusy when
    another import is running."""
    if not _busy.acquire(blocking=False):
        raise ImportBusy("Another import is running; try again when it has finished. "
                         "Nothing was imported.")
    try:
        return _run(job, args, kwargs, memory_mb, time_limit_s)
    finally:
        _busy.release()


def _run(job, args, kwargs, memory_mb: int, time_limit_s: float):
    ctx = _ctx()
    receiver, sender = ctx.Pipe(duplex=False)
    scratch = tempfile.mkdtemp(prefix="doorstep-import-")
    child = ctx.Process(target=_child, name="doorstep-import", daemon=True,
                        args=(sender, memory_mb * MIB, scratch, job, args, kwargs))
    started = time.perf_counter()
    child.start()
    sender.close()  # the child holds the only writer: its death ends the pipe
    try:
        if not receiver.poll(time_limit_s):
            raise ImportAborted(
                "The import took longer than the time limit of {seconds} s "
                "(IMPORT_TIME_LIMIT_S) and was stopped. Nothing was imported.",
                seconds=f"{time_limit_s:g}")
        try:
            kind, value, stats = receiver.recv()
        except (EOFError, OSError):
            kind, value, stats = "died", None, {}
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("import helper %s: %s in %.2f s, peak RSS %.0f MiB (exit code %s)",
             getattr(job, "__name__", job), kind, time.perf_counter() - started,
             stats.get("peak_rss_mb", float("nan")), child.exitcode)
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    if kind == "memory":
        raise ImportAborted(
            "The import needed more memory than the limit of {mb} MB (IMPORT_MEMORY_LIMIT_MB) "
            "and was stopped. Nothing was imported: split the file or simplify its geometries.",
            mb=memory_mb)
    raise ImportAborted(
        "The import's helper process stopped without an answer (exit code {exit_code}), most "
        "likely out of memory (limit {mb} MB, IMPORT_MEMORY_LIMIT_MB). Nothing was imported.",
        exit_code=child.exitcode, mb=memory_mb)
