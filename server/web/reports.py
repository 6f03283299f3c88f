"""The plan's numbers for the centre and the village stations: metrics per round and period,
the ten-day and weekly meeting reports (page, XLSX, PDF, archived), the coordinators'
assessment with its weights, and staffing against 1 : 500. Rules: server/services/reports/."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from server import localtime
from server.access import allow
from server.i18n import current_locale, gettext
from server.models import Role
from server.params import int_arg, page_of
from server.services import area_tree
from server.services.coverage import query as coverage_query
from server.services.coverage import rounds
from server.services.reports import (
    archive,
    assessment,
    builder,
    meeting,
    metrics,
    periods,
    staffing,
)
from server.services.reports import facts as facts_
from server.web.home import add_home_link

bp = Blueprint("reports", __name__, url_prefix="/reports")
STAFF = (Role.SUPERVISOR, Role.ADMIN)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


PAGE = 100  # rows of a report page's table (the workbook has them all)


@bp.context_processor
def _paging() -> dict:
    def page_link(key: str, page: int) -> str:
        """This page with its table `key` on page `page`, every other parameter kept."""
        args = {**(request.view_args or {}), **request.args.to_dict(), key: page}
        return url_for(request.endpoint, **args)

    return {"page_link": page_link}


def _kind() -> str:
    return periods.check_kind(request.args.get("kind") or "xun")


def _period(kind: str, rnd=None, key: str | None = None) -> periods.Period:
    """The period asked for, else the one holding today (within the round, if one is given)."""
    key = key or request.args.get("period")
    if key:
        p = periods.parse(key)
        if p.kind != kind:
            raise periods.PeriodError("{key!r} is not a period of this kind", key=key)
        return p
    day = localtime.today()
    if rnd is not None:
        day = min(max(day, rnd.starts_on), rnd.ends_on)
    return periods.containing(day, kind)


def _area_arg() -> area_tree.AreaView | None:
    """`?area=CODE`: the village (or street) whose rows the metrics page shows; 404 if none."""
    code = request.args.get("area")
    if not code:
        return None
    found = next((a for a in area_tree.tree()[0] if a.code == code), None)
    if found is None:
        abort(404)
    return found


def _download(data: bytes, mimetype: str, name: str) -> Response:
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.route("/")
@allow(*STAFF)
def metrics_page():
    rnd = coverage_query.round_(int_arg("round"), current_user)
    kind = _kind()
    period = _period(kind, rnd)
    area = _area_arg()
    f = facts_.load(rnd)
    start, end = metrics.window_of(rnd, period)
    first = rnd.starts_on
    now_rows = metrics.area_rows(f, metrics.table(f, start, end), current_user, area, levels=2)
    to_date_rows = metrics.area_rows(f, metrics.table(f, first, end), current_user, area,
                                     levels=2)
    trend = []
    for p in periods.between(rnd.starts_on, min(rnd.ends_on, max(end, localtime.today())),
                             kind):
        p_start, p_end = metrics.window_of(rnd, p)
        if p_start > localtime.today():
            break
        trend.append((p, metrics.total(f, metrics.table(f, p_start, p_end), current_user, area),
                      metrics.total(f, metrics.table(f, first, p_end), current_user, area)))
    rows = list(zip(now_rows, to_date_rows, strict=True))
    people = assessment.assess(f, start, end, current_user)
    page, pages, rows_shown = page_of(rows, "page", PAGE)
    cpage, cpages, people_shown = page_of(people, "cpage", PAGE)
    return render_template(
        "reports/metrics.html", round=rnd, rounds=rounds.visible_rounds(current_user),
        kind=kind, period=period, targets=metrics.targets(rnd), rows=rows_shown,
        paging={"rows": (page, pages, len(rows)), "people": (cpage, cpages, len(people))},
        coordinators=people_shown, trend=trend, area=area,
        periods=periods.between(rnd.starts_on, rnd.ends_on, kind), pct=builder.pct,
        locale=current_locale())


@bp.route("/meeting", methods=["GET", "POST"])
@allow(*STAFF)
def meeting_page():
    kind = periods.check_kind(request.values.get("kind") or "xun")
    area = meeting.area_for(current_user, request.values.get("area"), kind)
    period = _period(kind, rounds.current_round(current_user), request.values.get("period"))
    if request.method == "POST":
        row, made = archive.generate(current_user, kind, period, area,
                                     regenerate=request.form.get("regenerate") == "1")
        flash(gettext("Report generated and archived.") if made
              else gettext("This report was already archived; it is shown as it was."))
        return redirect(url_for("reports.archived", report_id=row.id))
    report = meeting.build(current_user, kind, period, area)
    return render_template(
        "reports/meeting.html", body=builder.body_html(report), report=report,
        kept=archive.find(kind, period, area), archived=archive.visible(current_user),
        areas=meeting.report_areas(current_user), kind=kind, period=period)


@bp.route("/archive/<int:report_id>")
@allow(*STAFF)
def archived(report_id: int):
    row = archive.get(current_user, report_id)
    return render_template("reports/archived.html", row=row,
                           archived=archive.visible(current_user))


@bp.route("/archive/<int:report_id>.xlsx", defaults={"fmt": "xlsx"})
@bp.route("/archive/<int:report_id>.pdf", defaults={"fmt": "pdf"})
@allow(*STAFF)
def archived_file(report_id: int, fmt: str):
    row = archive.get(current_user, report_id)
    name = f"report-{row.kind}-{row.period_key}-{row.area.code}.{fmt}"
    if fmt == "pdf":
        return _download(row.pdf, "application/pdf", name)
    return _download(row.xlsx, XLSX, name)


def _assessment_rows():
    rnd = coverage_query.round_(int_arg("round"), current_user)
    kind = _kind()
    period = _period(kind, rnd)
    start, end = metrics.window_of(rnd, period)
    rows = assessment.assess(facts_.load(rnd), start, end, current_user)
    sort = request.args.get("sort") or "score"
    descending = request.args.get("desc", "1" if sort == "score" else "0") == "1"
    return rnd, kind, period, assessment.sort(rows, sort, descending), sort, descending


@bp.route("/assessment")
@allow(*STAFF, Role.COORDINATOR)
def assessment_page():
    rnd, kind, period, rows, sort, descending = _assessment_rows()
    page, pages, shown = page_of(rows, "page", PAGE)
    return render_template(
        "reports/assessment.html", round=rnd, rounds=rounds.visible_rounds(current_user),
        kind=kind, period=period, rows=shown, paging=(page, pages, len(rows)), sort=sort,
        descending=descending,
        weights=assessment.weights(), criteria=assessment.CRITERIA, pct=builder.pct,
        horizon=assessment.TIMELINESS_HOURS, locale=current_locale(),
        periods=periods.between(rnd.starts_on, rnd.ends_on, kind))


@bp.route("/assessment.xlsx")
@allow(*STAFF, Role.COORDINATOR)
def assessment_xlsx():
    rnd, _, period, rows, _, _ = _assessment_rows()
    title = f"{gettext('Assessment')} · {rnd.name} · {period.label(current_locale())}"
    data = assessment.xlsx(rows, title, gettext)
    return _download(data, XLSX, f"assessment-{period.key}.xlsx")


@bp.route("/assessment/weights", methods=["GET", "POST"])
@allow(Role.ADMIN)
def weights_page():
    if request.method == "POST":
        assessment.set_weights(current_user, request.form)
        flash(gettext("Weights saved."))
        return redirect(url_for("reports.weights_page"))
    return render_template("reports/weights.html", weights=assessment.weights(),
                           criteria=assessment.CRITERIA, horizon=assessment.TIMELINESS_HOURS)


@bp.route("/staffing")
@allow(*STAFF)
def staffing_page():
    rows = staffing.by_village(current_user)
    return render_template(
        "reports/staffing.html", rows=rows[:-1], total=rows[-1] if rows else None,
        ratio=current_app.config["FLOATING_RESIDENTS_PER_COORDINATOR"],
        home_code=current_app.config["HOME_REGION_CODE"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_home_link(app, "reports.metrics_page", "Targets and progress")
    add_home_link(app, "reports.meeting_page", "Meeting reports")
    add_home_link(app, "reports.assessment_page", "Coordinators' assessment")
    add_home_link(app, "reports.staffing_page", "Staffing (1 : 500)")
