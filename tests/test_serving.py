"""Serving: what start-up made is frozen out of the garbage collector's sight before the first
request and the collector runs less often (serving.freeze_startup), Granian serves the app
behind the body limit, and each worker starts its own connections, hooks and environment."""

from __future__ import annotations

import gc
import os

from granian.server import MPServer

from server import serving
from server.body_limit import BodyLimit


def test_serving_freezes_what_startup_made(app, monkeypatch) -> None:
    frozen: list[int] = []
    served: list[dict] = []

    def fake_serve(self, spawn_target=None, target_loader=None, wrap_loader=True):
        frozen.append(gc.get_freeze_count())
        served.append({"workers": self.workers, "threads": self.blocking_threads,
                       "wsgi": target_loader(), "wrap": wrap_loader})

    monkeypatch.setattr(MPServer, "serve", fake_serve)
    gc.unfreeze()
    before = gc.get_threshold()
    try:
        serving.serve(app, "127.0.0.1", 0, threads=6, workers=2, say=lambda _line: None)
        served_at = gc.get_threshold()
    finally:
        gc.unfreeze()  # the rest of the test session collects as before
        gc.set_threshold(*before)
    assert len(frozen) == 1 and frozen[0] > 10_000  # the modules, models and the app
    assert served_at == serving.GC_THRESHOLDS != before
    (run,) = served
    assert run["workers"] == 2 and run["threads"] == 6 and run["wrap"] is False
    assert isinstance(run["wsgi"], BodyLimit) and run["wsgi"].app is app
    assert run["wsgi"].limit == app.config["MAX_CONTENT_LENGTH"]


def test_a_worker_starts_hooks_in_the_first_only_on_sqlite(app, monkeypatch) -> None:
    hooks: list[bool] = []
    spawned: list[int] = []
    monkeypatch.setattr(serving, "_run_hooks", lambda _app, first=True: hooks.append(first))
    monkeypatch.setattr(MPServer, "_spawn_wsgi_worker",
                        lambda worker_id, *_a, **_k: spawned.append(worker_id))
    monkeypatch.setenv("HTTP_COOKIE", "from the environment")
    start = serving._worker(app)
    start(1, "name")
    start(2, "name")
    assert hooks == [True, False] and spawned == [1, 2]
    assert "HTTP_COOKIE" not in os.environ  # never read as a request's header
