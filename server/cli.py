"""The `doorstep` command: Flask's CLI group plus the commands each part registers."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from server.config import StartupError
from server.extensions import db


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


def check_database() -> None:
    """Fail fast with one line when the database cannot be reached."""
    url = db.engine.url
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as err:  # any driver error means the same thing to the user
        reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
        raise StartupError(
            f"cannot reach database {url.render_as_string(hide_password=True)}: {reason}"
        ) from err


def upgrade_database() -> None:
    from flask_migrate import upgrade

    check_database()
    upgrade(directory=current_app.config["MIGRATIONS_DIR"])


@click.group("users", help="Create and manage user accounts.")
def users_cli() -> None:
    pass


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, help="admin, designer, supervisor or coordinator")
@click.option("--area", "areas", multiple=True, help="Area code (repeatable).")
@click.option("--name", "display_name", default="", help="Display name.")
@with_appcontext
def create_user_command(username: str, role: str, areas: tuple[str, ...], display_name: str):
    """Create a user; the generated password is printed once and never stored in clear."""
    from server.services import users

    try:
        _, password = users.create_user(
            username, role, display_name=display_name, area_codes=list(areas)
        )
    except users.UserError as err:
        raise click.ClickException(str(err)) from err
    db.session.commit()
    click.echo(f"created {role} {username}; password: {password}")


@users_cli.command("reset-password")
@click.argument("username")
@with_appcontext
def reset_password_command(username: str):
    from server.services import users

    try:
        password = users.reset_password(username)
    except users.UserError as err:
        raise click.ClickException(str(err)) from err
    db.session.commit()
    click.echo(f"new password for {username}: {password}")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--seed", default=2016, show_default=True, type=int)
@click.option("--buildings", default=2000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Load the demo township and exit.")
@with_appcontext
def demo_command(host: str, port: int, seed: int, buildings: int, no_serve: bool):
    """Upgrade the database, load the demo township if absent, and start the server."""
    from server.services import demo

    upgrade_database()
    created = demo.load_demo(seed=seed, buildings=buildings)
    if created is None:
        click.echo("demo township already loaded (passwords were printed when it was created;")
        click.echo("  `doorstep users reset-password admin` sets a new one)")
    else:
        click.echo("demo township loaded; log in with (shown once):")
        for username, role, password in created:
            click.echo(f"  {role:<12} {username:<12} {password}")
    if not no_serve:
        serve(host, port)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int,
              help="Processes sharing the port (one core each).")
@with_appcontext
def serve_command(host: str, port: int, threads: int, workers: int):
    """Serve with waitress (a production WSGI server) on the given address."""
    check_database()
    serve(host, port, threads, workers)


def serve(host: str, port: int, threads: int = 8, workers: int = 1) -> None:
    from server import serving

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    serving.serve(app, host, port, threads, workers, say=lambda line: click.echo(line, err=True))


def init_app(app: Flask) -> None:
    from server.services import backup

    backup.init_app(app)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(serve_command)
