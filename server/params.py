"""Whole numbers from URLs and query strings, within what the database can store.

Python's integers are unbounded, SQLite's and PostgreSQL's are signed 64-bit: an id, page,
offset or round of 2**63 in a URL used to reach the database and come back as a 500 (the only
5xx a 55k-case fuzz run found). Every `<int:…>` in a route is bounded to that range (a number
beyond it matches no route: 404) and every integer query parameter goes through `int_arg`
(400 naming the parameter).
"""

from __future__ import annotations

import functools
import re

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

MAX_SQL_INT = 2**63 - 1
_INTEGER = re.compile(r"[+-]?\d+")


def int_arg(name: str, default: int | None = None, *, maximum: int = MAX_SQL_INT) -> int | None:
    """The query parameter `name` as an integer; `default` when absent or blank; 400 when it is
    not a whole number or its size is beyond `maximum` (either sign)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not _INTEGER.fullmatch(raw):
        abort(400, f"{name} must be a whole number, not {raw[:40]!r}")
    value = int(raw) if len(raw) <= 40 else maximum + 1  # int() of 5,000 digits is refused
    if abs(value) > maximum:
        abort(400, f"{name} must be at most {maximum}")
    return value


def _refuse_nul() -> None:
    """PostgreSQL refuses a NUL in any text it is sent (a 500 otherwise); no URL needs one."""
    if "\x00" in request.path or any(
        "\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)
    ):
        abort(400, "a URL may not contain NUL characters (%00)")


def init_app(app: Flask) -> None:
    """Before any blueprint: rules take their converters when they are added. A rule's own
    `<int(max=…):…>` still wins (a call's keywords override a partial's)."""
    app.url_map.converters["int"] = functools.partial(IntegerConverter, max=MAX_SQL_INT)
    app.before_request(_refuse_nul)
