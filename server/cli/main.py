"""The `doorstep` entry point: the commands of server/cli and Flask's, start-up errors as one line.

The command line is Flask's (`flask.cli.FlaskGroup`: run, shell, routes, --app, --debug,
--env-file, --version) with one difference: `doorstep --help` and `doorstep <group> --help` load
click and the command modules only — no Flask, models, SQLAlchemy, geo or migration engine.
The app is built when a command runs (server/cli/appcontext.py); Flask's own commands and
Flask-Migrate's `db` group are listed by name and imported when they are used.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from server import cli
from server.cli.appcontext import script_info
from server.config import StartupError


class LazyCommand(click.Command):
    """A command listed by name and short help; `target` ("module:attribute") is imported
    only when the command is resolved to run or to show its own help."""

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(name, help=help)
        self.target = target

    def load(self, ctx: click.Context | None = None) -> click.Command:
        if ctx is not None:
            script_info(ctx)  # Flask's commands find the app factory there
        module, attribute = self.target.split(":")
        return getattr(importlib.import_module(module), attribute)


#: Commands from elsewhere: Flask's (FlaskGroup's defaults) and Flask-Migrate's (Migrate.init_app).
LAZY = (
    LazyCommand("db", "server.cli.migrations:db", "Perform database migrations."),
    LazyCommand("routes", "flask.cli:routes_command", "Show the routes for the app."),
    LazyCommand("run", "flask.cli:run_command", "Run a development server."),
    LazyCommand("shell", "flask.cli:shell_command", "Run a shell in the app context."),
)


# FlaskGroup's options, whose callbacks import Flask only when there is something to do.


def _env_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    dotenv = importlib.util.find_spec("dotenv") is not None
    if not dotenv and value is not None:
        raise click.BadParameter("python-dotenv must be installed to load an env file.",
                                 ctx=ctx, param=param)
    if dotenv or value is not None or any(Path(f).is_file() for f in (".env", ".flaskenv")):
        from flask.cli import load_dotenv

        load_dotenv(value, load_defaults=script_info(ctx).load_dotenv_defaults)
    return value


def _set_app(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        script_info(ctx).app_import_path = value
    return value


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool | None:
    if ctx.get_parameter_source(param.name) in (ParameterSource.DEFAULT,
                                                ParameterSource.DEFAULT_MAP, None):
        return None
    os.environ["FLASK_DEBUG"] = "1" if value else "0"  # read by create_app's Flask
    return value


def _version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from flask.cli import get_version

        get_version(ctx, param, value)


OPTIONS = [
    click.Option(["-e", "--env-file"], type=click.Path(exists=True, dir_okay=False),
                 is_eager=True, expose_value=False, callback=_env_file,
                 help="Load environment variables from this file, taking precedence over those "
                      "set by '.env' and '.flaskenv'. Variables set directly in the environment "
                      "take highest precedence. python-dotenv must be installed."),
    click.Option(["-A", "--app"], metavar="IMPORT", is_eager=True, expose_value=False,
                 callback=_set_app,
                 help="The Flask application or factory function to load, in the form "
                      "'module:name' (doorstep builds its own app: create_app)."),
    click.Option(["--debug/--no-debug"], expose_value=False, callback=_set_debug,
                 help="Set debug mode."),
    click.Option(["--version"], is_flag=True, is_eager=True, expose_value=False,
                 callback=_version, help="Show the Flask version."),
]  # fmt: skip


class DoorstepGroup(click.Group):
    """The `doorstep` command: every command listed and resolved without loading Flask or
    building the app."""

    def __init__(self, **extra) -> None:
        extra.setdefault("context_settings", {}).setdefault("auto_envvar_prefix", "FLASK")
        super().__init__(params=list(OPTIONS), **extra)
        for command in (*cli.commands(), *LAZY):
            self.add_command(command)

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        # As FlaskGroup: app.run() in an imported module must not start a server.
        os.environ["FLASK_RUN_FROM_CLI"] = "true"
        return super().make_context(info_name, args, parent=parent, **extra)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, LazyCommand):
            command = command.load(ctx)
        return name, command, rest


def group() -> DoorstepGroup:
    return DoorstepGroup(help="Doorstep field survey server.")


def main() -> None:
    try:
        group().main(prog_name="doorstep")
    except StartupError as err:
        click.echo(f"doorstep: {err}", err=True)
        sys.exit(2)
    finally:
        # The interpreter's last garbage collection would walk every object the app made (the
        # models, SQLAlchemy's and Flask's: ~0.2 s of CPU, a quarter of a light command) only to
        # free memory the process gives back anyway. Atexit handlers still run.
        gc.freeze()
