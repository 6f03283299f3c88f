"""The `doorstep` entry point: FlaskGroup around create_app, start-up errors as one line."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from server import create_app
from server.config import StartupError


def _create_app() -> Flask:
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
