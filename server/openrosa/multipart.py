"""A small multipart/form-data reader for the common submission POST (RFC 7578).

Werkzeug's streaming form parser compiles two regular expressions for every new boundary (every
request has a fresh one, so Python's regex cache never helps) and costs ~3 ms per ~3 KB
submission; most of ingest's CPU went there. Submissions are small and their size is announced,
so the body is read at once and split with bytes.find. Bodies larger than FAST_LIMIT, chunked
bodies (no Content-Length) and other content types keep using Werkzeug's streaming parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from werkzeug.http import parse_options_header

from server.services.errors import ServiceError

FAST_LIMIT = 1024 * 1024
MAX_PARTS = 1000
# The headers every phone sends, read with one regular expression each; anything else (quoted
# boundaries, escapes, RFC 2231 parameters, upper case) goes to Werkzeug's general parser,
# which gives the same answer for these (parse_options_header was a tenth of a request).
_PLAIN_TYPE = re.compile(r"multipart/form-data;[ \t]*boundary=([A-Za-z0-9_.\-]{1,200})[ \t]*\Z")
_PLAIN_DISPOSITION = re.compile(r'form-data(?:;[ \t]*[a-z]+="[^"\\%\r\n]*")+[ \t]*\Z')
_PLAIN_PARAM = re.compile(r'([a-z]+)="([^"\\%\r\n]*)"')


class MultipartError(ServiceError):
    """The body is not valid multipart/form-data (answer 400); the parser's reason stays
    English, as it names the protocol's parts."""

    code = "bad_multipart"

    def __init__(self, reason: str) -> None:
        super().__init__("The POST is not valid multipart/form-data: {reason}.", reason=reason)


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    filename: str | None  # None: a plain field, not a file
    content_type: str  # the media type without parameters
    data: bytes


def boundary_of(content_type: str | None) -> bytes | None:
    """The boundary of a multipart/form-data Content-Type, else None."""
    if not content_type:
        return None
    if (plain := _PLAIN_TYPE.match(content_type)) is not None:
        return plain.group(1).encode("latin-1")
    mimetype, options = parse_options_header(content_type)
    boundary = options.get("boundary")
    if mimetype != "multipart/form-data" or not boundary:
        return None
    return boundary.encode("latin-1")


def _headers(block: bytes) -> tuple[str, str | None, str]:
    disposition = content_type = None
    for line in block.split(b"\r\n"):
        key, sep, value = line.partition(b":")
        if not sep:
            raise MultipartError("a part header line has no colon")
        key = key.strip().lower()
        if key == b"content-disposition":
            disposition = value.decode("utf-8", "replace").strip()
        elif key == b"content-type":
            content_type = value.decode("latin-1").split(";", 1)[0].strip().lower()
    if disposition is None:
        raise MultipartError("a part has no Content-Disposition header")
    kind, options = _disposition(disposition)
    if kind != "form-data" or "name" not in options:
        raise MultipartError("a part is not form-data with a name")
    return options["name"], options.get("filename"), content_type or "application/octet-stream"


def _disposition(value: str) -> tuple[str, dict[str, str]]:
    if _PLAIN_DISPOSITION.match(value):
        return "form-data", dict(_PLAIN_PARAM.findall(value))
    return parse_options_header(value)


def parse(body: bytes, boundary: bytes) -> list[Part]:
    """Split a whole multipart body into its parts, in order."""
    if not 1 <= len(boundary) <= 200:
        raise MultipartError("the multipart boundary is missing or too long")
    dash = b"--" + boundary
    delimiter = b"\r\n" + dash
    if body.startswith(dash):
        pos = len(dash)
    else:  # a preamble before the first boundary
        start = body.find(delimiter)
        if start < 0:
            raise MultipartError("the multipart boundary never occurs in the body")
        pos = start + len(delimiter)
    parts: list[Part] = []
    while True:
        if body.startswith(b"--", pos):
            return parts  # the close delimiter; an epilogue may follow and is ignored
        line_end = body.find(b"\r\n", pos)
        if line_end < 0 or body[pos:line_end].strip(b" \t"):
            raise MultipartError("a multipart boundary is not followed by a line break")
        head_end = body.find(b"\r\n\r\n", line_end)
        if head_end < 0:
            raise MultipartError("a part's headers are not terminated")
        name, filename, content_type = _headers(body[line_end + 2:head_end])
        data_start = head_end + 4
        data_end = body.find(delimiter, data_start)
        if data_end < 0:
            raise MultipartError("the body ends before the closing boundary (truncated?)")
        parts.append(Part(name, filename, content_type, body[data_start:data_end]))
        if len(parts) > MAX_PARTS:
            raise MultipartError(f"more than {MAX_PARTS} parts")
        pos = data_end + len(delimiter)
