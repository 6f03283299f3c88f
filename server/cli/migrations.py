"""`doorstep db …`: Flask-Migrate's commands, with Flask-Migrate bound to the app just before
they run (server.extensions.init_migrate), so that no other command imports alembic."""

from __future__ import annotations

import copy
import functools
from typing import Any

import click
from flask_migrate.cli import db as flask_migrate_db

from server.cli.appcontext import script_info

_set_options = flask_migrate_db.callback  # Flask-Migrate's own: keeps -d and -x for the commands
assert _set_options is not None


@functools.wraps(_set_options)
def _bind_then_set_options(*args: Any, **kwargs: Any) -> Any:
    from server.extensions import init_migrate  # (loads Flask and the models: only to run)

    init_migrate(script_info(click.get_current_context()).load_app())
    return _set_options(*args, **kwargs)


db = copy.copy(flask_migrate_db)
db.callback = _bind_then_set_options
