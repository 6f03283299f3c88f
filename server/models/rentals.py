"""The rental-housing register (出租房屋台账): landlords, rented units and their inspections are
derived from the register's households (server.services.rentals.derive) and rebuilt at will;
rectifications (整改) are supervisors' decisions and are never derived."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models._types import JSONType, utcnow


class RentalLandlord(db.Model):
    """One landlord, linked to all their units: found by resident ID number, else by name and
    phone (server.services.rentals.derive `landlord_key`)."""

    __tablename__ = "rental_landlords"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The handle pages use: random, so a URL never carries (or hashes) an ID number.
    ref: Mapped[str] = mapped_column(sa.String(32), unique=True)
    key: Mapped[str] = mapped_column(sa.String(256), unique=True)
    name: Mapped[str] = mapped_column(sa.String(128), default="")
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    id_number: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    units: Mapped[list[RentalUnit]] = relationship(back_populates="landlord",
                                                   order_by="RentalUnit.label")


class RentalUnit(db.Model):
    """A rented unit: a household the register knows as rented or that a rental inspection
    recorded; its facts, and the rules it breaks now (server.services.rentals.rules)."""

    __tablename__ = "rental_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(
        sa.ForeignKey("entities.id", ondelete="CASCADE"), unique=True)
    household_uuid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    landlord_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("rental_landlords.id", ondelete="SET NULL"), index=True)
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("areas.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey("buildings.id"))
    label: Mapped[str] = mapped_column(sa.String(512), default="")
    tenure: Mapped[str | None] = mapped_column(sa.String(32))
    floor_area: Mapped[float | None] = mapped_column(sa.Float)
    occupants: Mapped[int | None] = mapped_column(sa.Integer)
    area_per_tenant: Mapped[float | None] = mapped_column(sa.Float)
    rooms: Mapped[str | None] = mapped_column(sa.String(256))
    contract_filed: Mapped[str | None] = mapped_column(sa.String(8))
    contract_number: Mapped[str | None] = mapped_column(sa.String(64))
    contract_lessee: Mapped[str | None] = mapped_column(sa.String(128))
    contract_start: Mapped[date | None] = mapped_column(sa.Date)
    contract_end: Mapped[date | None] = mapped_column(sa.Date)
    last_inspection: Mapped[date | None] = mapped_column(sa.Date)
    # rule code -> {"since": ISO date, "detail": {...}}: the rules the unit breaks now
    violations: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    violation_count: Mapped[int] = mapped_column(sa.Integer, default=0, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    landlord: Mapped[RentalLandlord | None] = relationship(back_populates="units")
    inspections: Mapped[list[RentalInspection]] = relationship(
        back_populates="unit", order_by="RentalInspection.received_at",
        cascade="all, delete-orphan")


class RentalInspection(db.Model):
    """One rental inspection of a unit (a submission that wrote the inspection's properties)
    and the rules it found broken."""

    __tablename__ = "rental_inspections"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rental_units.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="SET NULL"), index=True)
    inspected_on: Mapped[date] = mapped_column(sa.Date)
    received_at: Mapped[datetime] = mapped_column()
    violations: Mapped[list[str]] = mapped_column(JSONType, default=list)

    unit: Mapped[RentalUnit] = relationship(back_populates="inspections")

    __table_args__ = (sa.UniqueConstraint("unit_id", "submission_id",
                                          name="uq_rental_inspections_unit_submission"),)


class RentalRectification(db.Model):
    """A rectification (整改) a supervisor ordered for one rule a unit broke: due date, the
    re-inspection that found it put right, closed. Keyed by the household's uuid and the
    rule's code, so rebuilding the derived register keeps it."""

    __tablename__ = "rental_rectifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_uuid: Mapped[str] = mapped_column(sa.String(64), index=True)
    rule: Mapped[str] = mapped_column(sa.String(32))
    # open -> closed (after a re-inspection that no longer finds the rule broken)
    state: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    due_on: Mapped[date] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    opened_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column()
    # The re-inspection the closing relied on (its submission, which outlives any rebuild).
    closing_submission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="SET NULL"))
    close_note: Mapped[str] = mapped_column(sa.String(500), default="")

    opened_by = relationship("User", foreign_keys=[opened_by_id])
    closed_by = relationship("User", foreign_keys=[closed_by_id])
