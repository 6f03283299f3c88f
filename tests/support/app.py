"""An app on a real SQLite file (or the PostgreSQL server the tests were given), migrated."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from server import create_app
from server.extensions import init_migrate

#: Every test user's password (tests/conftest.py `make_user`).
PASSWORD = "correct horse battery"
#: A PostgreSQL server for the PostgreSQL tests ("" skips them): see tests/conftest.py.
POSTGRES_URL = os.environ.get("DOORSTEP_TEST_POSTGRES_URL", "")


def make_app(tmp_path: Path, **config) -> Flask:
    settings = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'doorstep.sqlite3'}",
        "SECRET_KEY": "test-only",
        "PROCESS_IN_BACKGROUND": False,
    }
    settings.update(config)
    app = create_app(settings)
    init_migrate(app)  # tests migrate their databases (the app binds it only where needed)
    return app


def upgrade(app: Flask) -> None:
    """Run the migrations to the newest schema."""
    from flask_migrate import upgrade as alembic_upgrade

    init_migrate(app)
    with app.app_context():
        alembic_upgrade(directory=app.config["MIGRATIONS_DIR"])
