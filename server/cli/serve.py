"""`doorstep demo` and `doorstep serve`: start a server (and the processing worker with it)."""

from __future__ import annotations

import click

from server.cli.appcontext import with_appcontext
from server.config import StartupError


def check_database() -> None:
    """Fail fast with one line when the database cannot be reached."""
    import sqlalchemy as sa

    from server.extensions import db

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
    from flask import current_app
    from flask_migrate import upgrade

    from server.extensions import init_migrate  # (with the command: it loads the models)

    check_database()
    init_migrate(current_app)
    upgrade(directory=current_app.config["MIGRATIONS_DIR"])


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--seed", default=2016, show_default=True, type=int)
@click.option("--buildings", default=2000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Load the demo township and exit.")
@with_appcontext(web=True)
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
@with_appcontext(web=True)
def serve_command(host: str, port: int, threads: int, workers: int):
    """Serve with Granian (a production HTTP server; the app through WSGI) on the given address."""
    check_database()
    serve(host, port, threads, workers)


def serve(host: str, port: int, threads: int = 8, workers: int = 1) -> None:
    from flask import current_app

    from server import serving

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    serving.serve(app, host, port, threads, workers, say=lambda line: click.echo(line, err=True))


COMMANDS = (demo_command, serve_command)
