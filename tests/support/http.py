"""Requests the Flask test client cannot make as they are wanted."""

from __future__ import annotations

from typing import Any


def multipart(files: list[tuple[str, str, bytes]]) -> dict[str, Any]:
    """Keyword arguments for client.post with a hand-encoded multipart body.

    (Werkzeug's test client spools bodies over 500 KB to a temporary file it never
    closes, which pytest's warnings-as-errors turns into a failure.)
    """
    boundary = "----doorstep-test-boundary"
    out = bytearray()
    for field, filename, content in files:
        out += f"--{boundary}\r\n".encode()
        out += (f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return {"data": bytes(out), "content_type": f"multipart/form-data; boundary={boundary}"}
