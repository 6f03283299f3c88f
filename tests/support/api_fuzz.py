"""Schemathesis against the served OpenAPI document, in-process: a seeded township, a session
per role, a bounded and derandomized number of examples per operation, every answer counted."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

import schemathesis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from forms import convert_xlsform
from server.extensions import db
from server.models import Building, Entity, Round, Submission
from server.services import users
from tests.support.app import PASSWORD
from tests.support.coverage_scenario import (
    build_scenario,
    ensure_areas,
    ensure_round,
    install_forms,
    submit_instance,
)
from tests.support.paths import TOWNSHIP

#: The checks every answer must pass: no 5xx, and the status, media type and body the
#: document declares for the operation.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
#: role -> (username, assigned areas) in the seeded township.
ROLES = {"admin": ("fuzz-admin", []), "supervisor": ("fuzz-supervisor", ["T01"]),
         "coordinator": ("xieguan", ["T01-01"])}


def seed_township(app: Flask) -> dict[str, object]:
    """The coverage scenario (18 buildings, real submissions on T01-01), a household on
    T01-02, a person with ID and phone numbers, the 2016 round and a current one, a user per
    role of ROLES; returns path parameters naming real objects (see `fuzz`)."""
    with app.app_context():
        xforms = {}
        for name in ("building_listing", "household"):
            c = convert_xlsform((TOWNSHIP / f"{name}.xlsx").read_bytes(), f"{name}.xlsx")
            xforms[name] = (c.xform, c.version)
        ensure_round()
        versions = install_forms(xforms)
        areas = ensure_areas()
        made = {role: users.create_user(username, role, area_codes=codes, password=PASSWORD)[0]
                for role, (username, codes) in ROLES.items()}
        db.session.commit()
        coordinator = made["coordinator"]
        build_scenario(versions, coordinator.id)
        submit_instance(versions, "household", building="B14", submitter_id=coordinator.id)
        today = date.today()
        current = Round(name="this week", starts_on=today - timedelta(days=3),
                        ends_on=today + timedelta(days=3))
        person = Entity(dataset="persons", uuid="person-fuzz", label="张三",
                        area_id=areas["T01-01"],
                        properties={"id_number": "11010519491231002X", "phone": "13800138000"})
        db.session.add_all([current, person])
        db.session.commit()
        first = sa.select(Submission.id).where(Submission.submitter_id == coordinator.id)
        return {"round_id": current.id, "submission_id": db.session.scalar(first.limit(1)),
                "building_id": db.session.scalar(sa.select(Building.id).where(
                    Building.code == "B01")),
                "xml_form_id": "household", "version": versions["household"].version,
                "dataset": "persons", "uuid": person.uuid}


def session_cookie(app: Flask, username: str) -> dict[str, str]:
    """The session cookie a login as `username` sets, as {name: value}."""
    client = app.test_client()
    answer = client.post("/login", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 302, answer.status_code
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return {cookie.key: cookie.value}


@dataclass
class FuzzRun:
    """What one run sent and got: cases, statuses, 5xx and answers the document does not hold."""

    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    nonconforming: list[str] = field(default_factory=list)
    without_negative: list[str] = field(default_factory=list)
    seconds: Counter = field(default_factory=Counter)


def fuzz(app: Flask, cookie: dict[str, str], known: dict[str, object], max_examples: int,
         only: str | None = None) -> FuzzRun:
    """Every operation of the served document, `max_examples` cases of valid data and as many
    of invalid (where anything can be invalid), derandomized: the same cases every run.
    An operation with path parameters runs twice: with generated ones (which mostly name
    nothing: 404) and with `known` ones naming the seeded objects, so that its query and body
    reach the code behind the lookup. Nothing stops at the first failure. `only`: the
    operations whose path starts with it."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    run = FuzzRun()
    for result in schema.get_all_operations():
        operation = result.ok()
        if only is not None and not operation.path.startswith(only):
            continue
        names = [p["name"] for p in operation.definition.raw["parameters"] if p["in"] == "path"]
        fixed = {n: known[n] for n in names if n in known}  # not an enum's (export.{fmt})
        passes = [{}, fixed] if fixed else [{}]
        started = time.perf_counter()
        for path in passes:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if mode is GenerationMode.POSITIVE or _negatable(operation, path):
                    _fuzz_operation(operation, mode, cookie, path, max_examples, run)
        run.seconds[operation.label] += time.perf_counter() - started
    return run


def _negatable(operation, fixed: dict[str, object]) -> bool:
    """Whether schemathesis can make anything of the operation invalid: a query parameter, a
    body or an integer in the path (a string path segment it never negates: a '/' would name
    another route). Asking it anyway costs seconds of generation that end in no case."""
    raw = operation.definition.raw
    return bool(raw.get("requestBody")) or any(
        p["in"] == "query" or (p["schema"].get("type") == "integer" and p["name"] not in fixed)
        for p in raw["parameters"])


def _fuzz_operation(operation, mode: GenerationMode, cookie: dict[str, str],
                    path: dict[str, object], max_examples: int, run: FuzzRun) -> None:
    # The cookie is fixed: the document names it, and a generated one would be nobody's.
    strategy = operation.as_strategy(generation_mode=mode, cookies=cookie,
                                     path_parameters=path or None)

    @given(case=strategy)
    @settings(max_examples=max_examples, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def one(case) -> None:
        where = f"{case.method} {case.formatted_path} ({mode.value})"
        run.cases += 1
        try:
            # Bodies as sent uncompressed: over WSGI nothing decodes the br/gzip the app sends
            # a client that asks (schemathesis asks); tests/openrosa/test_compression.py has those.
            response = case.call(headers={"Accept-Encoding": "identity"})
        except Exception as err:  # the WSGI transport re-raises what a served app answers 500
            run.statuses[500] += 1
            run.server_errors.append(f"{where} -> {err!r}: {case.as_curl_command()}"[:2000])
            return
        run.statuses[response.status_code] += 1
        if response.status_code >= 500:
            run.server_errors.append(f"{where} -> {response.status_code}: "
                                     f"{case.as_curl_command()}"[:2000])
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, FailureGroup) as failure:
            run.nonconforming.append(f"{where} -> {response.status_code}: {failure}"[:1500])

    try:
        one()
    except Unsatisfiable:
        # Nothing left to make invalid (_negatable guesses from the document): no cases.
        assert mode is GenerationMode.NEGATIVE, operation.label
        run.without_negative.append(operation.label)
