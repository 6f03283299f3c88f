"""The OData v4 system query options the feed understands, parsed once per request.

`$filter` is parsed by odata-query (the OData ABNF, so quoting, dates and precedence are the
standard's) and evaluated here, in Python, on the rows as the reader sees them: a filter on a
masked ID number matches the masked text, so it cannot be used to guess a hidden value.
Supported in `$filter`: eq ne gt ge lt le and `in`, and/or/not, parentheses, the literals
null, true/false, numbers, strings, dates and date-times, and contains/startswith/endswith,
tolower/toupper. `$top`, `$skip`, `$count`, `$select`, `$orderby` and `$format=json` are
supported; `$expand`, `$search`, `$apply` and `$compute` answer 501, any other `$` option 400.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser

from server.services.errors import ServiceError

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

#: System query options that OData defines and the feed does not offer (answer 501).
NOT_IMPLEMENTED = frozenset({"$expand", "$search", "$apply", "$compute", "$levels"})
SUPPORTED = frozenset({"$top", "$skip", "$count", "$filter", "$select", "$orderby", "$format",
                       "$skiptoken"})
MAX_INT = 2**63 - 1


class QueryError(ServiceError):
    """A query option the feed cannot answer; the message names it."""

    code = "odata_query"


@dataclass
class Options:
    top: int | None = None
    skip: int = 0
    count: bool = False
    filter_text: str = ""
    predicate: Predicate | None = None
    select: list[str] | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)


def parse(args: Mapping[str, str], properties: Mapping[str, str]) -> Options:
    """Options from the query string; `properties` maps each property name to its Edm type."""
    for name in args:
        if name.startswith("$") and name not in SUPPORTED:
            if name in NOT_IMPLEMENTED:
                raise QueryError("{option} is not supported by this feed", status=501,
                                 option=name)
            raise QueryError("unknown query option {option}", option=name)
    fmt = args.get("$format", "json")
    if fmt.split(";")[0].strip() not in ("json", "application/json"):
        raise QueryError("only $format=json is offered", status=406)
    options = Options(top=_count_arg(args, "$top"), skip=_count_arg(args, "$skip") or 0)
    count = args.get("$count", "false")
    if count not in ("true", "false"):
        raise QueryError("$count must be true or false")
    options.count = count == "true"
    if args.get("$select", "").strip() not in ("", "*"):
        options.select = [_known(p.strip(), properties, "$select")
                          for p in args["$select"].split(",")]
    for part in filter(None, (p.strip() for p in args.get("$orderby", "").split(","))):
        name, _, direction = part.partition(" ")
        if direction.strip() not in ("", "asc", "desc"):
            raise QueryError("$orderby takes a property and asc or desc")
        options.orderby.append((_known(name, properties, "$orderby"),
                                direction.strip() == "desc"))
    text = args.get("$filter", "").strip()
    if text:
        options.filter_text = text
        options.predicate = compile_filter(text, properties)
    return options


def _count_arg(args: Mapping[str, str], name: str) -> int | None:
    raw = args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) > MAX_INT:
        raise QueryError("{option} must be a whole number of at least 0", option=name)
    return int(raw)


def _known(name: str, properties: Mapping[str, str], option: str) -> str:
    if name not in properties:
        raise QueryError("{option}: no property {name!r} in this entity set", option=option,
                         name=name)
    return name


def compile_filter(text: str, properties: Mapping[str, str]) -> Predicate:
    """A $filter expression as a function of one row; QueryError (400) if it is not valid."""
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(text))
    except ODataException as err:
        raise QueryError("$filter is not a valid expression: {reason}", reason=str(err)) from err
    except (ValueError, TypeError) as err:  # a literal the grammar accepted but Python cannot
        raise QueryError("$filter is not a valid expression: {reason}", reason=str(err)) from err
    return _Compiler(properties).boolean(tree)


# --- evaluation ----------------------------------------------------------------------------

_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
}
_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda a, b: b in a,
    "startswith": lambda a, b: a.startswith(b),
    "endswith": lambda a, b: a.endswith(b),
}
_STRING_MAPS: dict[str, Callable[[str], str]] = {"tolower": str.lower, "toupper": str.upper}

Value = Callable[[Row], Any]


class _Compiler:
    """Turns the parsed tree into closures; rejects what the feed does not evaluate."""

    def __init__(self, properties: Mapping[str, str]) -> None:
        self.properties = properties

    def boolean(self, node: ast._Node) -> Predicate:
        if isinstance(node, ast.BoolOp):
            left, right = self.boolean(node.left), self.boolean(node.right)
            if isinstance(node.op, ast.And):
                return lambda row: left(row) and right(row)
            return lambda row: left(row) or right(row)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.boolean(node.operand)
            return lambda row: not inner(row)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call) and node.func.name in _STRING_TESTS:
            return self.string_test(node)
        if isinstance(node, ast.Boolean):
            value = node.py_val
            return lambda row: value
        if isinstance(node, ast.Identifier) and self.properties.get(node.name) == "Edm.Boolean":
            name = node.name
            return lambda row: row.get(name) is True
        raise QueryError("$filter: {what} is not supported", what=_describe(node))

    def compare(self, node: ast.Compare) -> Predicate:
        left = self.value(node.left)
        if isinstance(node.comparator, ast.In):
            if not isinstance(node.right, ast.List):
                raise QueryError("$filter: `in` needs a list such as ('a','b')")
            wanted = [self.literal(item) for item in node.right.val]
            return lambda row: any(_equal(left(row), w) for w in wanted)
        right = self.value(node.right)
        if isinstance(node.comparator, ast.Eq):
            return lambda row: _equal(left(row), right(row))
        if isinstance(node.comparator, ast.NotEq):
            return lambda row: not _equal(left(row), right(row))
        op = _COMPARE[type(node.comparator)]

        def ordered(row: Row) -> bool:
            a, b = _comparable(left(row), right(row))
            return a is not None and b is not None and op(a, b)

        return ordered

    def string_test(self, node: ast.Call) -> Predicate:
        if len(node.args) != 2:
            raise QueryError("$filter: {name}() takes two arguments", name=node.func.name)
        test = _STRING_TESTS[node.func.name]
        a, b = self.value(node.args[0]), self.value(node.args[1])

        def check(row: Row) -> bool:
            x, y = a(row), b(row)
            return x is not None and y is not None and test(_text(x), _text(y))

        return check

    def value(self, node: ast._Node) -> Value:
        if isinstance(node, ast.Identifier):
            if node.namespace or node.name not in self.properties:
                raise QueryError("$filter: no property {name!r} in this entity set",
                                 name=node.name)
            name = node.name
            return lambda row: row.get(name)
        if isinstance(node, ast.Attribute):
            raise QueryError("$filter: no property {name!r} in this entity set",
                             name=f"{_describe(node.owner)}/{node.attr}")
        if isinstance(node, ast.Call) and node.func.name in _STRING_MAPS:
            if len(node.args) != 1:
                raise QueryError("$filter: {name}() takes one argument", name=node.func.name)
            inner, fn = self.value(node.args[0]), _STRING_MAPS[node.func.name]
            return lambda row: None if (v := inner(row)) is None else fn(_text(v))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Integer | ast.Float):
            constant = -self.literal(node.operand)
            return lambda row: constant
        constant = self.literal(node)
        return lambda row: constant

    def literal(self, node: ast._Node) -> Any:
        if isinstance(node, ast.Null | ast.Integer | ast.Float | ast.Boolean | ast.String
                      | ast.Date | ast.DateTime):
            try:
                return node.py_val
            except (ValueError, OverflowError) as err:
                raise QueryError("$filter: {value} is not a valid {kind}",
                                 value=getattr(node, "val", ""),
                                 kind=type(node).__name__.lower()) from err
        raise QueryError("$filter: {what} is not supported", what=_describe(node))


def _describe(node: ast._Node) -> str:
    if isinstance(node, ast.Call):
        return f"{node.func.name}()"
    if isinstance(node, ast.Identifier):
        return node.name
    return type(node).__name__


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    x, y = _comparable(a, b)
    return x is not None and x == y


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """Both sides as one type, led by the typed side (a literal, or a typed property): the
    feed's form fields are text, so `tenants gt 3` compares numbers and `name gt 'M'` text.
    (None, None) when they cannot be compared (a text that is not a number …)."""
    if a is None or b is None:
        return None, None
    typed = b if isinstance(a, str) and not isinstance(b, str) else a
    try:
        return _as(a, typed), _as(b, typed)
    except (ValueError, TypeError, OverflowError):
        return None, None


def _as(value: Any, like: Any) -> Any:
    if isinstance(like, bool):
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise ValueError(value)
    if isinstance(like, int | float):
        if isinstance(value, bool):
            raise TypeError(value)
        number = float(value)
        if math.isnan(number):
            raise ValueError(value)
        return number
    if isinstance(like, datetime):
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(
            str(value).replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if isinstance(like, date):
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return _text(value)
