"""Upload page and CLI for building footprints and area boundaries (all or nothing)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Blueprint, Flask, render_template, request
from flask.cli import with_appcontext

from server.access import allow
from server.i18n import gettext as _
from server.models import Role
from server.services import imports
from server.services.imports import GisImportError

bp = Blueprint("imports", __name__, url_prefix="/imports")
KINDS = ("buildings", "areas")


def _run(kind: str, data: bytes, filename: str, skip_duplicates: bool, **opts):
    if kind == "areas":
        return imports.import_areas(data, filename, skip_duplicates=skip_duplicates, **opts)
    return imports.import_buildings(data, filename, skip_duplicates=skip_duplicates, **opts)


@bp.route("/", methods=["GET", "POST"])
@allow(Role.SUPERVISOR, Role.ADMIN)
def upload():
    if request.method == "GET":
        return render_template("imports/upload.html", kinds=KINDS)
    kind = request.form.get("kind", "buildings")
    upload = request.files.get("file")
    if kind not in KINDS:
        return render_template(
            "imports/upload.html", kinds=KINDS, error=f"unknown kind {kind!r}"
        ), 400
    if upload is None or not upload.filename:
        return render_template("imports/upload.html", kinds=KINDS, error=_("Choose a file.")), 400
    try:
        report = _run(
            kind, upload.read(), upload.filename, request.form.get("skip_duplicates") == "1"
        )
    except (GisImportError, ValueError) as err:
        return render_template("imports/upload.html", kinds=KINDS, error=str(err), kind=kind), 400
    return render_template("imports/upload.html", kinds=KINDS, report=report, kind=kind)


def _cli_import(kind: str, path: str, skip_duplicates: bool, **opts) -> None:
    file = Path(path)
    try:
        report = _run(kind, file.read_bytes(), file.name, skip_duplicates, **opts)
    except (GisImportError, ValueError) as err:
        raise click.ClickException(f"nothing imported: {err}") from err
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
    _cli_import("areas", file, skip_duplicates, level=level, parent=parent, crs=crs)


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
    _cli_import(
        "buildings",
        file,
        skip_duplicates,
        crs=crs,
        code_field=code_field,
        units_field=units_field,
        address_field=address_field,
        floors_field=floors_field,
        street_field=street_field,
    )


def init_app(app: Flask) -> None:
    from server.web.home import add_home_link

    app.register_blueprint(bp)
    app.cli.add_command(areas_cli)
    app.cli.add_command(buildings_cli)
    add_home_link(app, "imports.upload", "Import footprints and areas")
