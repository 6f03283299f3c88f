"""Processing interrupted by a machine fault (a full disk, the database gone) is retried by
itself with backoff; any other failure stays `error` with its message (issue 14, finding 15)."""

from __future__ import annotations

import errno
import itertools
import sqlite3
import threading
import time

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from server.extensions import db
from server.models import Submission
from server.services.ingest.accept import NEW_SUBMISSION
from server.services.processing import pipeline, worker
from server.services.processing.pipeline import Step, process_pending, reprocess
from server.services.storage import StorageError
from tests.support.household_form import household_instance


def _driver(error: Exception) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("UPDATE buildings …", {}, error)


TRANSIENT = {
    "ENOSPC": lambda: OSError(errno.ENOSPC, "No space left on device"),
    "EFBIG": lambda: OSError(errno.EFBIG, "File too large"),
    "SQLite full": lambda: _driver(sqlite3.OperationalError("database or disk is full")),
    "SQLite locked": lambda: _driver(sqlite3.OperationalError("database is locked")),
    "PostgreSQL gone": lambda: _driver(psycopg.OperationalError("server closed the connection "
                                                                "unexpectedly")),
}
PERMANENT = {
    "a bug": lambda: ValueError("unexpected answer"),
    "SQL mistake": lambda: _driver(sqlite3.OperationalError("no such column: nope")),
    "damaged store": lambda: StorageError("stored file {key} is missing", key="att/x"),
}


@pytest.fixture
def failing(app, monkeypatch):
    """STEPS replaced by one step that raises `errors` in turn, then succeeds; returns the
    times of its calls."""
    calls: list[float] = []

    def install(*errors: Exception) -> list[float]:
        todo = list(errors)

        def step(sub, xml):
            calls.append(time.monotonic())
            if todo:
                raise todo.pop(0)

        monkeypatch.setattr(pipeline, "STEPS", (Step("entities", step),))
        return calls

    app.config["PROCESSING_RETRY_FIRST_S"] = 0.2
    app.config["PROCESSING_RETRY_MAX_S"] = 0.5
    return install


def _sub() -> Submission:
    db.session.expire_all()
    return db.session.scalars(sa.select(Submission)).one()


@pytest.mark.parametrize("name", TRANSIENT)
def test_a_machine_fault_schedules_a_retry(form, post, failing, name):
    failing(TRANSIENT[name]())
    assert post(household_instance()).status_code == 201
    assert process_pending() == {"done": 0, "error": 1, "skipped": 0}
    sub = _sub()
    assert sub.processing_state == "error" and sub.processing_attempts == 1
    assert sub.processing_error.startswith("entities: ")
    delay = (sub.processing_retry_at - sub.processed_at).total_seconds()
    assert delay == pytest.approx(0.2, abs=0.01)


@pytest.mark.parametrize("name", PERMANENT)
def test_any_other_failure_stays_error_with_its_message(form, post, failing, name):
    error = PERMANENT[name]()
    failing(error)
    assert post(household_instance()).status_code == 201
    process_pending()
    time.sleep(0.3)
    assert process_pending() == {"done": 0, "error": 0, "skipped": 0}  # never picked again
    sub = _sub()
    assert (sub.processing_state, sub.processing_retry_at) == ("error", None)
    assert sub.processing_error == f"entities: {error}"
    assert reprocess() == 1 and process_pending()["done"] == 1  # a person's decision


def test_retries_back_off_until_the_fault_is_gone(form, post, failing):
    """Attempts after 0.2 s, then 0.4 s, then the 0.5 s cap; done on the fourth, and the
    counters are reset. A retry is never made before its time."""
    calls = failing(*(TRANSIENT["ENOSPC"]() for _ in range(3)))
    assert post(household_instance()).status_code == 201
    delays = []
    while True:
        state = process_pending()
        if state["done"]:
            break
        sub = _sub()
        delays.append(round((sub.processing_retry_at - sub.processed_at).total_seconds(), 2))
        assert process_pending() == {"done": 0, "error": 0, "skipped": 0}  # not yet due
        time.sleep(delays[-1] + 0.05)
    assert delays == [0.2, 0.4, 0.5]
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert all(gap >= want for gap, want in zip(gaps, delays, strict=True))
    sub = _sub()
    assert (sub.processing_state, sub.processing_attempts, sub.processing_retry_at,
            sub.processing_error) == ("done", 0, None, None)


def test_the_worker_retries_by_itself(app, form, post, failing):
    """The embedded worker, no `reprocess`: a submission interrupted twice by a full disk is
    done once space is back, at its due times (the worker sleeps until the next retry)."""
    calls = failing(TRANSIENT["ENOSPC"](), TRANSIENT["SQLite full"]())
    assert post(household_instance()).status_code == 201
    app.config["PROCESS_IN_BACKGROUND"] = True
    runner = worker.start_worker(app)
    try:
        deadline = time.monotonic() + 20
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop.set()
        NEW_SUBMISSION.set()
        runner.thread.join(10)
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.2 and calls[2] - calls[1] >= 0.4
    assert _sub().processing_state == "done"


def test_the_worker_backs_off_while_the_fault_lasts(app, monkeypatch, caplog):
    """A round that fails on a machine fault (the database gone before any submission is
    read) waits twice as long each time, up to the cap, with one line in the log; then the
    first good round brings the usual wait back."""
    outage = threading.Event()
    outage.set()

    def rounds():
        if outage.is_set():
            raise TRANSIENT["PostgreSQL gone"]()
        return {"done": 0, "error": 0, "skipped": 0}

    monkeypatch.setattr(worker, "process_pending", rounds)
    runner = worker.Worker(app, idle_wait_s=1.0, max_backoff_s=4.0)
    assert [runner._round() for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert "processing paused for 4 s (failure 4)" in caplog.text
    assert "Traceback" not in caplog.text
    outage.clear()
    assert runner._round() == 1.0 and runner.failures == 0
