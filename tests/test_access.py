"""Every registered route x every role gets the answer its rule says; no route goes unruled."""

from __future__ import annotations

from werkzeug.routing import Rule

from server.access import DEVICE, LOGGED_IN, PUBLIC, rule_for
from server.models import Role
from tests.support.app import PASSWORD, make_app, upgrade

ANON = "anonymous"
PRINCIPALS = [ANON, *Role]
SAMPLE_ARGS = {"int": 999999, "string": "no-such-thing", "path": "no/such/thing", "any": "x"}
# Device routes check their own credentials, and a browser session is none: called with the
# made-up token above, or without HTTP Basic, they refuse everyone, logged in or not.
DEVICE_REFUSALS = {"token": 403, "draft_token": 404}  # unknown device link, unknown draft link
BASIC_REFUSAL = 401  # the /o/... routes without a token ask for HTTP Basic


def _url_for(rule: Rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__.replace("Converter", "").lower()
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
    for principal in PRINCIPALS:
        client = app.test_client()
        if principal != ANON:
            user = make_user(principal, areas=["T01-01"])
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
                elif access == LOGGED_IN or Role(principal) in access:
                    ok = status not in (401, 403, 500)
                else:
                    ok = status == 403
                if not ok:
                    failures.append(f"{principal:12} {method:6} {url} -> {status}")
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
