"""Phases, rounds (轮次) and the background jobs that re-derive a round's visits.

A phase (阶段) carries the plan's default targets; a round inside it is one collection period
over some areas (the township or some villages), counting the visits of some forms, with its own
targets and thresholds. Which round a visit belongs to is decided in
server/services/coverage/rounds.py; the rules for creating, editing and closing rounds in
server/services/coverage/round_plans.py.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models._types import utcnow


class Phase(db.Model):
    """A stage of the plan (推进阶段, 常态管理阶段) and the targets its rounds start from."""

    __tablename__ = "phases"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    update_rate_target: Mapped[float] = mapped_column(sa.Float, default=0.9)
    accuracy_target: Mapped[float] = mapped_column(sa.Float, default=1.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Round(db.Model):
    """A collection period over some areas; visits belong to the round holding their day and
    their building's street. Targets and thresholds left empty follow the server's settings."""

    __tablename__ = "rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    phase_id: Mapped[int | None] = mapped_column(sa.ForeignKey("phases.id"), index=True)
    update_rate_target: Mapped[float | None] = mapped_column(sa.Float)
    accuracy_target: Mapped[float | None] = mapped_column(sa.Float)
    match_distance_m: Mapped[float | None] = mapped_column(sa.Float)
    gps_accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    closed_at: Mapped[datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # Bumped on every change: processes re-read their cached rounds when it moves.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=sa.func.now())

    phase: Mapped[Phase | None] = relationship()
    areas: Mapped[list[RoundArea]] = relationship(cascade="all, delete-orphan")
    forms: Mapped[list[RoundForm]] = relationship(cascade="all, delete-orphan")


class RoundArea(db.Model):
    """An area a round covers: every street at or below it. A round without areas covers every
    street (rounds made before areas were recorded)."""

    __tablename__ = "round_areas"

    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True
    )
    area_id: Mapped[int] = mapped_column(
        sa.ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True
    )

    area = relationship("Area")


class RoundForm(db.Model):
    """A form whose submissions count as visits in the round; none listed: every form."""

    __tablename__ = "round_forms"

    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True
    )
    form_id: Mapped[int] = mapped_column(
        sa.ForeignKey("forms.id", ondelete="CASCADE"), primary_key=True
    )

    form = relationship("Form")


JOB_STATES = ("queued", "running", "done", "error")


class RoundJob(db.Model):
    """Re-deriving the visits and coverage a round change touches, run by the processing worker
    (never in a request); `done` of `total` is the progress the round page shows."""

    __tablename__ = "round_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rounds.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(sa.String(16))  # create, edit, close
    # Visits whose day falls in [from_day, to_day] are re-assigned (old and new dates).
    from_day: Mapped[date] = mapped_column(sa.Date)
    to_day: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[str] = mapped_column(sa.String(16), default="queued", index=True)
    total: Mapped[int] = mapped_column(sa.Integer, default=0)
    done: Mapped[int] = mapped_column(sa.Integer, default=0)
    moved: Mapped[int] = mapped_column(sa.Integer, default=0)  # visits whose round changed
    message: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
