"""Password guessing is throttled per account and per address on the login page and on HTTP
Basic alike, every wrong password is audited, and an unknown username costs the same hash
check as a known one (issue 14, finding 11)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from server import StartupError
from server.extensions import db
from server.models import AuditEvent, Role, User
from server.services import logins, users
from tests.support.app import PASSWORD, make_app, upgrade

LIMITS = {"LOGIN_LIMIT_PER_ACCOUNT": "3 per minute", "LOGIN_LIMIT_PER_ADDRESS": "5 per minute"}


@pytest.fixture
def small_limits(tmp_path) -> Iterator[Flask]:
    """Small limits, and no app context held by the test: each request gets its own (flask-login
    keeps the user in `g`, which a held context would share between clients)."""
    app = make_app(tmp_path, **LIMITS)
    upgrade(app)
    with app.app_context():
        for name in ("li", "wang", "zhao"):
            users.create_user(name, Role.COORDINATOR, password=PASSWORD)
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def _page(app, username: str, password: str, addr: str = "10.0.0.1") -> int:
    client = app.test_client()
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr}).status_code


def _basic(app, username: str, password: str, addr: str = "10.0.0.1") -> int:
    creds = base64.b64encode(f"{username}:{password}".encode()).decode()
    return app.test_client().get("/o/formList", headers={"Authorization": f"Basic {creds}"},
                                 environ_base={"REMOTE_ADDR": addr}).status_code


OK = {_page: 302, _basic: 200}


@pytest.mark.parametrize("guess", [_page, _basic], ids=["login page", "HTTP Basic"])
@pytest.mark.parametrize("check", [_page, _basic], ids=["then page", "then Basic"])
def test_wrong_passwords_lock_the_account_for_both_doors(small_limits, guess, check):
    app = small_limits
    for _ in range(3):
        assert guess(app, "li", "wrong") == 401
    assert check(app, "li", PASSWORD, addr="10.0.0.2") == 429  # the right one too, elsewhere
    assert check(app, "wang", PASSWORD) == OK[check]  # other accounts are not locked


def test_wrong_passwords_from_one_address_lock_that_address(small_limits):
    app = small_limits
    for n in range(5):
        assert _page(app, f"nobody{n}", "wrong") == 401
    assert _page(app, "zhao", PASSWORD) == 429
    assert _basic(app, "zhao", PASSWORD) == 429
    assert _page(app, "zhao", PASSWORD, addr="10.0.0.9") == 302


def test_successes_do_not_count(small_limits):
    for _ in range(6):
        assert _page(small_limits, "li", PASSWORD) == 302
        assert _basic(small_limits, "li", PASSWORD) == 200


def test_the_refusal_says_when_to_try_again(small_limits):
    for _ in range(3):
        _page(small_limits, "li", "wrong")
    page = small_limits.test_client().post("/login?lang=en",
                                           data={"username": "li", "password": PASSWORD})
    assert page.status_code == 429
    assert 0 < int(page.headers["Retry-After"]) <= 61
    assert "Too many failed logins" in page.text
    zh = small_limits.test_client().post("/login", data={"username": "li", "password": "x"})
    assert "登录失败次数过多" in zh.text
    basic = small_limits.test_client().get(
        "/o/formList", headers={"Authorization": "Basic " + base64.b64encode(b"li:x").decode()})
    assert basic.status_code == 429 and basic.headers["Retry-After"]
    assert b"Too many failed logins" in basic.data


@pytest.mark.parametrize(
    ("username", "door", "object_id"),
    [("li", _page, True), ("nobody", _page, False), ("li", _basic, True),
     ("nobody", _basic, False)],
)
def test_every_failure_is_audited(small_limits, username, door, object_id):
    door(small_limits, username, "wrong")
    with small_limits.app_context():
        event = db.session.scalar(sa.select(AuditEvent)
                                  .where(AuditEvent.action == "login.failed"))
    assert event.detail == {"username": username,
                            "via": "page" if door is _page else "basic"}
    assert event.remote_addr == "10.0.0.1"
    assert bool(event.object_id) is object_id
    assert "wrong" not in str(event.detail)


@pytest.mark.parametrize("who", ["unknown", "inactive", "known"])
def test_one_hash_check_whoever_asks(small_limits, monkeypatch, who):
    """Timing must not tell which usernames exist: unknown and inactive users cost one
    password-hash check, like a known user's wrong password."""
    calls = []
    real = logins.check_password_hash
    monkeypatch.setattr(logins, "check_password_hash",
                        lambda h, p: calls.append(h) or real(h, p))
    if who == "inactive":
        with small_limits.app_context():
            users.set_active(db.session.scalar(sa.select(User).where(User.username == "wang")),
                             False)
            db.session.commit()
    name = {"unknown": "nobody", "inactive": "wang", "known": "li"}[who]
    assert _page(small_limits, name, PASSWORD if who == "inactive" else "wrong") == 401
    assert len(calls) == 1 and calls[0].startswith("scrypt:")


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("LOGIN_LIMIT_PER_ACCOUNT", "lots", "is not a rate limit"),
        ("LOGIN_LIMIT_PER_ADDRESS", "5 per fortnight", "is not a rate limit"),
        ("LOGIN_LIMIT_STORAGE_URI", "nosuch://x", "nosuch"),
    ],
)
def test_a_bad_login_setting_stops_start_up(tmp_path, setting, value, message):
    with pytest.raises(StartupError, match=rf"^{setting}='{value}'.*{message}"):
        make_app(tmp_path, **{setting: value})
