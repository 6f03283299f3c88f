"""The Doorstep app for `granian --interface wsgi` (bench_ingest.py --server granian only).

What `serve` does before waitress starts, minus the processing worker (the bench runs ingest
with it off): the startup sweep and one pooled connection per blocking thread.
"""

from __future__ import annotations

import os

from server import create_app
from server.extensions import db
from server.serving import size_pool, sweep_at_start

app = create_app()
sweep_at_start(app)
with app.app_context():
    size_pool(db.engine, int(os.environ.get("GRANIAN_BLOCKING_THREADS", "16")))
