"""The OpenAPI document of the JSON API, built from Flask's URL map so it cannot drift.

Every `/api/v1` rule becomes an operation per method, with its path parameters taken from the
rule's converters (an `<int:…>` is an integer from 0 to 2**63-1, server.params). What a rule
cannot say, each view adds with `@document(...)`: summary, query parameters, request body, the
answers only it gives and the schema of its body. The answers an operation gives because of
where it sits are added here from the same rules, once for all: 400 (a NUL in the URL, a
malformed parameter), 401 without a session, 403 for a role its `@allow` refuses or a
cross-site write (server.csrf), 404 for a path parameter that names nothing, 413 for a body
over the limit (server.bodies), 503 when the database is away and 507 for a write on a full
disk (server.services.faults). A method a path does not offer answers 405 with `Allow`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter

from server.access import LOGGED_IN, PUBLIC, rule_for
from server.csrf import UNSAFE_METHODS

SPEC_ATTR = "_openapi"
_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
ERROR_REF = {"$ref": "#/components/schemas/Error"}
FORM_ERROR_REF = {"$ref": "#/components/schemas/FormError"}
#: Why an operation answers each status code it shares with the others.
STANDARD = {
    "400": "the request is malformed (a NUL in the URL or body, a parameter or body that is not "
           "what this operation takes): the message says what to fix",
    "401": "not logged in: no session cookie (log in at /login) nor a valid API token",
    "403": "the caller's role may not use this operation, or a browser sent it from another site",
    "404": "a path parameter names nothing the caller may see",
    "413": "the request body is larger than the server accepts",
    "503": "the database cannot be reached just now: nothing was changed; retry after the "
           "seconds `Retry-After` says",
    "507": "the server's disk is full: nothing was stored",
}
_BILINGUAL = {"type": "object", "required": ["zh", "en"],
              "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}}
_COMPONENTS = {
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error", "message", "status"],
            "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                           "status": {"type": "integer"}},
        },
        "FormError": {
            "description": "A refused form operation: the message in both languages; an "
                           "invalid XLSForm adds its catalogue code, sheet, row, column and fix",
            "type": "object",
            "required": ["error", "message", "status"],
            "properties": {"error": {"type": "string"}, "status": {"type": "integer"},
                           "message": {"anyOf": [{"type": "string"}, _BILINGUAL]},
                           "fix": _BILINGUAL, "code": {"type": "string"},
                           "sheet": {"type": ["string", "null"]},
                           "row": {"type": ["integer", "null"]},
                           "column": {"type": ["string", "null"]}},
        },
    },
    "securitySchemes": {
        "session": {"type": "apiKey", "in": "cookie", "name": "session"},
        "token": {"type": "http", "scheme": "bearer",
                  "description": "a personal API token (server.services.api_tokens)"},
    },
}


def document(summary: str, *, writes: bool | None = None, **operation: Any) -> Callable:
    """Attach an OpenAPI operation (summary, parameters, requestBody, responses…) to a view.
    A parameter `in: path` refines the one the rule gives (e.g. an `enum`). `writes`: whether
    it writes to the database (default: for POST, PATCH…; a GET that is audited does)."""

    def decorate(view: Callable) -> Callable:
        setattr(view, SPEC_ATTR, {"summary": summary, "writes": writes, **operation})
        return view

    return decorate


def json_body(description: str, schema: dict[str, Any],
              media_type: str = "application/json") -> dict[str, Any]:
    """A response (or request body) of one media type with its schema."""
    return {"description": description, "content": {media_type: {"schema": schema}}}


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """An optional query parameter."""
    param = {"name": name, "in": "query", "required": False, "schema": schema}
    return {**param, "description": description} if description else param


def openapi_path(rule: Rule) -> str:
    """`/rounds/<int:round_id>` → `/rounds/{round_id}`."""
    return _VARIABLE.sub(r"{\1}", rule.rule)


def path_schema(converter: Any) -> dict[str, Any]:
    """The JSON schema of what a converter matches: integers with their bounds, else one path
    segment (no '/') of the converter's pattern."""
    if isinstance(converter, NumberConverter):
        schema: dict[str, Any] = {"type": "integer" if converter.num_convert is int
                                  else "number"}
        low = converter.min if converter.min is not None else (None if converter.signed else 0)
        if low is not None:
            schema["minimum"] = low
        if converter.max is not None:
            schema["maximum"] = converter.max
        return schema
    regex = "[^/]+" if converter.regex == "[^/]{1,}" else converter.regex  # any one segment
    return {"type": "string", "pattern": f"^{regex}$"}


