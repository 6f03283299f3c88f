"""Migrations upgrade and downgrade cleanly on a real SQLite file and on PostgreSQL + PostGIS."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from server.extensions import db
from tests.support.app import make_app

EXPECTED_TABLES = {
    "users", "areas", "buildings", "assignments", "rounds", "audit_events", "forms",
    "form_versions", "form_media", "submissions", "submission_attachments", "entities",
    "entity_versions", "visits", "building_coverage",
}


def _tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version", "spatial_ref_sys"}


def _round_trip(app):
    with app.app_context():
        directory = app.config["MIGRATIONS_DIR"]
        upgrade(directory=directory)
        assert _tables(db.engine) >= EXPECTED_TABLES
        downgrade(directory=directory, revision="base")
        assert _tables(db.engine) == set()
        upgrade(directory=directory)
        assert _tables(db.engine) >= EXPECTED_TABLES
        db.engine.dispose()


def test_sqlite_round_trip(tmp_path):
    _round_trip(make_app(tmp_path))
    assert (tmp_path / "doorstep.sqlite3").stat().st_size > 0


def test_models_match_migrations(tmp_path):
    """A model change without a migration fails here (alembic's own comparison)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    app = make_app(tmp_path)
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        db.engine.dispose()
    assert diff == []


@pytest.mark.postgres
def test_postgres_round_trip_with_postgis(tmp_path, postgres_url):
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=postgres_url)
    _round_trip(app)
    with app.app_context():
        with db.engine.connect() as conn:
            udt = conn.scalar(sa.text(
                "SELECT udt_name FROM information_schema.columns "
                "WHERE table_name = 'buildings' AND column_name = 'geom'"
            ))
        assert udt == "geometry"  # the generated PostGIS twin of the WKB footprint
        db.engine.dispose()
