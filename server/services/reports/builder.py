"""A meeting report (server/services/reports/meeting.py) as the page shows it, as an XLSX
workbook and as a PDF: one list of measures and one HTML body, so the three say the same.

The PDF is the page's HTML laid out by WeasyPrint (HTML and CSS to PDF) with the Noto CJK fonts
embedded (subset), so it prints and reads the same on any machine.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, render_template

from gis.states import BY_KEY
from gis.states import names as state_names
from server import localtime
from server.i18n import N_, current_locale
from server.i18n import gettext as _
from server.services import spreadsheets
from server.services.rentals.exports import STAGES
from server.services.reports import assessment
from server.services.reports.meeting import TITLES, Report
from server.services.reports.metrics import Counts

PRINT_CSS = "reports-print.css"


@dataclass(frozen=True, slots=True)
class Measure:
    key: str
    label: str  # English (the catalogue has the Chinese)
    rate: bool
    value: Callable[[Counts], float | int | None]


#: What "changes since the last period" compares, in order.
CHANGES = (
    Measure("buildings_visited", "Buildings visited", False, lambda c: c.buildings_visited),
    Measure("households_registered", "Households registered", False,
            lambda c: c.households_registered),
    Measure("households_updated", "Households updated", False, lambda c: c.households_updated),
    Measure("persons_registered", "Persons registered", False, lambda c: c.persons_registered),
    Measure("persons_updated", "Persons updated", False, lambda c: c.persons_updated),
    Measure("persons_departed", "Persons departed", False, lambda c: c.persons_departed),
    Measure("reviewed", "Submissions reviewed", False, lambda c: c.reviewed),
    Measure("accuracy", "Accuracy rate", True, lambda c: c.accuracy),
    Measure("returned", "Submissions returned", False, lambda c: c.returned),
    Measure("corrected", "Corrected after return", False, lambda c: c.corrected),
    Measure("suspect_visits", "Suspect visits", False, lambda c: c.suspect_visits),
    Measure("held", "Registrations held for review", False, lambda c: c.held),
)
#: The stock figures at a period's end (the round so far), compared the same way.
STOCK = (
    Measure("update_rate", "Information update rate", True, lambda c: c.update_rate),
    Measure("complete_rate", "Buildings complete", True, lambda c: c.complete_rate),
    Measure("visited_rate", "Buildings visited (share)", True, lambda c: c.visited_rate),
)


def pct(value: float | None) -> str:
    """A rate as the report prints it: 87.5% (one decimal), — when there is nothing to divide."""
    return "—" if value is None else f"{value * 100:.1f}%"


def shown(measure: Measure, value: float | int | None) -> str:
    return pct(value) if measure.rate else ("—" if value is None else str(value))


def change(measure: Measure, now: float | int | None, before: float | int | None) -> str:
    """+3, −1, +12.5 pt; — when either side is missing."""
    if now is None or before is None:
        return "—"
    diff = (now - before) * (100 if measure.rate else 1)
    text = f"{diff:+.1f} pt" if measure.rate else f"{diff:+d}"
    return text.replace("-", "−")


def title(report: Report) -> str:
    return f"{report.area.name_zh} {_(TITLES[report.kind])} · {report.period.label(_locale())}"


def _locale() -> str:
    return current_locale()


#: Rows of a long list (streets unvisited, suspect visits, coordinators ranked) the page and the
#: PDF show; the workbook has them all. A city's report is read in a meeting, not thousands of
#: rows.
LISTED = 100


def ends_of(ranked: list, listed: int) -> tuple[list, int, list]:
    """The first and the last of a ranking, `listed` in all, and how many lie between: a
    meeting praises the top and presses the bottom."""
    if len(ranked) <= listed:
        return ranked, 0, []
    head, tail = (listed + 1) // 2, listed // 2
    return ranked[:head], len(ranked) - listed, ranked[len(ranked) - tail:]


def body_html(report: Report) -> str:
    """The report's body, as the page shows it and the archive keeps it (map inline)."""
    return render_template(
        "reports/_meeting_body.html", r=report, title=title(report), changes=CHANGES,
        stock=STOCK, pct=pct, shown=shown, change=change, locale=_locale(), stage_words=STAGES,
        listed=LISTED, ends_of=ends_of,
        # the pages' template global (server/web/coverage.py), which a command's app lacks
        coverage_state_labels=lambda: state_names(_locale()),
        generated=localtime.fmt(report.generated_at),
        map_src="data:image/png;base64," + base64.b64encode(report.map_png).decode("ascii"))


def pdf(report: Report, body: str) -> bytes:
    """The body laid out on A4 (landscape) pages by WeasyPrint, fonts embedded."""
    import weasyprint  # (loads Pango; only PDFs pay for it)

    page = render_template("reports/meeting_print.html", body=body, title=title(report),
                           locale=_locale())
    css = Path(current_app.static_folder) / PRINT_CSS
    return weasyprint.HTML(string=page).write_pdf(stylesheets=[weasyprint.CSS(filename=css)])


def xlsx(report: Report) -> bytes:
    """The report as a workbook: summary, areas, trend, unvisited buildings, flags (suspect
    visits, rental violations, rectifications closed), assessment."""
    import xlsxwriter  # only exports pay for it

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    fmt = {"pct": book.add_format({"num_format": "0.0%"})}
    _summary(book, report, bold, fmt)
    _areas(book, report, bold, fmt)
    _trend(book, report, bold, fmt)
    unvisited = BY_KEY["unvisited"].name(current_locale())  # the state's own name
    sheet = book.add_worksheet(unvisited)
    spreadsheets.write_xlsx_row(sheet, 0, [_("Street"), unvisited, _("Buildings")], bold)
    for i, (street, n, codes) in enumerate(report.unvisited, 1):
        spreadsheets.write_xlsx_row(sheet, i, [street, n, "、".join(codes)])
    sheet = book.add_worksheet(_("Suspect visits"))
    spreadsheets.write_xlsx_row(sheet, 0, [_("Building"), _("Day"), _("Coordinator")], bold)
    for i, row in enumerate(report.suspects, 1):
        spreadsheets.write_xlsx_row(sheet, i, list(row))
    _rentals(book, report, bold)
    assessment.write_sheet(book, title(report), report.assessment, _)
    book.close()
    return out.getvalue()


