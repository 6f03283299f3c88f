"""Sessions end on the server: logout, a password reset or deactivation end every session of
the user, copies of the cookie included (issue 14, finding 8); the cookie is `Secure` over
HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from server.extensions import db
from server.models import Role, User
from server.services import users
from tests.support.app import PASSWORD, make_app, upgrade


@pytest.fixture
def app(tmp_path) -> Iterator[Flask]:
    """An app whose requests each get their own app context: flask-login keeps the user in
    `g`, which a context held by the test would share between clients."""
    app = make_app(tmp_path)
    upgrade(app)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_user(app):
    def factory(role: Role) -> SimpleNamespace:
        with app.app_context():
            serial = db.session.scalar(sa.select(sa.func.count(User.id)))
            user, _ = users.create_user(f"{role.value}-{serial}", role, password=PASSWORD)
            db.session.commit()
            return SimpleNamespace(id=user.id, username=user.username)

    return factory


def _logged_in(app, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return client


def _replay(app, cookie: str) -> int:
    """A request with a copied session cookie (another browser, or a thief)."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/api/v1/me").status_code


def _logout(app, admin, user, runner):
    _logged_in(app, user.username).post("/logout")


def _reset_by_admin(app, admin, user, runner):
    admin.post(f"/admin/users/{user.id}", data={"action": "reset-password"})


def _deactivate(app, admin, user, runner):
    admin.post(f"/admin/users/{user.id}", data={"action": "deactivate"})


def _reset_on_command_line(app, admin, user, runner):
    result = app.test_cli_runner().invoke(args=["users", "reset-password", user.username])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "end", [_logout, _reset_by_admin, _deactivate, _reset_on_command_line],
    ids=["logout", "admin resets the password", "admin deactivates", "doorstep users reset"])
def test_every_session_of_the_user_ends(app, make_user, end):
    user = make_user(Role.SUPERVISOR)
    other = make_user(Role.SUPERVISOR)
    admin = _logged_in(app, make_user(Role.ADMIN).username)
    browser = _logged_in(app, user.username)
    copied = browser.get_cookie("session").value
    bystander = _logged_in(app, other.username)
    assert _replay(app, copied) == 200

    end(app, admin, user, None)

    assert browser.get("/api/v1/me").status_code == 401
    assert _replay(app, copied) == 401
    assert bystander.get("/api/v1/me").status_code == 200  # other users keep theirs


def test_logging_in_again_after_logout_works(app, make_user):
    user = make_user(Role.DESIGNER)
    _logged_in(app, user.username).post("/logout")
    assert _logged_in(app, user.username).get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("session_id", ["1", "1.x", "x.0", "1.0.0", ""])
def test_malformed_or_old_session_ids_are_refused(app, make_user, session_id):
    """Sessions made before generations existed named the bare user id: they end too."""
    make_user(Role.ADMIN)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    assert client.get("/api/v1/me").status_code == 401


def test_logout_is_audited(app, make_user):
    from server.models import AuditEvent

    user = make_user(Role.ADMIN)
    _logged_in(app, user.username).post("/logout")
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action)
                                     .where(AuditEvent.user_id == user.id)).all()
        generation = db.session.get(User, user.id).session_generation
    assert actions == ["login", "logout"] and generation == 1


def _set_cookie_after_login(tmp_path, config: dict, **request) -> str:
    app = make_app(tmp_path, **config)
    upgrade(app)
    with app.app_context():
        users.create_user("boss", Role.ADMIN, password=PASSWORD)
        db.session.commit()
        response = app.test_client().post(
            "/login", data={"username": "boss", "password": PASSWORD}, **request)
        assert response.status_code == 302
        db.session.remove()
        db.engine.dispose()
    return response.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("config", "request_kwargs", "secure"),
    [
        ({}, {}, False),
        ({}, {"base_url": "https://doorstep.example"}, True),
        ({"SESSION_COOKIE_SECURE": True}, {}, True),
        ({"TRUSTED_PROXIES": 1}, {"headers": {"X-Forwarded-Proto": "https"}}, True),
        ({}, {"headers": {"X-Forwarded-Proto": "https"}}, False),  # no proxy is trusted
    ],
    ids=["http", "https", "forced", "https behind a trusted proxy", "untrusted header"],
)
def test_session_cookie_is_secure_over_https(tmp_path, config, request_kwargs, secure):
    cookie = _set_cookie_after_login(tmp_path, config, **request_kwargs)
    assert ("; Secure" in cookie) is secure, cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
