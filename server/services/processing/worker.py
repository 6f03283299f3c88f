"""The embedded worker: one daemon thread that processes submissions as they arrive, and the
jobs that re-derive visits and coverage after a round changed (coverage.rederive)."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from server.extensions import db
from server.services import storage
from server.services.coverage.rederive import run_pending as run_round_jobs
from server.services.ingest.accept import NEW_SUBMISSION
from server.services.processing.pipeline import process_pending

log = logging.getLogger(__name__)


class Worker:
    """The embedded worker: one daemon thread processing pending submissions as they arrive."""

    def __init__(self, app: Flask, idle_wait_s: float = 5.0):
        self.app = app
        self.idle_wait_s = idle_wait_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="doorstep-processing", daemon=True)

    def start(self) -> Worker:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            NEW_SUBMISSION.clear()
            try:
                with self.app.app_context():
                    process_pending()
                    run_round_jobs()
                    db.session.remove()
            except Exception:  # keep the worker alive; the next round retries
                log.exception("processing worker round failed")
            NEW_SUBMISSION.wait(self.idle_wait_s)


def start_worker(app: Flask) -> Worker | None:
    """Started when serving (server.serving) unless PROCESS_IN_BACKGROUND is off."""
    with app.app_context():
        storage.sweep_temporary()
    if not app.config["PROCESS_IN_BACKGROUND"]:
        return None
    worker = Worker(app).start()
    app.extensions["doorstep.worker"] = worker
    return worker