def _path_parameters(rule: Rule, declared: list[dict[str, Any]]) -> list[dict[str, Any]]:
    refined = {p["name"]: p for p in declared if p.get("in") == "path"}
    params = []
    for name, converter in rule._converters.items():  # Werkzeug keeps them only there
        param = {"name": name, "in": "path", "required": True,
                 "schema": path_schema(converter)}
        extra = refined.get(name, {})
        param["schema"] = {**param["schema"], **extra.get("schema", {})}
        if "description" in extra:
            param["description"] = extra["description"]
        params.append(param)
    return params


def _standard_codes(rule: Rule, method: str, access: Any, writes: bool) -> list[str]:
    codes = ["400"]
    if access != PUBLIC:
        codes.append("401")
    if access not in (PUBLIC, LOGGED_IN) or method in UNSAFE_METHODS:
        codes.append("403")
    if rule.arguments:
        codes.append("404")
    if method in UNSAFE_METHODS:
        codes.append("413")
    if access != PUBLIC:  # the session's user is read from the database
        codes.append("503")
    if writes:
        codes.append("507")
    return codes


def operation(rule: Rule, method: str, spec: dict[str, Any], access: Any) -> dict[str, Any]:
    """One operation: the view's own description, completed from its rule."""
    op = {key: value for key, value in spec.items()
          if key not in ("parameters", "responses", "writes")}
    writes = spec["writes"] if spec.get("writes") is not None else method in UNSAFE_METHODS
    declared = list(spec.get("parameters", []))
    op["parameters"] = [*_path_parameters(rule, declared),
                        *(p for p in declared if p.get("in") != "path")]
    responses = {"200": {"description": "OK"}} if not spec.get("responses") else {}
    responses.update(spec.get("responses", {}))
    for code in _standard_codes(rule, method, access, writes):
        if code not in responses:
            responses[code] = {"description": STANDARD[code]}
            if code == "503":  # services.faults' answer, through the API's error handler
                responses[code]["headers"] = {
                    "Retry-After": {"schema": {"type": "integer", "minimum": 0}}}
    for code, answer in list(responses.items()):
        if code.startswith(("4", "5")) and "content" not in answer:
            responses[code] = {**answer, "content": {"application/json": {"schema": ERROR_REF}}}
    op["responses"] = dict(sorted(responses.items()))
    op["operationId"] = rule.endpoint.removeprefix("api.") + (
        "" if method in ("GET", "POST") else f"_{method.lower()}")
    if access != PUBLIC:
        op["security"] = [{"session": []}, {"token": []}]
    return op


def api_rules(app: Flask) -> list[Rule]:
    """The JSON API's rules, in the order they were added."""
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")]


def build(app: Flask) -> dict[str, Any]:
    """The whole document for `app`."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in api_rules(app):
        spec = getattr(app.view_functions[rule.endpoint], SPEC_ATTR, None)
        if spec is None:
            continue
        access = rule_for(rule.endpoint, app)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(openapi_path(rule), {})[method.lower()] = operation(
                rule, method, spec, access)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Doorstep API", "version": "1",
                 "description": "Errors answer {error, message, status} in the caller's "
                                "language. A method a path does not offer answers 405 with an "
                                "`Allow` header naming those it does."},
        "paths": paths,
        "components": _COMPONENTS,
    }
