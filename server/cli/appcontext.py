"""The app behind a command, built only when a command runs.

`with_appcontext` is Flask's (`flask.cli.with_appcontext`), imported when the command runs, so
that importing a command module loads click alone and `doorstep … --help` never loads Flask.
The command line's ScriptInfo (Flask's holder of the app factory) hangs on the root context.
Commands get the app without its web side (`create_app(web=False)`: no blueprints, no OData
engine, no request hooks); those that serve it ask for `with_appcontext(web=True)`, as do
Flask's own `run`, `shell` and `routes` and Flask-Migrate's `db`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

import server
from server.config import StartupError

if TYPE_CHECKING:
    from flask import Flask
    from flask.cli import ScriptInfo


def create_app(web: bool = True) -> Flask:
    """The app, or one line on stderr and exit status 2 when it cannot start."""
    try:
        return server.create_app(web=web)
    except StartupError as err:
        click.echo(f"doorstep: {err}", err=True)
        sys.exit(2)


def create_command_app() -> Flask:
    """The app a command needs: models and settings, not the pages (server.create_app)."""
    return create_app(web=False)


def script_info(ctx: click.Context) -> ScriptInfo:
    """The root context's ScriptInfo (made on first use), which Flask's commands and
    with_appcontext find with ctx.ensure_object(ScriptInfo)."""
    from flask.cli import ScriptInfo

    root = ctx.find_root()
    if not isinstance(root.obj, ScriptInfo):
        root.obj = ScriptInfo(create_app=create_app, set_debug_flag=True)
    return root.obj


def with_appcontext(f: Callable[..., Any] | None = None, *, web: bool = False) -> Any:
    """flask.cli.with_appcontext, with Flask imported when the command runs and the app built
    without its web side unless `web` (an app given by the caller, e.g. a test's, is kept)."""
    if f is None:
        return functools.partial(with_appcontext, web=web)

    @functools.wraps(f)
    def run(*args: Any, **kwargs: Any) -> Any:
        from flask.cli import with_appcontext as flask_with_appcontext

        info = script_info(click.get_current_context())
        if not web and info.create_app is create_app:
            info.create_app = create_command_app
        return flask_with_appcontext(f)(*args, **kwargs)

    return run
