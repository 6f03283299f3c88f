"""Visits (derived from submissions) and per-building coverage (derived from visits)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models._types import JSONType, utcnow

#: A visit with any flag (the flags are a JSON list; '[]' is none, on both databases).
FLAGGED_SQL = "flags != '[]'"


class Visit(db.Model):
    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    round_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rounds.id"), index=True)
    coordinator_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    chosen_building_id: Mapped[int | None] = mapped_column(sa.ForeignKey("buildings.id"))
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey("buildings.id"))
    lon: Mapped[float | None] = mapped_column(sa.Float)
    lat: Mapped[float | None] = mapped_column(sa.Float)
    gps_accuracy: Mapped[float | None] = mapped_column(sa.Float)
    distance_m: Mapped[float | None] = mapped_column(sa.Float)
    outcome: Mapped[str] = mapped_column(sa.String(16), default="done")
    units_recorded: Mapped[int] = mapped_column(sa.Integer, default=0)
    flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    visited_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The local calendar day of the visit: with its building's street it finds the round.
    visited_on: Mapped[date | None] = mapped_column(sa.Date, index=True)

    # A building's visits in a round (coverage refresh); without it SQLite walks the round.
    # The flagged visits of a round by day (a report's suspect visits; few of a round's
    # visits): a query states FLAGGED_SQL as written here for a planner to use it.
    __table_args__ = (
        sa.Index("ix_visits_building_round", "building_id", "round_id"),
        sa.Index("ix_visits_flagged", "round_id", "visited_on",
                 sqlite_where=sa.text(FLAGGED_SQL), postgresql_where=sa.text(FLAGGED_SQL)),
    )


class BuildingCoverage(db.Model):
    """A building's coverage state in a round; rebuilt from visits by the coverage engine."""

    __tablename__ = "building_coverage"

    building_id: Mapped[int] = mapped_column(
        sa.ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True
    )
    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(sa.String(16), default="unvisited", index=True)
    visits: Mapped[int] = mapped_column(sa.Integer, default=0)
    units_recorded: Mapped[int] = mapped_column(sa.Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    # "Did a round's coverage change?" (tile caches) without reading the round's rows.
    __table_args__ = (sa.Index("ix_building_coverage_round_updated", "round_id", "updated_at"),)


class CoverageCount(db.Model):
    """How many buildings of a street are in a state in a round (the roll-ups' source).

    Kept in step with `building_coverage` by the refresh of one building (old state -1, new
    state +1, same transaction) and rebuilt by the full recompute; `street_id` 0 stands for
    buildings without a street. Unvisited buildings have no row here, as they have none there.
    """

    __tablename__ = "coverage_counts"

    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True
    )
    street_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    buildings: Mapped[int] = mapped_column(sa.Integer, default=0)


class CoverageStep(db.Model):
    """A day on which a building's coverage state in a round changed: its state at the end of
    that day and the one before (None: no counted visit yet). The reports' state as of a day."""

    __tablename__ = "coverage_steps"

    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True
    )
    building_id: Mapped[int] = mapped_column(
        sa.ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(16))
    was: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)


class CoverageDayCount(db.Model):
    """Net buildings of a street entering (+) or leaving (-) a state on a day of a round: their
    sum up to day D is how many of the street's buildings were in that state as of D.
    `street_id` 0 stands for buildings without a street (as in `coverage_counts`)."""

    __tablename__ = "coverage_day_counts"

    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True
    )
    street_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    buildings: Mapped[int] = mapped_column(sa.Integer, default=0)


class ReportMark(db.Model):
    """What one building's visits in a round add to `report_day_counts` (its rows as JSON:
    [person, day ordinal, *the counts' columns]): read back to take them out when the building
    is refreshed."""

    __tablename__ = "report_marks"

    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True
    )
    building_id: Mapped[int] = mapped_column(
        sa.ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True
    )
    marks: Mapped[str] = mapped_column(sa.Text)


class ReportSums:
    """The report pages' sums of a street, person and day (the columns of
    report_days.COLUMNS, after the key's)."""

    visits: Mapped[int] = mapped_column(sa.Integer, default=0)
    suspect_visits: Mapped[int] = mapped_column(sa.Integer, default=0)
    street_round: Mapped[int] = mapped_column(sa.Integer, default=0)
    street_xun: Mapped[int] = mapped_column(sa.Integer, default=0)
    street_week: Mapped[int] = mapped_column(sa.Integer, default=0)
    person_round: Mapped[int] = mapped_column(sa.Integer, default=0)
    person_xun: Mapped[int] = mapped_column(sa.Integer, default=0)
    person_week: Mapped[int] = mapped_column(sa.Integer, default=0)
    approved: Mapped[int] = mapped_column(sa.Integer, default=0)
    reviewed: Mapped[int] = mapped_column(sa.Integer, default=0)


class ReportDayCount(ReportSums, db.Model):
    """The report pages' sums per street, person and day of a round (server/services/coverage/
    report_days.py): visits, suspect ones; counted visits that are the building's first in the
    round, in their 旬, in their week (by street: any coordinator's earlier visit; by person:
    the same coordinator's); the submissions of those visits approved and reviewed.
    `street_id` / `person_id` 0: none; days as ordinals (read into arrays as they are)."""

    __tablename__ = "report_day_counts"
    __table_args__ = (sa.Index("ix_report_day_counts_day", "day"),)

    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True
    )
    street_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    day: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # date.toordinal()


class DataVersion(db.Model):
    """A counter every process reads to know that shared data changed (`buildings`: footprints
    or streets of existing buildings; caches built from them, in any process, are stale)."""

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=0)


class CoverageChange(db.Model):
    """One building whose state changed in a round (`building_id` None: the whole round was
    rewritten), numbered in commit order, so a process patches its states with the rows past
    the last number it read instead of reloading the round (server/services/coverage/feed.py).
    """

    __tablename__ = "coverage_changes"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(sa.Integer)
    building_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)


class CoverageDayMove(db.Model):
    """A move of `coverage_day_counts` (its key and the buildings added), numbered in commit
    order; `street_id` None: the round was rewritten (`round_id` None too: every round). A
    process moves its kept day counts by the rows past the last number it read instead of
    reading the round's counts again (server/services/coverage/day_moves.py)."""

    __tablename__ = "coverage_day_moves"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    street_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    day: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    state: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    buildings: Mapped[int] = mapped_column(sa.Integer, default=0)


class ReportDayMove(ReportSums, db.Model):
    """A move of `report_day_counts` (its key and the sums added), numbered in commit order;
    `street_id` None: the round was rewritten (`round_id` None too: every round). Read as
    CoverageDayMove is (server/services/coverage/move_feed.py)."""

    __tablename__ = "report_day_moves"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    street_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    person_id: Mapped[int] = mapped_column(sa.Integer, default=0)
    day: Mapped[int] = mapped_column(sa.Integer, default=0)  # date.toordinal()
