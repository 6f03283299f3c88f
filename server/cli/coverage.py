"""`doorstep coverage …`: recompute a round and export unvisited buildings."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli.appcontext import with_appcontext
from server.cli.errors import service_errors

EXPORT_FORMATS = ("csv", "xlsx", "geojson")  # server.services.coverage.exports.FORMATS


@click.group("coverage", help="Coverage of buildings per round: recompute and export.")
def coverage_cli() -> None:
    pass


def _round_option(round_id: int | None):
    from server.services.coverage import query

    with service_errors():
        return query.round_(round_id)


@coverage_cli.command("recompute")
@click.option("--round", "round_id", type=int, help="Round id (default: the current round).")
@click.option("--postgis", is_flag=True, help="Compute inside PostGIS (PostgreSQL only).")
@click.option("--no-rematch", is_flag=True, help="Keep each visit's stored building match.")
@with_appcontext
def recompute_command(round_id: int | None, postgis: bool, no_rematch: bool) -> None:
    """Rebuild a round's coverage from all its visits."""
    from gis.states import STATES
    from server.services.coverage import recompute

    rnd = _round_option(round_id)
    try:
        result = recompute.recompute(rnd.id, use_postgis=postgis, rematch=not no_rematch)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    c = result.counts
    click.echo(
        f"round {rnd.id} ({rnd.name}) recomputed {result.engine} in {result.seconds:.2f} s: "
        + ", ".join(f"{s} {c[s]}" for s in STATES)
        + f"; {c['total']} buildings; {result.rematched} visit matches changed"
    )


@coverage_cli.command("export")
@click.option("--coordinator", "coordinator_name", help="Coordinator's username.")
@click.option("--village", help="Village code.")
@click.option("--street", help="Street code.")
@click.option("--round", "round_id", type=int, help="Round id (default: the current round).")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File (default: stdout).")
@with_appcontext
def export_command(coordinator_name, village, street, round_id, fmt, output) -> None:
    """Unvisited buildings (in walking order) as CSV, XLSX or GeoJSON."""
    from server.services.coverage import exports, query

    with service_errors():
        f = query.filters(None, round_id=round_id, village=village, street=street,
                          coordinator_name=coordinator_name)
    records = exports.unvisited(f)
    data = exports.render(records, fmt, title=coordinator_name or street or "all")
    if output:
        Path(output).write_bytes(data)
        click.echo(f"{len(records)} unvisited buildings written to {output}", err=True)
    elif fmt == "xlsx":
        raise click.ClickException("XLSX is binary: give --output FILE")
    else:
        click.echo(data.decode("utf-8-sig"), nl=False)


COMMANDS = (coverage_cli,)
