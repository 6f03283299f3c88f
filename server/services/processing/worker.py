"""The embedded worker: one daemon thread that processes submissions as they arrive, batch after
batch from the queue in the database (processing.queue), and the jobs that re-derive visits and
coverage after a round changed (coverage.rederive). On PostgreSQL every serving process runs
one, on any number of hosts; on SQLite one process does."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from server.extensions import db
from server.services import faults, storage
from server.services.coverage.rederive import run_pending as run_round_jobs
from server.services.ingest.accept import NEW_SUBMISSION
from server.services.processing.pipeline import next_retry_in, process_pending

log = logging.getLogger(__name__)

#: How often old `.part` leftovers are swept while serving (serving.sweep_at_start at start).
SWEEP_EVERY_S = 3600.0


class Worker:
    """The embedded worker: one daemon thread processing pending submissions as they arrive.

    A round that fails on a machine fault (the disk full, the database gone) waits longer after
    each failure, doubling from `idle_wait_s` up to `max_backoff_s`, and logs one line, not a
    traceback; submissions it interrupted are retried when due (pipeline.retry_delay)."""

    def __init__(self, app: Flask, idle_wait_s: float = 5.0, max_backoff_s: float = 300.0):
        self.app = app
        self.idle_wait_s = idle_wait_s
        self.max_backoff_s = max_backoff_s
        self.failures = 0  # consecutive rounds failed on a machine fault
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="doorstep-processing", daemon=True)
        self._swept_at = time.monotonic()
        self.processed = 0  # by this process since it started (GET /api/v1/health)

    def start(self) -> Worker:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            NEW_SUBMISSION.clear()
            NEW_SUBMISSION.wait(self._round())

    def _round(self) -> float:
        """Process what is due; returns how long to wait for the next round."""
        wait = self.idle_wait_s
        try:
            with self.app.app_context():
                try:
                    counts = process_pending()
                    self.processed += counts["done"] + counts["error"]
                    run_round_jobs()
                    if time.monotonic() - self._swept_at >= SWEEP_EVERY_S:
                        self._swept_at = time.monotonic()
                        storage.sweep_temporary()
                    due = next_retry_in()
                finally:
                    db.session.remove()
            self.failures = 0
            return wait if due is None else min(wait, due)
        except Exception as err:  # keep the worker alive; the next round retries
            if not faults.transient(err):
                log.exception("processing worker round failed")
                return wait
            self.failures += 1
            wait = min(self.idle_wait_s * 2 ** min(self.failures - 1, 16), self.max_backoff_s)
            log.warning("processing paused for %.0f s (failure %d): %s", wait, self.failures,
                        str(err).splitlines()[0])
            return wait


def start_worker(app: Flask) -> Worker | None:
    """Started when serving (server.serving) unless PROCESS_IN_BACKGROUND is off."""
    if not app.config["PROCESS_IN_BACKGROUND"]:
        return None
    worker = Worker(app).start()
    app.extensions["doorstep.worker"] = worker
    return worker
