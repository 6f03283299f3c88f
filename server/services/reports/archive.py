"""Meeting reports kept as they were generated: per kind, period and area, the page's HTML,
the XLSX and the PDF, so a past meeting's report stays as it was read. A report is generated on
request (page or `doorstep reports build`); asking again for one that exists returns the kept
one unless regenerating is asked for, which replaces it (audited both ways)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from server.extensions import db
from server.i18n import current_locale
from server.models import ArchivedReport, Area, User
from server.models._types import utcnow
from server.services import audit, scope
from server.services.reports import builder, meeting
from server.services.reports.meeting import ReportError
from server.services.reports.periods import Period


def find(kind: str, period: Period, area: Area) -> ArchivedReport | None:
    return db.session.scalar(sa.select(ArchivedReport).where(
        ArchivedReport.kind == kind, ArchivedReport.period_key == period.key,
        ArchivedReport.area_id == area.id))


def generate(user: User | None, kind: str, period: Period, area: Area,
             regenerate: bool = False) -> tuple[ArchivedReport, bool]:
    """The archived report of the area for the period: the kept one, or a new one (made now,
    replacing the kept one when `regenerate`). Returns (report, made now)."""
    kept = find(kind, period, area)
    if kept is not None and not regenerate:
        return kept, False
    report = meeting.build(user, kind, period, area)
    body = builder.body_html(report)
    row = kept or ArchivedReport(kind=kind, period_key=period.key, area_id=area.id)
    row.period_start, row.period_end = period.start, period.end
    row.round_id, row.title, row.locale = report.round.id, builder.title(report), current_locale()
    row.html, row.xlsx, row.pdf = body, builder.xlsx(report), builder.pdf(report, body)
    row.generated_at, row.generated_by_id = utcnow(), user.id if user is not None else None
    db.session.add(row)
    db.session.flush()
    audit.record("report.regenerate" if kept is not None else "report.generate", user=user,
                 object_type="report", object_id=row.id, kind=kind, period=period.key,
                 area=area.code)
    db.session.commit()
    return row, True


def visible(user: User | None) -> list[ArchivedReport]:
    """Archived reports of the areas the user sees whole, newest period first."""
    rows = db.session.scalars(sa.select(ArchivedReport).options(
        selectinload(ArchivedReport.area)).order_by(  # (their reports deferred: not read)
        ArchivedReport.period_start.desc(), ArchivedReport.kind, ArchivedReport.id)).all()
    return [r for r in rows if _may_see(user, r.area)]


def get(user: User | None, report_id: int) -> ArchivedReport:
    """One archived report the user may see; ReportError (404) otherwise."""
    row = db.session.get(ArchivedReport, report_id)
    if row is None or not _may_see(user, row.area):
        raise ReportError("No archived report {id} in your areas.", id=report_id)
    return row


def _may_see(user: User | None, area: Area) -> bool:
    streets = set(scope.streets_under_paths([area.path]))
    seen = scope.street_ids(user)
    return seen is None or (bool(streets) and streets <= seen)
