"""The meetings' reports as they were generated, and the weights of the coordinators'
assessment (server/services/reports/)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models._types import utcnow


class ArchivedReport(db.Model):
    """A ten-day or weekly report of one area for one period, kept as it was generated (page,
    XLSX and PDF), so a past meeting's report never changes; generating it again replaces it
    only when someone asks."""

    __tablename__ = "archived_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8))  # xun (旬报) or week (周报)
    period_key: Mapped[str] = mapped_column(sa.String(16))
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("areas.id", ondelete="CASCADE"),
                                         index=True)
    round_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rounds.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(sa.String(256))
    locale: Mapped[str] = mapped_column(sa.String(8))
    # The report itself, read only when shown or downloaded (deferred: the archive's list,
    # on every meeting page, would otherwise read every kept PDF).
    html: Mapped[str] = mapped_column(sa.Text, deferred=True)  # the body as the page shows it
    xlsx: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    generated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"))

    area = relationship("Area")
    generated_by = relationship("User")

    __table_args__ = (
        sa.UniqueConstraint("kind", "period_key", "area_id",
                            name="uq_archived_reports_kind_period_area"),
    )


class AssessmentWeight(db.Model):
    """The weight an admin gives one criterion of the coordinators' assessment (考核)."""

    __tablename__ = "assessment_weights"

    criterion: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    weight: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"))
