"""Extension objects, bound to the app in create_app with init_app."""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()


def init_migrate(app: Flask) -> None:
    """Bind Flask-Migrate where migrations run (`doorstep db`, `serve`, `demo`, tests): it
    imports alembic and mako (~0.4 s), which no other command needs. Idempotent."""
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    Migrate(app, db, directory=app.config["MIGRATIONS_DIR"], render_as_batch=True)


def init_limiter(app: Flask) -> Any:
    """The counters of failed logins (server.services.logins), with `limits`, the engine of
    Flask-Limiter: its storage backends and moving window. Flask-Limiter itself is not wired
    in: its per-request hooks cost ~0.9 ms on every request (measured on /healthz), ingest
    included, and only logins are counted."""
    from limits import parse
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    from server.config import StartupError  # (the config module imports no extension)

    for name in ("LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_ADDRESS"):
        try:
            parse(app.config[name])
        except ValueError as err:
            raise StartupError(f"{name}={app.config[name]!r} is not a rate limit such as "
                               f"'10 per 15 minutes'") from err
    uri = app.config["LOGIN_LIMIT_STORAGE_URI"]
    try:
        storage = storage_from_string(uri)
    except (ConfigurationError, ValueError) as err:
        raise StartupError(f"LOGIN_LIMIT_STORAGE_URI={uri!r}: {err}") from err
    limiter = MovingWindowRateLimiter(storage)
    app.extensions["doorstep.login_limiter"] = limiter
    return limiter


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL for concurrent readers, foreign keys on, and FULL sync so a commit is durable."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    _owner_only(cursor)
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _owner_only(cursor) -> None:
    """The database file readable by its owner only (0600), before the WAL and shared-memory
    files are made: SQLite gives those the main file's mode."""
    for _seq, name, path in cursor.execute("PRAGMA database_list").fetchall():
        if name != "main" or not path:
            continue  # in memory
        for each in (path, f"{path}-wal", f"{path}-shm"):
            try:
                if os.stat(each).st_mode & 0o077:
                    os.chmod(each, 0o600)
            except FileNotFoundError:
                pass
