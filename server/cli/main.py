"""The `doorstep` entry point: FlaskGroup around create_app, start-up errors as one line.

The commands are known without building the app, so `doorstep --help` and `doorstep <group>
--help` import click, Flask and the command modules only (no models, SQLAlchemy, geo or
migration engines); the app is built when a command runs (`with_appcontext`). Flask-Migrate's
`db` group, which imports alembic, is listed by name and loaded when it is used.
"""

from __future__ import annotations

import importlib
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from server import cli, create_app
from server.config import StartupError


def _create_app() -> Flask:
    try:
        return create_app()
    except StartupError as err:
        click.echo(f"doorstep: {err}", err=True)
        sys.exit(2)


class LazyCommand(click.Command):
    """A command listed by name and short help; `target` ("module:attribute") is imported
    only when the command is resolved to run or to show its own help."""

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(name, help=help)
        self.target = target

    def load(self) -> click.Command:
        module, attribute = self.target.split(":")
        return getattr(importlib.import_module(module), attribute)


#: Commands the app adds that come from elsewhere: Flask-Migrate's (see Migrate.init_app).
LAZY = (LazyCommand("db", "flask_migrate.cli:db", "Perform database migrations."),)


class DoorstepGroup(FlaskGroup):
    """FlaskGroup (run, shell, routes, --app, --debug, …) holding the app's commands itself,
    so listing and resolving them does not load the app."""

    def __init__(self, **extra) -> None:
        super().__init__(create_app=_create_app, **extra)
        for command in (*cli.commands(), *LAZY):
            self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return sorted(self.commands)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, LazyCommand):
            command = command.load()
        return name, command, rest


def group() -> DoorstepGroup:
    return DoorstepGroup(help="Doorstep field survey server.")


def main() -> None:
    try:
        group().main(prog_name="doorstep")
    except StartupError as err:
        click.echo(f"doorstep: {err}", err=True)
        sys.exit(2)
