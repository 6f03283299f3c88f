"""Fixtures for the reports' tests: the hand-worked township of tests/support/reports.py."""

from __future__ import annotations

import pytest

from tests.support.reports import Scenario


@pytest.fixture
def plan(app, make_user) -> Scenario:
    """The scenario's submissions sent and reviewed (SQLite)."""
    return Scenario(make_user).run()


@pytest.fixture
def pg_plan(make_user_pg):
    """The same scenario on a fresh PostgreSQL database."""
    return Scenario(make_user_pg).run()


@pytest.fixture
def make_user_pg(postgres_url, tmp_path):
    from server.extensions import db
    from server.services import users
    from tests.support.app import PASSWORD, make_app, upgrade

    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=postgres_url)
    upgrade(app)
    with app.app_context():

        def factory(role, username=None, areas=()):
            user, _ = users.create_user(username, role, area_codes=list(areas),
                                        password=PASSWORD)
            db.session.commit()
            return user

        factory.app = app
        yield factory
        db.session.remove()
        db.engine.dispose()
