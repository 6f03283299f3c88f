"""`doorstep backup` and `doorstep restore`: the database and the submission store together."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli.appcontext import with_appcontext
from server.cli.errors import service_errors


@click.command("backup")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(destination: Path) -> None:
    """Write a consistent backup (database + stored attachments) into DESTINATION."""
    from server.services import backup

    with service_errors():
        path = backup.create_backup(destination)
    click.echo(f"backup written: {path} ({path.stat().st_size} bytes)")


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore_command(archive: Path, force: bool) -> None:
    """Restore ARCHIVE (made by `doorstep backup`); stop the server first."""
    from server.services import backup

    with service_errors():
        manifest = backup.restore_backup(archive, force=force)
    click.echo(f"restored backup of {manifest['created']} "
               f"(schema {manifest['schema_revision']}, {len(manifest['files'])} files)")


COMMANDS = (backup_command, restore_command)
