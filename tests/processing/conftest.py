"""An app on SQLite or on PostgreSQL, with a building, a round holding today and a form."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from server.extensions import db
from tests.support.app import make_app, upgrade
from tests.support.processing import place


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def placed(request, tmp_path) -> Iterator[Flask]:
    config = {"PROCESSING_BATCH_SIZE": 10, "PROCESSING_BATCH_MS": 60_000}
    if request.param == "postgresql":
        config["SQLALCHEMY_DATABASE_URI"] = request.getfixturevalue("postgres_url")
    app = make_app(tmp_path, **config)
    upgrade(app)
    with app.app_context():
        place()
        yield app
        db.session.remove()
        db.engine.dispose()
