"""The test's own app served over real HTTP by waitress in a thread, for clients that speak
HTTP themselves (an OData client library, requests): same database, same process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import waitress
from flask import Flask
from waitress import wasyncore


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve `app` on a free loopback port; yields its base URL (`http://127.0.0.1:PORT`)."""
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4,
                                    ident="doorstep-test")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown(timeout=10)  # requests in flight finish first
        # Every socket (listener, kept-alive connections, the trigger) closed by the loop's own
        # thread, which then finds nothing left to serve and returns.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(10)
        assert not thread.is_alive(), "the test server did not stop"
