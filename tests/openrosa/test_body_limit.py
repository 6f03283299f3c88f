"""A body larger than MAX_CONTENT_LENGTH is refused by the server process from its announced
(or running) size, before it is read (issue 14, finding 10); figures for parallel large posts
are in tests/bench/RESULTS.md (tests/bench/bench_bodies.py)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import requests

from tests.support.liveserver import LiveServer

LIMIT = 1024 * 1024
CHUNK = b"x" * 65536


@pytest.fixture
def server(tmp_path: Path):
    srv = LiveServer(tmp_path / "instance", threads=2)
    srv.instance.mkdir()
    srv.env["DOORSTEP_MAX_CONTENT_LENGTH"] = str(LIMIT)
    srv.run("-m", "server", "db", "upgrade")
    srv.start()
    yield srv
    srv.stop()


def _answer(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            got = sock.recv(4096)
            if not got:
                break
            data += got
    except TimeoutError:
        pass
    return data


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False  # the server has answered and closed: what we want


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_before_it_is_read(server, framing):
    """512 MiB announced (or chunks past the limit), 1 MiB configured: the answer is 413 while
    the client has sent 2 MiB at most. Before, waitress (limit 1 GiB) waited for the rest."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    head = (f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n")
    if framing == "content-length":
        head += f"Content-Length: {512 * 1024 * 1024}\r\n\r\n"
        chunks = [CHUNK] * 4
    else:
        head += "Transfer-Encoding: chunked\r\n\r\n"
        chunks = [b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)] * (2 * LIMIT // len(CHUNK))
    started = time.monotonic()
    sent = 0
    if _send(sock, head.encode()):
        for chunk in chunks:
            if not _send(sock, chunk):
                break
            sent += len(chunk)
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent <= 2 * LIMIT + len(chunks[0]) and time.monotonic() - started < 10


def test_a_body_at_the_limit_still_reaches_the_app(server):
    """Exactly MAX_CONTENT_LENGTH bytes pass waitress (it refuses at >=, Flask at >)."""
    body = b"username=a&password=" + b"x" * (LIMIT - 20)
    response = requests.post(f"{server.url}/login", data=body, timeout=30, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert len(body) == LIMIT
    assert response.status_code in (401, 413)  # the app's own answer (form too large: 413)
    assert "waitress" not in response.text


PLAIN = 1024 * 1024  # MAX_PLAIN_BODY_BYTES' default


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/login", "application/x-www-form-urlencoded"),
        ("/api/v1/me/device-links", "application/json"),
        ("/login", "text/plain"),
        ("/o/{token}/submission", "application/x-www-form-urlencoded"),
    ],
)
def test_bodies_read_whole_are_refused_from_their_size(client, coordinator, path, content_type):
    """Werkzeug reads url-encoded and JSON bodies into memory whole: past MAX_PLAIN_BODY_BYTES
    they are refused from Content-Length (413), before anything else looks at the request.
    (waitress gives a chunked body, once received, its Content-Length too.)"""
    url = path.format(token=coordinator.device_token)
    response = client.post(url, data=b"a=" + b"x" * PLAIN, content_type=content_type,
                           headers={"X-OpenRosa-Version": "1.0"})
    assert response.status_code == 413
    assert str(PLAIN) in response.text


def test_multipart_uploads_keep_the_larger_limit(client, coordinator, form):
    photo = b"\xff\xd8" + b"x" * (2 * PLAIN)
    body = (b"--b\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; "
            b"filename=\"submission.xml\"\r\nContent-Type: text/xml\r\n\r\n<not-xml\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"photo.jpg\"; filename=\"photo.jpg\""
            b"\r\nContent-Type: image/jpeg\r\n\r\n" + photo + b"\r\n--b--\r\n")
    response = client.post(f"/o/{coordinator.device_token}/submission", data=body,
                           headers={"X-OpenRosa-Version": "1.0"},
                           content_type="multipart/form-data; boundary=b")
    assert response.status_code == 400  # read, and refused for its XML, not for its size
