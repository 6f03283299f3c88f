"""The served OpenAPI document tells the truth about the routes (issue 14, finding 16): every
/api/v1 rule is an operation with its path parameters, and every operation is a rule; the
answers each can give by its access rule are listed; a 405 names the allowed methods."""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import IntegerConverter

from server.access import LOGGED_IN, PUBLIC, rule_for
from server.params import MAX_ID

VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _api_rules(app):
    """Every rule under /api/v1, whichever blueprint added it."""
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")]


def _operations(app, client):
    """(rule, method, the document's operation or None) for every rule and method."""
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for rule in _api_rules(app):
        path = VARIABLE.sub(r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, paths.get(path, {}).get(method.lower())


def test_every_api_rule_is_documented_with_its_path_parameters(app, client):
    missing, wrong = [], []
    for rule, method, op in _operations(app, client):
        if op is None:
            missing.append(f"{method} {rule.rule}")
            continue
        params = {p["name"]: p for p in op["parameters"] if p["in"] == "path"}
        if set(params) != set(rule.arguments) or not all(p["required"] for p in params.values()):
            wrong.append(f"{method} {rule.rule}: path parameters {sorted(params)}")
        for name, converter in rule._converters.items():
            schema = params.get(name, {}).get("schema", {})
            if isinstance(converter, IntegerConverter):
                bounds = (schema.get("type"), schema.get("minimum"), schema.get("maximum"))
                if bounds != ("integer", 0, MAX_ID):
                    wrong.append(f"{method} {rule.rule}: {name} {bounds}")
            elif schema.get("type") != "string" or "pattern" not in schema:
                wrong.append(f"{method} {rule.rule}: {name} {schema}")
    assert len(_api_rules(app)) >= 20
    assert missing == []
    assert wrong == []


def test_every_documented_operation_is_a_route(app, client):
    routes = app.url_map.bind("localhost")
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, operations in paths.items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in operations:
            endpoint, _ = routes.match(url, method=method.upper())
            assert endpoint.startswith("api."), (method, path, endpoint)


def test_each_operation_lists_the_answers_its_rules_give(app, client):
    """400 for everyone (a NUL in the URL); 401 unless public; 403 where a role is refused or
    a write may come from another site; 404 with a path parameter; 413 for a write's body;
    503 (with Retry-After) unless public, the database being away; 507 for a write on a full
    disk (tests/test_faults.py answers them); every error with the error body's schema."""
    failures = []
    for rule, method, op in _operations(app, client):
        access = rule_for(rule.endpoint, app)
        expected = {"400": True, "401": access != PUBLIC,
                    "403": access not in (PUBLIC, LOGGED_IN) or method in UNSAFE,
                    "404": bool(rule.arguments) or None, "413": method in UNSAFE or None,
                    "503": access != PUBLIC or None, "507": method in UNSAFE or None}
        for code, present in expected.items():
            if present is not None and (code in op["responses"]) is not present:
                failures.append(f"{method} {rule.rule}: {code} {'missing' if present else ''}")
        if access != PUBLIC and "Retry-After" not in op["responses"]["503"]["headers"]:
            failures.append(f"{method} {rule.rule}: 503 without Retry-After")
        for code, answer in op["responses"].items():
            if code.startswith(("4", "5")) and "application/json" not in answer.get("content", {}):
                failures.append(f"{method} {rule.rule}: {code} has no JSON schema")
        if not any(code.startswith("2") and "content" in answer
                   for code, answer in op["responses"].items()):
            failures.append(f"{method} {rule.rule}: no schema for its success")
    assert failures == []


@pytest.mark.parametrize(("method", "url", "allowed"), [
    ("DELETE", "/api/v1/rounds", {"GET", "POST"}),
    ("PUT", "/api/v1/rounds/1", {"GET", "PATCH"}),
    ("POST", "/api/v1/openapi.json", {"GET"}),
    ("DELETE", "/login", {"GET", "POST"}),  # a page: the HTML error keeps it too
])
def test_a_405_names_the_methods_the_path_allows(client, method, url, allowed):
    answer = client.open(url, method=method)
    assert answer.status_code == 405
    assert allowed <= set(answer.allow) <= allowed | {"HEAD", "OPTIONS"}
    if url.startswith("/api/"):
        assert answer.get_json()["status"] == 405
