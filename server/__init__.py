"""Doorstep: field survey server for door-to-door registration."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from server.config import INSTANCE_PATH_ENV, StartupError, load_config

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["StartupError", "create_app"]


def create_app(test_config: dict[str, Any] | None = None, *, web: bool = True) -> Flask:
    """Build the application; no database work happens here (migrations run via the CLI).

    `web=False` is the command line's app (server/cli/appcontext.py): settings, database,
    translations and local time, without the pages, APIs and request hooks, whose imports
    (every feature blueprint, the OData engine, …) a command that reads a few rows never uses.
    """
    # `import server` stays light: `doorstep --help` never loads Flask
    from server.lean import App

    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(INSTANCE_PATH_ENV)
    app = App(__name__, instance_path=instance_path, instance_relative_config=True)
    load_config(app, test_config)

    # The features load with the app, not on `import server`: tools import server.config alone.
    from server import i18n, localtime, redaction
    from server.extensions import db  # (see above)

    redaction.install()
    db.init_app(app)
    i18n.init_app(app)
    localtime.init_app(app)
    if web:
        _init_web(app)

    from server import cli  # (see above)

    cli.init_app(app)
    return app


def _init_web(app: Flask) -> None:
    """What only requests use: sessions, logins, the reader's language (Flask-Babel), body and
    access rules, headers, static files, and every feature's blueprint."""
    # Loaded here, not at the top, as in create_app: `import server` stays light.
    from server import (
        access,
        bodies,
        compression,
        csrf,
        headers,
        i18n,
        params,
        sessions,
        static_files,
    )
    from server.extensions import init_limiter, login_manager  # (see create_app)

    compression.init_app(app)  # first: its hook runs last, on the body as sent
    sessions.init_app(app)
    login_manager.init_app(app)
    init_limiter(app)
    i18n.init_requests(app)
    bodies.init_app(app)  # before the access rules: a body too large is refused first
    access.init_app(app)
    csrf.init_app(app)
    headers.init_app(app)
    params.init_app(app)
    static_files.init_app(app)

    from server.web import register_blueprints  # (see create_app)

    register_blueprints(app)
