"""HTTP Basic submissions as cheap as the token URL: a credential verified moments ago is read
with one Core query on the request's one connection (logins.remembered_basic), never the ORM
user; anything else goes the full way, with the same answers (issue 13, item 3)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from server.extensions import db
from server.models import Role, User
from server.services import users
from tests.support.app import PASSWORD, make_app, upgrade
from tests.support.household_form import add_household_form, household_instance


@pytest.fixture
def app(tmp_path) -> Iterator[Flask]:
    """No app context held by the test: each request gets its own, as on a server."""
    app = make_app(tmp_path, LOGIN_LIMIT_PER_ACCOUNT="3 per 15 minutes")
    upgrade(app)
    with app.app_context():
        users.create_user("li", Role.COORDINATOR, password=PASSWORD)
        users.create_user("wang", Role.SUPERVISOR, password=PASSWORD)
        add_household_form()
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def _submit(app: Flask, password: str = PASSWORD, username: str = "li") -> int:
    creds = base64.b64encode(f"{username}:{password}".encode()).decode()
    xml = household_instance(persons=1)
    return app.test_client().post(
        "/o/submission", content_type="multipart/form-data",
        data={"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")},
        headers={"Authorization": f"Basic {creds}", "X-OpenRosa-Version": "1.0"}).status_code


def _change(app: Flask, change) -> None:
    with app.app_context():
        change(db.session.scalar(sa.select(User).where(User.username == "li")))
        db.session.commit()


def test_a_remembered_credential_loads_no_user_and_takes_one_connection(app, scrypt_calls):
    assert _submit(app) == 201
    loaded, checkouts = [], []

    def load(*args):
        loaded.append(1)

    def checkout(*args):
        checkouts.append(1)

    with app.app_context():
        engine = db.engine
    sa.event.listen(User, "load", load)
    sa.event.listen(engine, "checkout", checkout)
    try:
        assert _submit(app) == 201
    finally:
        sa.event.remove(User, "load", load)
        sa.event.remove(engine, "checkout", checkout)
    assert loaded == []
    assert len(checkouts) == 1
    assert len(scrypt_calls) == 1


def test_a_password_change_ends_it(app, scrypt_calls):
    assert _submit(app) == 201
    _change(app, lambda user: user.set_password("a new password"))
    assert _submit(app) == 401
    assert _submit(app, "a new password") == 201
    assert _submit(app, "a new password") == 201
    assert len(scrypt_calls) == 3


def test_deactivation_ends_it(app):
    assert _submit(app) == 201
    _change(app, lambda user: users.set_active(user, False))
    assert _submit(app) == 401


def test_a_throttled_account_is_refused_even_when_remembered(app):
    assert _submit(app) == 201
    assert [_submit(app, "wrong") for _ in range(3)] == [401] * 3
    assert _submit(app) == 429


def test_a_remembered_supervisor_is_still_refused(app, scrypt_calls):
    assert [_submit(app, username="wang") for _ in range(2)] == [403] * 2
    assert len(scrypt_calls) == 1  # remembered, and refused for the role each time


def test_a_wrong_password_is_never_remembered(app, scrypt_calls):
    assert _submit(app) == 201
    assert [_submit(app, "wrong") for _ in range(2)] == [401] * 2
    assert len(scrypt_calls) == 3


def test_a_remembered_or_token_submission_makes_no_orm_session(app, monkeypatch):
    """Neither needs the ORM: ingest no longer makes a session only to find none open."""
    from server.services import device_links

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "li"))
        token = device_links.create(user, device_links.COLLECT)
        db.session.commit()
    assert _submit(app) == 201
    made = []
    registry = db.session.registry
    real = registry.createfunc
    monkeypatch.setattr(registry, "createfunc", lambda: made.append(1) or real())
    assert _submit(app) == 201
    xml = household_instance(persons=1)
    assert app.test_client().post(
        f"/o/{token}/submission", content_type="multipart/form-data",
        data={"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")},
        headers={"X-OpenRosa-Version": "1.0"}).status_code == 201
    assert made == []
