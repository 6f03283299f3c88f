"""server.body_limit: under Granian (no body limit of its own) no body over MAX_CONTENT_LENGTH
reaches the app; a chunked body reaches it sized, as waitress handed it on."""

from __future__ import annotations

import io

from server.body_limit import BodyLimit

LIMIT = 1000


class Recorder:
    """A WSGI app that reads its whole body and says what it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, bytes]] = []

    def __call__(self, environ, start_response):
        length = environ.get("CONTENT_LENGTH")
        body = environ["wsgi.input"].read(int(length)) if length else b""
        self.seen.append((length, body))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


class Stream(io.BytesIO):
    """A request body that counts what was read of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def _call(app, environ):
    """As a WSGI server does: the answer read, then closed (the spooled body with it)."""
    said: list[str] = []
    answer = app(environ, lambda status, headers, exc=None: said.append(status))
    body = b"".join(answer)
    if hasattr(answer, "close"):
        answer.close()
    return said[0], body


def _environ(body: bytes, chunked: bool = False, announced: int | None = None) -> dict:
    env = {"REQUEST_METHOD": "POST", "wsgi.input": Stream(body)}
    if chunked:
        env["HTTP_TRANSFER_ENCODING"] = "chunked"
    else:
        env["CONTENT_LENGTH"] = str(len(body) if announced is None else announced)
    return env


def test_an_announced_body_over_the_limit_is_refused_unread() -> None:
    inner = Recorder()
    env = _environ(b"x" * 10, announced=LIMIT + 1)
    status, body = _call(BodyLimit(inner, LIMIT), env)
    assert status.startswith("413") and str(LIMIT).encode() in body
    assert inner.seen == [] and env["wsgi.input"].taken == 0


def test_a_body_at_the_limit_reaches_the_app() -> None:
    inner = Recorder()
    status, _ = _call(BodyLimit(inner, LIMIT), _environ(b"x" * LIMIT))
    assert status.startswith("200") and inner.seen == [(str(LIMIT), b"x" * LIMIT)]


def test_a_chunked_body_over_the_limit_is_refused_as_soon_as_it_passes() -> None:
    inner = Recorder()
    env = _environ(b"x" * (LIMIT * 300), chunked=True)
    status, _ = _call(BodyLimit(inner, LIMIT), env)
    assert status.startswith("413") and inner.seen == []
    assert env["wsgi.input"].taken <= LIMIT + 64 * 1024  # one read past the limit at most


def test_a_chunked_body_within_the_limit_reaches_the_app_sized() -> None:
    inner = Recorder()
    status, _ = _call(BodyLimit(inner, LIMIT), _environ(b"y" * LIMIT, chunked=True))
    assert status.startswith("200") and inner.seen == [(str(LIMIT), b"y" * LIMIT)]


def test_a_request_without_a_body_is_passed_on_as_it_is() -> None:
    inner = Recorder()
    env = {"REQUEST_METHOD": "GET", "wsgi.input": Stream(b"")}
    status, _ = _call(BodyLimit(inner, LIMIT), env)
    assert status.startswith("200") and inner.seen == [(None, b"")]
