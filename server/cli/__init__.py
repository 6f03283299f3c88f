"""The `doorstep` command: Flask's CLI group plus every command of the project.

One convention: the commands of a capability live in `server/cli/<capability>.py`, which lists
them in its COMMANDS; FEATURES below is the one ordered list of those modules. Command modules
import only click at the top and their services inside each command, so `doorstep --help` and
light commands never pay for the geo and form engines. Services never import click.
"""

from __future__ import annotations

import importlib
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from server.config import StartupError

FEATURES = (
    "server.cli.serve",  # demo, serve
    "server.cli.users",
    "server.cli.forms",
    "server.cli.imports",  # areas, buildings
    "server.cli.submissions",
    "server.cli.coverage",
    "server.cli.backup",  # backup, restore
)


def _create_app() -> Flask:
    from server import create_app

    try:
        return create_app()
    except StartupError as err:
        click.echo(f"doorstep: {err}", err=True)
        sys.exit(2)


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, help="Doorstep field survey server.")
    try:
        cli.main(prog_name="doorstep")
    except StartupError as err:
        click.echo(f"doorstep: {err}", err=True)
        sys.exit(2)


def init_app(app: Flask) -> None:
    for name in FEATURES:
        for command in importlib.import_module(name).COMMANDS:
            app.cli.add_command(command)
