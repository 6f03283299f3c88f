"""Personal API tokens: made on the user's page and shown once, stored hashed, accepted as
Bearer by the JSON API and as Bearer or Basic by the OData feed, revoked by the user or an
admin, refused while the user is deactivated, audited; they open no pages."""

from __future__ import annotations

import hashlib
import re

import pytest
import requests
import sqlalchemy as sa

from server.extensions import db
from server.models import ApiToken, AuditEvent, Role, User
from server.services import api_tokens, users
from tests.support.app import PASSWORD

TOKEN = re.compile(r'<code id="new-token">(dst_[A-Za-z0-9_-]+)</code>')


def _logged_in(live: str, user: User) -> requests.Session:
    session = requests.Session()
    response = session.post(f"{live}/login", data={"username": user.username,
                                                   "password": PASSWORD}, timeout=30)
    assert response.status_code == 200 and response.url.endswith("/"), response.url
    return session


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_made_on_the_page_is_shown_once_and_stored_hashed(app, make_user, live):
    user = make_user(Role.SUPERVISOR, areas=[])
    page = _logged_in(live, user)
    made = page.post(f"{live}/account/tokens", data={"label": "Power BI"}, timeout=30)
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    token = TOKEN.search(made.text).group(1)
    assert "Set-Cookie" not in made.headers or token not in made.headers["Set-Cookie"]
    again = page.get(f"{live}/account/tokens", timeout=30)
    assert "Power BI" in again.text and token not in again.text
    row = db.session.scalar(sa.select(ApiToken))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    dump = "\n".join(db.session.connection().connection.driver_connection.iterdump())
    assert token not in dump  # only the hash is in the database
    me = requests.get(f"{live}/api/v1/me", headers=_bearer(token), timeout=30)
    assert me.status_code == 200 and me.json()["username"] == user.username
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "api_token.create"))
    assert event.user_id == user.id and event.detail["label"] == "Power BI"
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None


def test_where_a_token_is_accepted(app, make_user, live):
    user = make_user(Role.SUPERVISOR, areas=[])
    token = api_tokens.create(user, "script")
    api = f"{live}/api/v1/me"
    assert requests.get(api, headers=_bearer(token), timeout=30).status_code == 200
    assert requests.get(api, auth=(user.username, token), timeout=30).status_code == 401
    assert requests.get(api, headers=_bearer(token + "x"), timeout=30).status_code == 401
    assert requests.get(api, headers=_bearer("not-a-token"), timeout=30).status_code == 401
    feed = f"{live}/odata/"
    assert requests.get(feed, headers=_bearer(token), timeout=30).status_code == 200
    assert requests.get(feed, auth=(user.username, token), timeout=30).status_code == 200
    # a password is not a token: the feed takes tokens only
    assert requests.get(feed, auth=(user.username, PASSWORD), timeout=30).status_code == 401
    page = requests.get(f"{live}/register/", headers=_bearer(token), allow_redirects=False,
                        timeout=30)
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_revoked_by_the_user(app, make_user, live):
    user = make_user(Role.COORDINATOR, areas=[])
    token = api_tokens.create(user, "laptop")
    other = api_tokens.create(user, "phone")
    row_id = db.session.scalar(sa.select(ApiToken.id).where(ApiToken.label == "laptop"))
    page = _logged_in(live, user)
    gone = page.post(f"{live}/account/tokens/{row_id}/revoke", timeout=30)
    assert gone.status_code == 200 and "laptop" in gone.text  # the flash names it
    assert requests.get(f"{live}/api/v1/me", headers=_bearer(token), timeout=30
                        ).status_code == 401
    assert requests.get(f"{live}/api/v1/me", headers=_bearer(other), timeout=30
                        ).status_code == 200
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "api_token.revoke"))
    assert (event.user_id, event.detail["token_id"]) == (user.id, row_id)


def test_an_admin_revokes_anyone_s_token_and_no_one_else_may(app, make_user, live):
    owner = make_user(Role.SUPERVISOR, areas=[])
    token = api_tokens.create(owner, "excel")
    row_id = db.session.scalar(sa.select(ApiToken.id))
    stranger = _logged_in(live, make_user(Role.SUPERVISOR, areas=[]))
    assert stranger.get(f"{live}/admin/users/{owner.id}/tokens", timeout=30).status_code == 403
    # another user's token id on one's own page: not theirs, nothing revoked
    assert stranger.post(f"{live}/account/tokens/{row_id}/revoke", timeout=30
                         ).status_code == 404
    assert requests.get(f"{live}/odata/", headers=_bearer(token), timeout=30).status_code == 200
    admin_user = make_user(Role.ADMIN)
    admin = _logged_in(live, admin_user)
    listed = admin.get(f"{live}/admin/users/{owner.id}/tokens", timeout=30)
    assert listed.status_code == 200 and "excel" in listed.text
    assert "API 令牌 (1)" in admin.get(f"{live}/admin/users", timeout=30).text
    admin.post(f"{live}/admin/users/{owner.id}/tokens/{row_id}/revoke", timeout=30)
    assert requests.get(f"{live}/odata/", headers=_bearer(token), timeout=30).status_code == 401
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "api_token.revoke"))
    assert (event.user_id, event.object_id) == (admin_user.id, str(owner.id))


def test_a_deactivated_user_s_token_stops_working(app, make_user, live):
    user = make_user(Role.SUPERVISOR, areas=[])
    token = api_tokens.create(user, "excel")
    users.set_active(user, False)
    db.session.commit()
    assert requests.get(f"{live}/odata/", headers=_bearer(token), timeout=30).status_code == 401
    users.set_active(user, True)
    db.session.commit()
    assert requests.get(f"{live}/odata/", headers=_bearer(token), timeout=30).status_code == 200


def test_limits_on_tokens(app, make_user):
    user = make_user(Role.SUPERVISOR, areas=[])
    with pytest.raises(api_tokens.ApiTokenError, match="at most 64 characters"):
        api_tokens.create(user, "x" * 65)
    for n in range(api_tokens.MAX_TOKENS):
        api_tokens.create(user, f"t{n}")
    with pytest.raises(api_tokens.ApiTokenError, match="at most 20 tokens") as refused:
        api_tokens.create(user, "one too many")
    assert refused.value.status == 409
    with pytest.raises(api_tokens.ApiTokenError, match="no such token"):
        api_tokens.revoke(user, 10**9, by=user)


def test_a_token_reads_the_json_api_in_its_user_s_scope(township, token_of, live):
    _user, token = token_of(Role.SUPERVISOR, ["T02"])
    persons = requests.get(f"{live}/api/v1/entities/persons", headers=_bearer(token),
                           timeout=30).json()["entities"]
    assert [p["uuid"] for p in persons] == ["P4"]
    assert "*" not in persons[0]["properties"]["id_number"]  # a supervisor sees it
    event = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "personal_data.view")).all()[-1]
    assert event.detail["count"] == 1
