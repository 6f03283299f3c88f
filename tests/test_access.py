"""Every registered route x every role gets the answer its rule says; no route goes unruled."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter, Rule

from server.access import DEVICE, LOGGED_IN, PUBLIC, rule_for
from server.models import Role
from tests.support.app import PASSWORD, make_app, upgrade

ANON = "anonymous"
# principal -> (role, assigned areas); the last two hold the same roles as others but no or
# other areas, so a rule that leaned on areas instead of roles would show here.
PRINCIPALS = {
    ANON: None,
    **{role.value: (role, ["T01-01"]) for role in Role},
    "supervisor without areas": (Role.SUPERVISOR, []),
    "second coordinator": (Role.COORDINATOR, ["T01-02"]),
}
SAMPLE_ARGS = {"int": 999999, "string": "no-such-thing", "path": "no/such/thing", "any": "x"}
# Device routes check their own credentials, and a browser session is none: called with the
# made-up token above, or without HTTP Basic, they refuse everyone, logged in or not.
DEVICE_REFUSALS = {"token": 403, "draft_token": 404}  # unknown device link, unknown draft link
BASIC_REFUSAL = 401  # the /o/... routes without a token ask for HTTP Basic


def _url_for(rule: Rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        kind = ("int" if isinstance(converter, IntegerConverter)  # server.params' bounded one
                else type(converter).__name__.replace("Converter", "").lower())
        values[name] = SAMPLE_ARGS.get(
            {"unicode": "string", "integer": "int"}.get(kind, kind), "x"
        )
    return rule.build(values, append_unknown=False)[1]


def _device_refusal(rule: Rule) -> int:
    return next((status for arg, status in DEVICE_REFUSALS.items() if arg in rule.arguments),
                BASIC_REFUSAL)


def _routes(app):
    """Every route but static files; logging out goes last so the others run logged in."""
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    return sorted(rules, key=lambda r: r.endpoint == "auth.logout")


def test_every_route_declares_a_rule(app):
    missing = [r.rule for r in _routes(app) if rule_for(r.endpoint, app) is None]
    assert missing == [], f"routes without @allow(...): {missing}"


def test_every_route_answers_each_role_as_ruled(app, make_user, area_tree):
    failures = []
    for principal, who in PRINCIPALS.items():
        client = app.test_client()
        if who is not None:
            role, areas = who
            user = make_user(role, areas=areas)
            client.post("/login", data={"username": user.username, "password": PASSWORD})
        for rule in _routes(app):
            access = rule_for(rule.endpoint, app)
            url = _url_for(rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                status = client.open(url, method=method).status_code
                if access == PUBLIC:
                    ok = status not in (403, 500)
                elif access == DEVICE:
                    ok = status == _device_refusal(rule)
                elif principal == ANON:
                    ok = status in (302, 401)
                elif access == LOGGED_IN or who[0] in access:
                    ok = status not in (401, 403, 500)
                else:
                    ok = status == 403
                if not ok:
                    failures.append(f"{principal:24} {method:6} {url} -> {status}")
    assert failures == []


def test_route_without_rule_is_refused_to_every_role(tmp_path):
    from flask import Blueprint

    from server.services import users

    app = make_app(tmp_path)
    bp = Blueprint("unruled", __name__)

    @bp.route("/unruled")
    def unruled():
        return "should never be served"

    app.register_blueprint(bp)
    upgrade(app)
    with app.app_context():
        from server.extensions import db

        users.create_user("boss", Role.ADMIN, password=PASSWORD)
        db.session.commit()
    client = app.test_client()
    assert client.get("/unruled").status_code == 403
    client.post("/login", data={"username": "boss", "password": PASSWORD})
    assert client.get("/unruled").status_code == 403


# --- the same routes on real objects: coordinator A's work on street T01-01 -----------------

#: GET routes that name one object, as built from coordinator A's objects.
OBJECT_ROUTES = (
    "/submissions/{submission}",
    "/submissions/{submission}/attachments/door.jpg",
    "/api/v1/submissions/{submission}",
    "/api/v1/coverage/buildings/{building}",
    "/coverage/photo/{attachment}",
    "/register/persons/{person}",
    "/api/v1/entities/persons/{person}",
)
#: Routes that change an object: refused (403/404) to whoever may not see it, nothing changed.
OBJECT_CHANGES = (
    ("/submissions/{submission}/review", {"review_state": "rejected"}),
    ("/api/v1/submissions/{submission}/review", {"review_state": "rejected"}),
    ("/register/conflicts/{conflict}", {"decision": "reject"}),
)
# principal -> (role, areas, sees coordinator A's objects)
OBJECT_PRINCIPALS = {
    "admin": (Role.ADMIN, [], True),
    "designer": (Role.DESIGNER, [], False),
    "supervisor of the street": (Role.SUPERVISOR, ["T01-01"], True),
    "supervisor of the village": (Role.SUPERVISOR, ["T01"], True),
    "supervisor of the other street": (Role.SUPERVISOR, ["T01-02"], False),
    "supervisor without areas": (Role.SUPERVISOR, [], False),
    "coordinator A": (Role.COORDINATOR, ["T01-01"], True),
    "second coordinator": (Role.COORDINATOR, ["T01-02"], False),
}


@pytest.fixture
def objects(app, area_tree, make_building, make_user) -> dict:
    """Coordinator A's processed submission with a door photo (a visit of B1), a person on
    T01-01 and a registration of them held for review."""
    import io
    from datetime import date, timedelta

    from server.extensions import db
    from server.models import Entity, RegisterConflict, Round, Submission, Visit
    from server.services.processing import pipeline
    from tests.support.household_form import add_household_form, household_instance

    add_household_form()
    building = make_building("B1", area_tree["T01-01"], lon=102.59995, lat=24.59995)
    db.session.add(Round(name="now", starts_on=date.today() - timedelta(days=1),
                         ends_on=date.today() + timedelta(days=1)))
    coordinator = make_user(Role.COORDINATOR, username="coordinator-a", areas=["T01-01"])
    data = {"xml_submission_file": (io.BytesIO(household_instance()), "submission.xml"),
            "door.jpg": (io.BytesIO(b"\xff\xd8\xff\xe0 JFIF door"), "door.jpg", "image/jpeg")}
    answer = app.test_client().post(f"/o/{coordinator.device_token}/submission", data=data,
                                    headers={"X-OpenRosa-Version": "1.0"})
    assert answer.status_code == 201
    pipeline.process_pending()
    submission = db.session.scalar(sa.select(Submission))
    assert db.session.scalar(sa.select(Visit.building_id)) == building.id
    person = Entity(dataset="persons", uuid="person-a", label="张三", area_id=area_tree[
        "T01-01"].id, properties={"id_number": "11010519491231002X"})
    db.session.add(person)
    db.session.flush()
    conflict = RegisterConflict(entity_id=person.id, uuid="person-x", reason="test",
                                properties={})
    db.session.add(conflict)
    db.session.commit()
    return {"submission": submission.id, "attachment": submission.attachments[0].id,
            "building": building.id, "person": person.uuid, "conflict": conflict.id,
            "coordinator": coordinator}


@pytest.mark.parametrize("principal", OBJECT_PRINCIPALS)
def test_objects_answer_each_principal_by_role_and_scope(app, make_user, objects, principal):
    """Role first (403), then scope (404 for what the principal may not see)."""
    from server.extensions import db
    from server.models import RegisterConflict, Submission

    role, areas, sees = OBJECT_PRINCIPALS[principal]
    user = objects["coordinator"] if principal == "coordinator A" else make_user(role,
                                                                                areas=areas)
    client = app.test_client()
    client.post("/login", data={"username": user.username, "password": PASSWORD})
    failures = []
    for template in OBJECT_ROUTES:
        url = template.format(**objects)
        access = rule_for(app.url_map.bind("localhost").match(url)[0], app)
        expected = 403 if role not in access else (200 if sees else 404)
        with client.get(url) as answer:  # files are streamed: close them
            status = answer.status_code
        if status != expected:
            failures.append(f"GET {url} -> {status}, expected {expected}")
    if not sees:
        for template, form in OBJECT_CHANGES:
            url = template.format(**objects)
            status = (client.post(url, json=form) if url.startswith("/api/")
                      else client.post(url, data=form)).status_code
            if status not in (403, 404):
                failures.append(f"POST {url} -> {status}")
        db.session.expire_all()
        assert db.session.get(Submission, objects["submission"]).review_state == "received"
        assert db.session.get(RegisterConflict, objects["conflict"]).state == "open"
    assert failures == []
