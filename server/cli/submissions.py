"""`doorstep submissions reprocess`: replay the processing pipeline from raw submissions."""

from __future__ import annotations

import click

from server.cli.appcontext import with_appcontext


@click.group("submissions", help="Stored submissions: processing and replay.")
def submissions_cli() -> None:
    pass


@submissions_cli.command("reprocess")
@click.option("--form", "form_id", default=None, help="Only this form (its XML form id).")
@click.option("--all", "everything", is_flag=True,
              help="Replay every submission, not only those whose processing failed.")
@with_appcontext
def reprocess_command(form_id: str | None, everything: bool) -> None:
    """Replay processing (entities, visits …) from the stored raw submissions."""
    from server.services.processing import pipeline

    marked = pipeline.reprocess(form_id, everything)
    counts = pipeline.process_pending()
    click.echo(f"marked {marked}; processed: {counts['done']} done, {counts['error']} errors")


COMMANDS = (submissions_cli,)
