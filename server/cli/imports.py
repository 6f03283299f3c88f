"""`doorstep areas import` and `doorstep buildings import`: all or nothing, like the page."""

from __future__ import annotations

import re
from pathlib import Path

import click

from server.cli.appcontext import with_appcontext

#: How the import's messages name its Python parameters -> how this command names them.
_FLAGS = (
    (re.compile(r"\bgive level_field, or level='street' \(or 'village', 'township'\)"),
     "give --level street (or village, township)"),
    (re.compile(r"\bcrs='([^']*)'"), r"--crs \1"),
    (re.compile(r"\blayer=<"), "--layer <"),
    (re.compile(r"\blayer=(?=\W|$)"), "--layer NAME"),
    (re.compile(r"\bencoding=(?=\W|$)"), "--encoding NAME"),
    (re.compile(r"\b(code|units|address|floors|street)_field=(?=')"), r"--\1-field "),
    (re.compile(r"\b(code|units|address|floors|street)_field\b"), r"--\1-field"),
    (re.compile(r"\bskip_(duplicates|invalid)\b"), r"--skip-\1"),
)


def cli_message(text: str) -> str:
    """The message with this command's flags (--skip-duplicates), not Python's names."""
    for pattern, flag in _FLAGS:
        text = pattern.sub(flag, text)
    return text


def _unknown_streets(err) -> str:
    villages = ", ".join(err.villages[:20]) or "none yet: import the villages first"
    return (f"{err}.\nEither create them under a village: --create-streets-under VILLAGE "
            f"(villages: {villages}),\nor ignore the column and assign streets by boundary: "
            "--street-field none")


def _import(kind: str, path: str, skip_duplicates: bool, **opts) -> None:
    from server.services import imports
    from server.services.errors import ServiceError

    file = Path(path)
    run = imports.import_areas if kind == "areas" else imports.import_buildings
    try:
        report = run(file.read_bytes(), file.name, skip_duplicates=skip_duplicates, **opts)
    except imports.UnknownStreets as err:
        raise click.ClickException(f"nothing imported: {_unknown_streets(err)}") from err
    except ServiceError as err:
        raise click.ClickException(f"nothing imported: {cli_message(str(err))}") from err
    for line in report.lines():
        click.echo(cli_message(line))


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
@click.option("--street-field",
              help="Column with street codes (default: street); 'none': by street boundary.")
@click.option("--create-streets-under", metavar="VILLAGE",
              help="Create the streets the street column names but the area tree lacks, "
                   "under this village.")
@click.option("--crs", help="CRS to assume when the file has none, e.g. EPSG:4490.")
@click.option("--skip-duplicates", is_flag=True, help="Keep the first of each duplicate.")
@click.option("--skip-invalid", is_flag=True,
              help="Leave out (and report) features whose geometry cannot be repaired.")
@with_appcontext
def import_buildings_command(
    file, code_field, units_field, address_field, floors_field, street_field,
    create_streets_under, crs, skip_duplicates, skip_invalid,
) -> None:
    """Import building footprints (or points) and assign them to streets; codes already
    stored update their building (footprint and the attributes the file carries)."""
    _import("buildings", file, skip_duplicates, crs=crs, code_field=code_field,
            units_field=units_field, address_field=address_field, floors_field=floors_field,
            street_field=street_field, create_streets_under=create_streets_under,
            skip_invalid=skip_invalid)


COMMANDS = (areas_cli, buildings_cli)
