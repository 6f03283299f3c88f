"""The whole-body limit, in front of the app: what the HTTP server does not refuse, this does.

Granian (server.serving) has no body limit of its own. A body announced larger than
MAX_CONTENT_LENGTH is answered 413 here before anyone reads it; a chunked body (no
Content-Length) is read into a spooled temporary file, refused with 413 as soon as its running
size passes the limit, and otherwise handed to the app with its Content-Length, as waitress did
(so the app's own readers, and their silent form parsers, always see a sized body).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wsgi import ClosingIterator

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: A chunked body up to this size stays in memory while it is read; a larger one spools to disk.
SPOOL_IN_MEMORY = 1024 * 1024
CHUNK = 64 * 1024


def too_large(start_response: Callable[..., Any], limit: int) -> list[bytes]:
    """413, and the connection closed: the rest of the body is never read."""
    body = f"The request body is larger than {limit} bytes.\n".encode()
    start_response("413 Request Entity Too Large", [
        ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
        ("Connection", "close")])
    return [body]


class BodyLimit:
    """WSGI middleware: no body over `limit` bytes (MAX_CONTENT_LENGTH) reaches the app."""

    def __init__(self, app: WSGIApp, limit: int):
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH")
        if length:
            if length.isdigit() and int(length) > self.limit:
                return too_large(start_response, self.limit)
            return self.app(environ, start_response)
        if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return self.app(environ, start_response)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        try:
            size = _copy(environ["wsgi.input"], spool, self.limit)
        except BaseException:
            spool.close()
            raise
        if size > self.limit:
            spool.close()
            return too_large(start_response, self.limit)
        spool.seek(0)
        environ["wsgi.input"] = spool
        environ["CONTENT_LENGTH"] = str(size)
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        try:
            return ClosingIterator(self.app(environ, start_response), spool.close)
        except BaseException:
            spool.close()
            raise


def _copy(stream: Any, spool: Any, limit: int) -> int:
    """Bytes read from the stream into the spool, stopping once past `limit`."""
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            break
        spool.write(chunk)
    return size
