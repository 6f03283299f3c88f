"""`doorstep reports build`: generate and archive the meetings' reports for a period.

The same service as the page (server/services/reports/archive.py): a report already archived
for that period and area is kept as it was unless --regenerate is given. With --out, the XLSX
and PDF are also written to that folder.
"""

from __future__ import annotations

from pathlib import Path

import click

from server.cli.appcontext import with_appcontext


@click.group("reports", help="The meetings' reports (旬报, 周报): build and archive them.")
def reports_cli() -> None:
    pass


@reports_cli.command("build")
@click.option("--kind", type=click.Choice(["xun", "week"]), default="xun", show_default=True,
              help="xun: the centre's ten-day report; week: a station's weekly report.")
@click.option("--period", "period_key",
              help="2016-10-1, 2016-10-2, 2016-10-3 (旬) or 2016-W41 (ISO week); "
                   "default: the last period that has ended.")
@click.option("--area", "area_codes", multiple=True,
              help="Area code; repeat. Default: the township (xun) or every village (week).")
@click.option("--regenerate", is_flag=True, help="Replace reports already archived.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Also write each report's XLSX and PDF to this folder.")
@with_appcontext
def build_command(kind: str, period_key: str | None, area_codes: tuple[str, ...],
                  regenerate: bool, out: Path | None) -> None:
    """Generate and archive the reports of one period."""
    import sqlalchemy as sa

    from server import localtime
    from server.cli.errors import service_errors
    from server.extensions import db
    from server.models import Area
    from server.services.reports import archive, meeting, periods

    with service_errors():
        period = (periods.parse(period_key) if period_key
                  else periods.containing(localtime.today(), kind).previous())
        if period.kind != kind:
            raise click.ClickException(f"{period_key} is not a period of kind {kind}")
        codes = list(area_codes) or list(db.session.scalars(
            sa.select(Area.code).where(Area.level == ("township" if kind == "xun"
                                                      else "village")).order_by(Area.path)))
        if not codes:
            raise click.ClickException("no area to report on: import areas first")
        for code in codes:
            area = meeting.area_for(None, code, kind)
            row, made = archive.generate(None, kind, period, area, regenerate=regenerate)
            click.echo(f"{'generated' if made else 'kept'} #{row.id}  {row.title}  "
                       f"({len(row.xlsx)} B xlsx, {len(row.pdf)} B pdf)")
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                for ext, data in (("xlsx", row.xlsx), ("pdf", row.pdf)):
                    path = out / f"report-{kind}-{period.key}-{code}.{ext}"
                    path.write_bytes(data)
                    click.echo(f"  {path}")


COMMANDS = (reports_cli,)