def _put(sheet, row: int, values: list, rates: set[int], fmt: dict) -> None:
    """A row whose columns in `rates` are fractions shown as percentages."""
    spreadsheets.write_xlsx_row(sheet, row, values)
    for col in rates:
        if values[col] is not None:
            sheet.write_number(row, col, values[col], fmt["pct"])


def _summary(book, r: Report, bold, fmt) -> None:
    sheet = book.add_worksheet(_("Summary"))
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 4, 16)
    spreadsheets.write_xlsx_row(sheet, 0, [title(r)], bold)
    spreadsheets.write_xlsx_row(sheet, 1, [_("Round"), r.round.name, r.period.span()])
    spreadsheets.write_xlsx_row(sheet, 3, [_("Measure"), _("Target"), _("This round so far"),
                                           _("Met")], bold)
    goals = ((STOCK[0], r.targets.update_rate), (CHANGES[7], r.targets.accuracy))
    for i, (m, goal) in enumerate(goals, 4):
        value = m.value(r.to_date)
        met = None if value is None else _("yes") if value >= goal else _("no")
        _put(sheet, i, [_(m.label), goal, value, met], {1, 2}, fmt)
    spreadsheets.write_xlsx_row(sheet, 7, [_("Measure"), _("Last period"), _("This period"),
                                           _("Change")], bold)
    row = 8
    pairs = [(m, r.now, r.before) for m in CHANGES] + [
        (m, r.to_date, r.before_to_date) for m in STOCK]
    for m, now, before in pairs:
        a = None if before is None else m.value(before)
        b = m.value(now)
        _put(sheet, row, [_(m.label), a, b, change(m, b, a)], {1, 2} if m.rate else set(), fmt)
        row += 1


def _areas(book, r: Report, bold, fmt) -> None:
    sheet = book.add_worksheet(_("By area"))
    heads = [N_("Area"), N_("Code"), N_("Buildings"), N_("Visited"), "Complete",
             N_("Buildings complete"), N_("Persons on the register"),
             N_("Registered or confirmed"), N_("Information update rate"),
             N_("Submissions reviewed"), N_("Accuracy rate"), N_("Submissions returned"),
             N_("Corrected after return"), N_("Suspect visits")]
    names = [_(h) for h in heads]
    names[heads.index("Complete")] = BY_KEY["complete"].name(current_locale())  # its own name
    spreadsheets.write_xlsx_row(sheet, 0, names, bold)
    for i, row in enumerate(r.rows, 1):
        c = row.counts
        _put(sheet, i, ["  " * row.depth + row.area.name_zh, row.area.code, c.buildings,
                        c.visited, c.complete, c.complete_rate, c.on_register, c.confirmed,
                        c.update_rate, c.reviewed, c.accuracy, c.returned, c.corrected,
                        c.suspect_visits], {5, 8, 10}, fmt)
    sheet.set_column(0, 0, 20)


def _trend(book, r: Report, bold, fmt) -> None:
    sheet = book.add_worksheet(_("Trend"))
    heads = [N_("Period"), N_("Buildings visited"), N_("Persons registered"),
             N_("Persons updated"), N_("Persons departed"), N_("Accuracy rate"),
             N_("Information update rate"), N_("Buildings complete")]
    spreadsheets.write_xlsx_row(sheet, 0, [_(h) for h in heads], bold)
    for i, t in enumerate(r.trend, 1):
        c, d = t.counts, t.to_date
        _put(sheet, i, [t.period.label(_locale()), c.buildings_visited, c.persons_registered,
                        c.persons_updated, c.persons_departed, c.accuracy, d.update_rate,
                        d.complete_rate], {5, 6, 7}, fmt)
    sheet.set_column(0, 0, 20)


def _rentals(book, r: Report, bold) -> None:
    """Two sheets: the rules broken now (with their rectification), and the rectifications
    closed in the period."""
    locale = _locale()
    place = [_("Village"), _("Street"), _("Rented unit"), _("Violation")]
    sheet = book.add_worksheet(_("Rental violations"))
    spreadsheets.write_xlsx_row(sheet, 0, [*place, _("Since"), _("Due"), _("Rectification")],
                                bold)
    for i, f in enumerate(r.rentals.open, 1):
        spreadsheets.write_xlsx_row(sheet, i, [
            f.village.name(locale) if f.village else "", f.street, f.unit, f.text(locale),
            f.since, f.due_on or None, _(STAGES[f.stage]) if f.stage else _("Not ordered")])
    sheet.set_column(3, 3, 40)
    sheet = book.add_worksheet(_("Rectifications closed in the period")[:31])
    spreadsheets.write_xlsx_row(sheet, 0, [*place, _("Due"), _("Re-inspected on"),
                                           _("Closed on")], bold)
    for i, f in enumerate(r.rentals.closed, 1):
        spreadsheets.write_xlsx_row(sheet, i, [
            f.village.name(locale) if f.village else "", f.street, f.unit, f.text(locale),
            f.due_on, f.reinspected_on or None, f.closed_on])
    sheet.set_column(3, 3, 40)
