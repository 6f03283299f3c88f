"""Integers beyond 64 bits in any path or query parameter get a 4xx, never a 500 (issue 14,
finding 12: 693 of 55k fuzz cases), and so do ids beyond PostgreSQL's INTEGER, a NUL in a URL
or a body, and JSON nested deeper than the parser recurses."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from server.models import Role
from tests.support.app import PASSWORD

HUGE = 2**63  # one more than the largest id SQLite or PostgreSQL can store
ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.COORDINATOR, Role.DESIGNER)


def _logged_in(app, make_user, role):
    client = app.test_client()
    user = make_user(role, areas=["T01-01"] if role != Role.ADMIN else [])
    client.post("/login", data={"username": user.username, "password": PASSWORD})
    return client


def _huge_urls(app) -> list[tuple[str, str]]:
    """(method, url) of every route with an integer in its path, each integer 2**63."""
    out = []
    for rule in app.url_map.iter_rules():
        ints = [n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)]
        if not ints:
            continue
        values = {n: HUGE if n in ints else "x" for n in rule.arguments}
        url = "/" + rule.rule.lstrip("/")
        for name, value in values.items():
            url = url.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
        out += [(m, url) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return out


def test_every_integer_in_a_path_is_bounded(app, make_user, area_tree):
    urls = _huge_urls(app)
    assert len(urls) >= 8  # submissions, photos, tiles, users, icons …
    failures = []
    for role in ROLES:
        client = _logged_in(app, make_user, role)
        for method, url in urls:
            status = client.open(url, method=method).status_code
            if status >= 500:
                failures.append(f"{role.value} {method} {url} -> {status}")
    assert failures == []


@pytest.mark.parametrize(
    ("role", "url"),
    [
        (Role.ADMIN, "/api/v1/submissions?offset={}"),
        (Role.ADMIN, "/api/v1/submissions?limit={}"),
        (Role.SUPERVISOR, "/api/v1/entities/persons?offset={}"),
        (Role.SUPERVISOR, "/api/v1/entities/persons?limit=-{}"),
        (Role.SUPERVISOR, "/submissions/?page={}"),
        (Role.SUPERVISOR, "/submissions/?page=184467440737095517"),  # page x 50 is beyond
        (Role.ADMIN, "/admin/audit?before={}"),
        (Role.SUPERVISOR, "/api/v1/coverage/buildings/1?round={}"),
        (Role.SUPERVISOR, "/api/v1/coverage/stats?round={}"),
        (Role.SUPERVISOR, "/coverage/walklist?round={}"),
        (Role.COORDINATOR, "/api/v1/coverage/buildings.geojson?mine=1&round={}"),
    ],
)
def test_integer_query_parameters_beyond_64_bits_are_a_400(app, make_user, area_tree, role, url):
    client = _logged_in(app, make_user, role)
    response = client.get(url.format(HUGE))
    assert response.status_code == 400
    assert "must be at most" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["abc", "1.5", "1e3", "0x10", "9" * 5000])
def test_integer_query_parameters_must_be_whole_numbers(app, make_user, area_tree, value):
    client = _logged_in(app, make_user, Role.ADMIN)
    response = client.get(f"/api/v1/submissions?offset={value}")
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("offset must be")


def test_the_largest_storable_integer_is_still_served(app, make_user):
    client = _logged_in(app, make_user, Role.ADMIN)
    assert client.get(f"/api/v1/submissions?offset={HUGE - 1}").status_code == 200
    assert client.get(f"/api/v1/submissions/{HUGE - 1}").status_code == 404


@pytest.mark.parametrize("url", ["/api/v1/submissions?form=a%00b",
                                 "/api/v1/entities/persons%00", "/submissions/?coordinator=%00"])
def test_a_nul_in_a_url_is_a_400(app, make_user, area_tree, url):
    client = _logged_in(app, make_user, Role.SUPERVISOR)
    assert client.get(url).status_code == 400


def test_an_integer_beyond_64_bits_matches_no_route_whatever_the_method(app, make_user):
    """404, or a 405 whose `Allow` names methods another route really serves there: Werkzeug
    refused the number only after it had seen the path's other methods match, so
    PATCH /api/v1/rounds/2**63 answered 405 "Allow: GET" while GET answered 404."""
    from werkzeug.exceptions import NotFound

    client = _logged_in(app, make_user, Role.ADMIN)
    routes = app.url_map.bind("localhost")
    answers = {(method, url): client.open(url, method=method) for method, url in _huge_urls(app)}
    assert answers["PATCH", "/api/v1/rounds/9223372036854775808"].status_code == 404
    false_allows = []
    for (method, url), answer in answers.items():
        assert answer.status_code in (404, 405), (method, url, answer.status_code)
        for other in set(answer.allow) - {"HEAD", "OPTIONS"}:
            try:
                routes.match(url, method=other)
            except NotFound:
                false_allows.append(f"{method} {url}: Allow {other}, which no route serves")
    assert false_allows == []


@pytest.mark.parametrize("limit", [0, 1, 9, 10, 12, 100, 199, 1000, 2**63 - 1])
def test_the_bounded_integer_pattern_matches_exactly_0_to_its_limit(limit):
    import re

    from server.params import digits_at_most

    pattern = re.compile(rf"(?:{digits_at_most(limit)})\Z")
    numbers = [*range(min(limit + 50, 2000)), limit - 1, limit, limit + 1, limit * 10, HUGE]
    for n in (n for n in numbers if n >= 0):
        for text in (str(n), f"00{n}"):
            assert bool(pattern.match(text)) is (n <= limit), text


#: (role, url, status) at the first id PostgreSQL's INTEGER cannot hold; the largest it can.
ID_LIMITS = [
    (Role.ADMIN, "/api/v1/submissions/{beyond}", 404),
    (Role.ADMIN, "/api/v1/submissions/{largest}", 404),
    (Role.ADMIN, "/api/v1/rounds/{beyond}", 404),
    (Role.SUPERVISOR, "/api/v1/coverage/buildings/{largest}", 404),
    (Role.SUPERVISOR, "/api/v1/coverage/stats?round={beyond}", 400),
    (Role.SUPERVISOR, "/api/v1/coverage/stats?compare={beyond}", 400),
    (Role.SUPERVISOR, "/api/v1/coverage/stats?round={largest}", 404),
    (Role.SUPERVISOR, "/coverage/walklist?round={beyond}", 400),
    (Role.ADMIN, "/admin/audit?before={beyond}", 400),
    (Role.ADMIN, "/admin/audit?before={largest}", 200),
    (Role.ADMIN, "/api/v1/submissions?offset={beyond}", 200),  # an offset is no id
]


def _id_limits(role_of) -> list[str]:
    failures = []
    for role, template, expected in ID_LIMITS:
        url = template.format(beyond=2**31, largest=2**31 - 1)
        status = role_of(role).get(url).status_code
        if status != expected:
            failures.append(f"{role.value} {url} -> {status}, expected {expected}")
    return failures


def test_ids_are_bounded_to_what_postgresql_stores(app, make_user, area_tree):
    clients = {}
    assert _id_limits(lambda role: clients.setdefault(
        role, _logged_in(app, make_user, role))) == []


#: (url, JSON body or form) with a NUL: PostgreSQL refuses it in any text (500 before).
NUL_BODIES = [
    ("/api/v1/rounds", {"name": "a\x00b", "starts_on": "2030-01-01", "ends_on": "2030-01-02"}),
    ("/api/v1/rounds", {"name": "r", "starts_on": "2030-01-01", "ends_on": "2030-01-02",
                        "areas": ["T01\x00"]}),
    ("/api/v1/rounds", {"a\x00": 1}),
    ("/login", "username=a%00b&password=x"),
]


def _nul_bodies(client) -> list[str]:
    failures = []
    for url, body in NUL_BODIES:
        sent = (client.post(url, json=body) if isinstance(body, dict) else client.post(
            url, data=body, content_type="application/x-www-form-urlencoded"))
        if sent.status_code != 400 or "NUL" not in sent.get_data(as_text=True):
            failures.append(f"{url} {body!r} -> {sent.status_code}")
    return failures


def test_a_nul_in_a_json_or_form_body_is_a_400(app, make_user, area_tree):
    assert _nul_bodies(_logged_in(app, make_user, Role.ADMIN)) == []


@pytest.mark.parametrize("body", ["[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_json_nested_deeper_than_the_parser_goes_is_a_400(app, make_user, area_tree, body):
    client = _logged_in(app, make_user, Role.ADMIN)
    answer = client.post("/api/v1/rounds", data=body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.get_json()["status"] == 400


@pytest.mark.postgres
def test_ids_and_nuls_postgresql_refuses_are_a_4xx_there(postgres_url, tmp_path):
    """On PostgreSQL an id of 2**31 reached an INTEGER column (500 "integer out of range") and
    a NUL in a JSON body reached a text column (500): SQLite takes both."""
    from server.extensions import db
    from server.services import users
    from tests.support.app import make_app, upgrade

    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=postgres_url, PROPAGATE_EXCEPTIONS=False)
    upgrade(app)
    with app.app_context():
        from tests.support.coverage_scenario import ensure_areas, ensure_round

        ensure_areas()
        ensure_round()
        for role in (Role.ADMIN, Role.SUPERVISOR):
            users.create_user(role.value, role, area_codes=["T01"] * (role != Role.ADMIN),
                              password=PASSWORD)
        db.session.commit()
    clients = {}

    def role_of(role):
        if role not in clients:
            clients[role] = app.test_client()
            clients[role].post("/login", data={"username": role.value, "password": PASSWORD})
        return clients[role]

    try:
        assert _id_limits(role_of) == []
        assert _nul_bodies(role_of(Role.ADMIN)) == []
    finally:
        with app.app_context():
            db.engine.dispose()
