"""`doorstep forms …`: upload, publish and list XLSForms."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli.appcontext import with_appcontext
from server.cli.errors import service_errors


@click.group("forms", help="Upload and publish XLSForms.")
def forms_cli() -> None:
    pass


@forms_cli.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--media", "media", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A media file the form references (repeatable).")
@click.option("--draft", is_flag=True, help="Upload as a draft without publishing.")
@with_appcontext
def publish_command(file: Path, media: tuple[Path, ...], draft: bool):
    """Upload FILE (an XLSForm) and publish it; prints the form id, version and warnings."""
    from server.services.forms import lifecycle

    with service_errors(f"{file.name}: "):
        result = lifecycle.upload(file.read_bytes(), file.name, None,
                                  [(m.name, m.read_bytes()) for m in media])
        if not draft:
            lifecycle.publish(result.version)
        lifecycle.commit()
    v = result.version
    state = "draft" if draft else "published"
    click.echo(f"{v.form.xml_form_id} {v.version} {state} {v.md5}")
    for warning in result.warnings:
        click.echo(f"warning: {warning}")


@forms_cli.command("list")
@with_appcontext
def list_command():
    """List forms, their versions and states."""
    from server.services.forms import lifecycle

    for form in lifecycle.list_forms():
        click.echo(f"{form.xml_form_id} [{form.state}] {form.title}")
        for v in form.versions:
            click.echo(f"  {v.version} {v.state} {v.md5}")


COMMANDS = (forms_cli,)
