"""Bounds on an import's work: vertices counted before any repair, a time budget per repair.

A small file can ask for unbounded work: one self-intersecting ring of 20,000 vertices (0.7 MB)
took 159 s and 1.6 GB to repair, because GEOS ``make_valid`` grows faster than the vertices.
So the vertices are counted on the parsed geometries first (cheap and linear), and each repair
runs under a deadline after which GEOS is told to stop (``GEOS_interruptRequest``, which
shapely does not expose, called through ctypes on the very library shapely loaded).

That interrupt is process-wide: a budget stops every GEOS call running in the process at the
deadline, so use one only where nothing else runs GEOS at the same time (the server runs
imports in a helper process of their own, ``server.services.import_process``).
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# The defaults of gis.importing, and of the server's IMPORT_* settings (server/config.py).
DEFAULT_MAX_FEATURES = 2_000_000
DEFAULT_MAX_VERTICES_PER_FEATURE = 50_000  # a township's boundary; a footprint has tens
DEFAULT_MAX_VERTICES = 20_000_000  # a million footprints of a dozen vertices, and room


def check_vertices(
    geoms: np.ndarray,
    label: Callable[[int], str],
    *,
    per_feature: int | None,
    total: int | None,
) -> None:
    """Refuse a layer whose geometries have too many vertices, naming the first feature over
    ``per_feature`` (and the limit), or the layer's total over ``total``."""
    import numpy as np
    import shapely

    from gis._import_result import GisImportError  # (numpy: not at the top, see above)

    counts = shapely.get_num_coordinates(geoms)
    if per_feature is not None:
        over = np.flatnonzero(counts > per_feature)
        if len(over):
            i = int(over[0])
            raise GisImportError(
                f"{label(i)}: {int(counts[i]):,} vertices in one geometry, more than the limit "
                f"of {per_feature:,} per feature ({len(over)} feature(s) over it); simplify or "
                "split it", [{"row": int(j) + 1, "reason": "too many vertices"} for j in over])
    if total is not None and (n := int(counts.sum())) > total:
        raise GisImportError(
            f"{n:,} vertices in the layer, more than the limit of {total:,} per import; split "
            "the file")


class BudgetExceeded(Exception):
    """A GEOS call stopped because its time budget ran out."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"took longer than {seconds:g} s")
        self.seconds = seconds


def _geos_c() -> ctypes.CDLL | None:
    """The GEOS C library shapely loaded (the same handle: dlopen of a loaded path), or None
    where it cannot be found (no /proc): then repairs are bounded only by the caller."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = sorted({line.split(None, 5)[-1].strip() for line in maps
                            if "libgeos_c" in line})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            lib.GEOS_interruptRequest.restype = lib.GEOS_interruptCancel.restype = None
            return lib
        except (OSError, AttributeError):
            continue
    return None


_REPEAT_S = 0.01


class _Watchdog:
    """One thread per process that interrupts GEOS when the armed deadline passes."""

    def __init__(self, geos: ctypes.CDLL) -> None:
        self.pid = os.getpid()
        self._geos = geos
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self.fired = False
        threading.Thread(target=self._run, name="geos-budget", daemon=True).start()

    def arm(self, seconds: float) -> None:
        with self._cond:
            self._deadline, self.fired = time.monotonic() + seconds, False
            self._cond.notify()

    def disarm(self) -> None:
        # Under the lock: the interrupt is either requested before this (and cancelled here)
        # or not at all, so it never leaks into the next GEOS call.
        with self._cond:
            self._deadline = None
            self._geos.GEOS_interruptCancel()

    def _run(self) -> None:
        with self._cond:
            while True:
                if self._deadline is None:
                    self._cond.wait()
                elif (left := self._deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
                else:
                    # Again and again until disarmed: GEOS consumes a request at its next check,
                    # and some algorithms catch the interruption and retry another way
                    # (overlay's fallback to snapping), so one request can be lost.
                    self._geos.GEOS_interruptRequest()
                    self.fired = True
                    self._cond.wait(_REPEAT_S)


_watchdog: _Watchdog | None = None
_watchdog_lock = threading.Lock()


def _the_watchdog() -> _Watchdog | None:
    global _watchdog
    with _watchdog_lock:
        if _watchdog is None or _watchdog.pid != os.getpid():  # threads do not survive fork
            geos = _geos_c()
            _watchdog = _Watchdog(geos) if geos is not None else None
        return _watchdog


def can_interrupt() -> bool:
    """Whether a time budget can stop GEOS in this process."""
    return _the_watchdog() is not None


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Stop the GEOS calls inside after ``seconds`` (raising BudgetExceeded); None: no budget.
    Process-wide (see the module's note)."""
    watchdog = _the_watchdog() if seconds is not None else None
    if watchdog is None or seconds is None:
        yield
        return
    import shapely.errors

    watchdog.arm(seconds)
    try:
        yield
    except shapely.errors.GEOSException as err:
        if watchdog.fired and "Interrupt" in str(err):
            raise BudgetExceeded(seconds) from None
        raise
    finally:
        watchdog.disarm()
