"""`doorstep areas import` and `doorstep buildings import`: all or nothing, like the page."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from server.cli.errors import service_errors


def _import(kind: str, path: str, skip_duplicates: bool, **opts) -> None:
    from server.services import imports

    file = Path(path)
    run = imports.import_areas if kind == "areas" else imports.import_buildings
    with service_errors("nothing imported: "):
        report = run(file.read_bytes(), file.name, skip_duplicates=skip_duplicates, **opts)
    for line in report.lines():
        click.echo(line)


@click.group("areas", help="Area tree: township, villages, streets.")
def areas_cli() -> None:
    pass


@areas_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--level",
    type=click.Choice(("township", "village", "street")),
    help="Level of every feature (else the 'level' column).",
)
@click.option("--parent", help="Parent code of every feature (else the 'parent' column).")
@click.option("--crs", help="CRS to assume when the file has none, e.g. EPSG:4490.")
@click.option("--skip-duplicates", is_flag=True, help="Keep the first of each duplicate.")
@with_appcontext
def import_areas_command(file, level, parent, crs, skip_duplicates) -> None:
    """Import area boundaries from GeoJSON, GeoPackage, zipped Shapefile or CSV."""
    _import("areas", file, skip_duplicates, level=level, parent=parent, crs=crs)


@click.group("buildings", help="Building footprints.")
def buildings_cli() -> None:
    pass


@buildings_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--code-field", help="Column with building codes (default: code).")
@click.option("--units-field", help="Column with expected dwelling units.")
@click.option("--address-field", help="Column with the address.")
@click.option("--floors-field", help="Column with the number of floors.")
@click.option("--street-field", help="Column with street codes (else by street boundary).")
@click.option("--crs", help="CRS to assume when the file has none, e.g. EPSG:4490.")
@click.option("--skip-duplicates", is_flag=True, help="Keep the first of each duplicate.")
@with_appcontext
def import_buildings_command(
    file, code_field, units_field, address_field, floors_field, street_field, crs, skip_duplicates
) -> None:
    """Import building footprints (or points) and assign them to streets."""
    _import("buildings", file, skip_duplicates, crs=crs, code_field=code_field,
            units_field=units_field, address_field=address_field, floors_field=floors_field,
            street_field=street_field)


COMMANDS = (areas_cli, buildings_cli)
