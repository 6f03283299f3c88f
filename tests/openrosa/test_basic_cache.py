"""HTTP Basic as fast as the device-token URL: a verified credential is remembered briefly in
the process (logins.BasicCache), never for a wrong password, and no longer than the password
and the account stay as they were (issue 13, item 3)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from server.extensions import db
from server.models import Role, User
from server.services import logins, users
from tests.support.app import PASSWORD, make_app, upgrade


def _app(tmp_path, **config) -> Flask:
    app = make_app(tmp_path, **config)
    upgrade(app)
    with app.app_context():
        users.create_user("li", Role.COORDINATOR, password=PASSWORD)
        db.session.commit()
    return app


@pytest.fixture
def app(tmp_path) -> Iterator[Flask]:
    """No app context held by the test: each request gets its own, as on a server."""
    app = _app(tmp_path)
    yield app
    with app.app_context():
        db.engine.dispose()


def _basic(app: Flask, password: str, username: str = "li") -> int:
    creds = base64.b64encode(f"{username}:{password}".encode()).decode()
    return app.test_client().get("/o/formList",
                                 headers={"Authorization": f"Basic {creds}"}).status_code


def _change(app: Flask, change) -> None:
    with app.app_context():
        change(db.session.scalar(sa.select(User).where(User.username == "li")))
        db.session.commit()


def test_a_verified_password_is_not_hashed_again(app, scrypt_calls):
    assert [_basic(app, PASSWORD) for _ in range(5)] == [200] * 5
    assert len(scrypt_calls) == 1


def test_a_wrong_password_never_hits(app, scrypt_calls):
    assert _basic(app, PASSWORD) == 200
    assert [_basic(app, "wrong") for _ in range(3)] == [401] * 3
    assert len(scrypt_calls) == 4  # every wrong guess pays the full check
    assert _basic(app, PASSWORD, username="LI") == 401  # another username is another key


def test_a_password_change_ends_it(app, scrypt_calls):
    assert _basic(app, PASSWORD) == 200
    _change(app, lambda user: user.set_password("a new password"))
    assert _basic(app, PASSWORD) == 401  # the old one is checked again, and refused
    assert _basic(app, "a new password") == 200
    assert _basic(app, "a new password") == 200
    assert len(scrypt_calls) == 3


def test_deactivation_ends_it(app, scrypt_calls):
    assert _basic(app, PASSWORD) == 200
    _change(app, lambda user: users.set_active(user, False))
    assert _basic(app, PASSWORD) == 401
    _change(app, lambda user: users.set_active(user, True))
    assert _basic(app, PASSWORD) == 200
    assert len(scrypt_calls) == 3  # re-activated: verified afresh


def test_it_expires(app, scrypt_calls, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(logins.time, "monotonic", lambda: clock[0])
    assert _basic(app, PASSWORD) == 200
    clock[0] += app.config["BASIC_AUTH_CACHE_S"] - 1
    assert _basic(app, PASSWORD) == 200
    assert len(scrypt_calls) == 1
    clock[0] += 2
    assert _basic(app, PASSWORD) == 200
    assert len(scrypt_calls) == 2


def test_zero_seconds_turns_it_off(tmp_path, scrypt_calls):
    app = _app(tmp_path, BASIC_AUTH_CACHE_S=0)
    assert [_basic(app, PASSWORD) for _ in range(3)] == [200] * 3
    assert len(scrypt_calls) == 3


def test_the_login_page_always_checks(app, scrypt_calls):
    for _ in range(2):
        assert app.test_client().post(
            "/login", data={"username": "li", "password": PASSWORD}).status_code == 302
    assert len(scrypt_calls) == 2


def test_the_password_is_not_kept(app):
    assert _basic(app, PASSWORD) == 200
    cache = app.extensions["doorstep.basic_cache"]
    kept = repr(cache._entries)
    assert PASSWORD not in kept and "li" not in kept


def test_the_cache_stays_bounded(app, monkeypatch):
    monkeypatch.setattr(logins.BasicCache, "MAX_ENTRIES", 3)
    cache = logins.BasicCache(60)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "li"))
        for n in range(5):
            cache.remember(user, f"p{n}")
        assert len(cache._entries) == 3
        assert cache.verified(user, "p4") and not cache.verified(user, "p0")
