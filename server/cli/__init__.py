"""The `doorstep` command's commands (the entry point itself is server.cli.main).

One convention: the commands of a capability live in `server/cli/<capability>.py`, which lists
them in its COMMANDS; FEATURES below is the one ordered list of those modules. Command modules
import only click at the top and their services inside each command, so `doorstep --help` and
light commands never pay for the geo and form engines (nor, for help, Flask:
server/cli/appcontext.py). Services never import click.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flask import Flask

FEATURES = (
    "server.cli.serve",  # demo, serve
    "server.cli.users",
    "server.cli.forms",
    "server.cli.imports",  # areas, buildings
    "server.cli.submissions",
    "server.cli.rentals",  # rentals rebuild
    "server.cli.coverage",
    "server.cli.rounds",  # rounds create|list|edit|close, phases create|list|edit
    "server.cli.reports",  # reports build
    "server.cli.backup",  # backup, restore
)


def commands() -> list[click.Command]:
    """Every command, in FEATURES order; importing them loads click and Flask only."""
    return [command for name in FEATURES for command in importlib.import_module(name).COMMANDS]


def init_app(app: Flask) -> None:
    for command in commands():
        app.cli.add_command(command)
