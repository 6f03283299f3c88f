"""The review loop's queries (the latest decision per submission, the returned list in scope,
the correction replacing the original) on PostgreSQL: the same tests over a PostgreSQL app."""

from __future__ import annotations

import pytest

from server.extensions import db
from tests.openrosa.test_review_loop import (  # noqa: F401 (fixtures and tests run here again)
    sent,
    supervisor,
    test_opening_is_audited_and_the_correction_replaces_it,
    test_the_coordinator_sees_the_returned_one_and_no_one_else_does,
)
from tests.support.app import make_app, upgrade

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(tmp_path, postgres_url):
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=postgres_url)
    upgrade(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
