"""Serving's start: what start-up made is frozen out of the garbage collector's sight before the
first request (serving.freeze_startup), so that request's collections do not walk it."""

from __future__ import annotations

import gc

from server import serving


def test_serving_freezes_what_startup_made(app, monkeypatch) -> None:
    frozen: list[int] = []
    monkeypatch.setattr(serving, "_run_hooks", lambda *_a, **_k: None)  # no worker thread
    monkeypatch.setattr(serving.waitress, "serve",
                        lambda *_a, **_k: frozen.append(gc.get_freeze_count()))
    gc.unfreeze()
    try:
        serving.serve(app, "127.0.0.1", 0, say=lambda _line: None)
    finally:
        gc.unfreeze()  # the rest of the test session collects as before
    assert len(frozen) == 1 and frozen[0] > 10_000  # the modules, models and the app
