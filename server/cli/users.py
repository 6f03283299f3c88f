"""`doorstep users …`: accounts from the command line (the first admin, lost passwords)."""

from __future__ import annotations

import click

from server.cli.appcontext import with_appcontext
from server.cli.errors import service_errors


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
    from server.extensions import db
    from server.services import users

    with service_errors():
        _, password = users.create_user(
            username, role, display_name=display_name, area_codes=list(areas)
        )
    db.session.commit()
    click.echo(f"created {role} {username}; password: {password}")


@users_cli.command("reset-password")
@click.argument("username")
@with_appcontext
def reset_password_command(username: str):
    from server.extensions import db
    from server.services import users

    with service_errors():
        password = users.reset_password(username)
    db.session.commit()
    click.echo(f"new password for {username}: {password}")


@users_cli.command("handover")
@click.argument("leaver")
@click.argument("successor")
@with_appcontext
def handover_command(leaver: str, successor: str):
    """Give SUCCESSOR the areas and open work of LEAVER, who is deactivated (辞职替补)."""
    from server.extensions import db
    from server.services import handover, users

    try:
        done = handover.handover(leaver, successor)
    except users.UserError as err:
        raise click.ClickException(f"nothing changed: {err}") from err
    db.session.commit()
    click.echo(f"{done.leaver} handed over to {done.successor}: areas "
               f"{', '.join(done.areas) or 'none'} ({done.streets} streets, {done.unvisited} "
               f"unvisited buildings), {done.returned} returned submissions to correct; "
               f"{done.leaver} is deactivated and their device link revoked")


COMMANDS = (users_cli,)
