"""An app on SQLite or on PostgreSQL, with a building, a round holding today and a form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from server.extensions import db
from tests.support.app import make_app, upgrade
from tests.support.processing import place


def _placed(tmp_path: Path, **config) -> Iterator[Flask]:
    app = make_app(tmp_path, PROCESSING_BATCH_SIZE=10, PROCESSING_BATCH_MS=60_000, **config)
    upgrade(app)
    with app.app_context():
        place()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def placed(request, tmp_path) -> Iterator[Flask]:
    if request.param == "postgresql":
        yield from _placed(tmp_path, SQLALCHEMY_DATABASE_URI=request.getfixturevalue(
            "postgres_url"))
    else:
        yield from _placed(tmp_path)


@pytest.fixture
def pg_placed(postgres_url, tmp_path) -> Iterator[Flask]:
    """PostgreSQL only: where several workers share the queue."""
    yield from _placed(tmp_path, SQLALCHEMY_DATABASE_URI=postgres_url)
