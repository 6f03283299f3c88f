"""A set of values computed in Python, sent to the database as one bound parameter.

`column.in_(values)` binds one parameter per value: a township's streets are thousands, each
compiled into the statement, and past the driver's limit the statement is refused (SQLite as
its authors build it takes 32,766 parameters, PostgreSQL's protocol 65,535). Here the set is one
array on PostgreSQL (`= ANY(:values)`) and one JSON text on SQLite (`IN (SELECT value FROM
json_each(:values))`), whatever its size. Where the set is itself a query (an area's streets:
`scope.streets_under_select`), pass the query instead: nothing need leave the database.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from server.extensions import db


def one_of(column: Any, values: Collection[int] | Collection[str]) -> sa.ColumnElement[bool]:
    """`column IN values` with the values as one parameter (sorted: the same set, the same
    text)."""
    ordered = sorted(values)
    if not ordered:
        return sa.false()
    if db.session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, ordered, type_=postgresql.ARRAY(column.type)))
    items = sa.func.json_each(sa.bindparam(None, json.dumps(ordered), type_=sa.Text))
    return column.in_(sa.select(items.table_valued("value").c.value))
