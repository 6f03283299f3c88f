"""Whole numbers from URLs and query strings, within what the database can store.

Python's integers are unbounded, the database's are not: an id, page, offset or round of 2**63
in a URL used to reach the database and come back as a 500 (the only 5xx a 55k-case fuzz run
found). Ids are INTEGER columns, 64-bit on SQLite but 32-bit on PostgreSQL, where an id of
2**31 was still a 500 ("integer out of range", found by tests/test_api_fuzz.py): ids, in a
path or a query (`id_arg`), are bounded to MAX_ID on both, counts and offsets to MAX_SQL_INT.
Every `<int:…>` in a route is bounded (a number beyond it matches no route: 404) and every
integer query parameter goes through `int_arg` (400 naming the parameter).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter, Map

MAX_SQL_INT = 2**63 - 1  # BIGINT, and what OFFSET takes
MAX_ID = 2**31 - 1  # INTEGER on PostgreSQL: every id column
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


def digits_at_most(limit: int) -> str:
    """A regex of the decimal numbers 0…`limit` (leading zeros allowed), 0*(?:\\d{1,1}|1[0-1]|12)
    for 12: a number below `limit` is shorter, or shares its first digits and then has a
    smaller one."""
    text = str(limit)
    shorter = [rf"\d{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    smaller = []
    for i, digit in enumerate(text):
        low = 1 if i == 0 and len(text) > 1 else 0
        if int(digit) > low:
            rest = len(text) - i - 1
            tail = rf"\d{{{rest}}}" if rest else ""
            smaller.append(rf"{text[:i]}[{low}-{int(digit) - 1}]{tail}")
    return "0*(?:" + "|".join([*shorter, *smaller, text]) + ")"


class BoundedInteger(IntegerConverter):
    """`<int:…>` from 0 to MAX_ID (every one names a row, or a tile), a rule's own `max` may
    lower it; bounded in the regex itself: Werkzeug checks `max` only after matching, and a
    method other rules of the same path offer then answered 405 instead of 404
    (PATCH /api/v1/rounds/2**63 → 405 "Allow: GET")."""

    def __init__(self, map: Map, *args: Any, max: int = MAX_ID, **kwargs: Any) -> None:
        super().__init__(map, *args, max=max, **kwargs)
        if not self.signed and not self.fixed_digits:
            self.regex = digits_at_most(self.max)


def id_arg(name: str) -> int | None:
    """The query parameter `name` naming a row by its id (round, compare, before …)."""
    return int_arg(name, maximum=MAX_ID)


def _has_nul(value: Any) -> bool:
    """A NUL in any string of a parsed JSON value, keys included (iterative: a body nests as
    deep as the parser allows)."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list | tuple):
            todo.extend(item)
    return False


def _refuse_nul() -> None:
    """PostgreSQL refuses a NUL in any text it is sent (a 500 otherwise); no URL needs one,
    and neither does a JSON or form body (\\u0000 in a round's name was a 500 there). Multipart
    bodies are left to their readers: files hold any bytes."""
    if "\x00" in request.path or any(
        "\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)
    ):
        abort(400, "a URL may not contain NUL characters (%00)")
    if request.is_json and _has_nul(request.get_json(silent=True)):
        abort(400, "a request body may not contain NUL characters (\\u0000)")
    if request.mimetype == "application/x-www-form-urlencoded" and _has_nul(
        list(request.form.items(multi=True))
    ):
        abort(400, "a request body may not contain NUL characters (%00)")


def init_app(app: Flask) -> None:
    """Before any blueprint: rules take their converters when they are added. A rule's own
    `<int(max=…):…>` still wins."""
    app.url_map.converters["int"] = BoundedInteger
    app.before_request(_refuse_nul)


def page_of(rows: list, name: str, size: int) -> tuple[int, int, list]:
    """(page, pages, that page's rows) of `rows` by the 1-based query parameter `name`: a
    page past the last shows the last."""
    pages = max(1, -(-len(rows) // size))
    page = min(max(int_arg(name, 1, maximum=MAX_SQL_INT // size) or 1, 1), pages)
    return page, pages, rows[(page - 1) * size : page * size]
