"""Doorstep: field survey server for door-to-door registration."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from server.config import INSTANCE_PATH_ENV, StartupError, load_config

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["StartupError", "create_app"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application; no database work happens here (migrations run via the CLI)."""
    from flask import Flask  # `import server` stays light: `doorstep --help` never loads Flask

    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(INSTANCE_PATH_ENV)
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    load_config(app, test_config)

    # The features load with the app, not on `import server`: tools import server.config alone.
    from server import (
        access,
        bodies,
        csrf,
        headers,
        i18n,
        localtime,
        params,
        redaction,
        sessions,
        static_files,
    )
    from server.extensions import db, init_limiter, login_manager  # (see above)

    redaction.install()
    sessions.init_app(app)
    db.init_app(app)
    login_manager.init_app(app)
    init_limiter(app)
    i18n.init_app(app)
    localtime.init_app(app)
    bodies.init_app(app)  # before the access rules: a body too large is refused first
    access.init_app(app)
    csrf.init_app(app)
    headers.init_app(app)
    params.init_app(app)
    static_files.init_app(app)

    from server.web import register_blueprints  # (see above)

    register_blueprints(app)

    from server import cli  # (see above)

    cli.init_app(app)
    return app
