"""ODK-style entities: records in lists (buildings, households, persons) kept by submissions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models._types import JSONType, utcnow


class Entity(db.Model):
    __tablename__ = "entities"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(64), index=True)
    uuid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(512), default="")
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    # The street it belongs to, so lists can be filtered to a coordinator's areas.
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("areas.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey("buildings.id"), index=True)
    # The record's natural key within its list (a person's resident ID number), indexed so
    # "one residence per person" is one index lookup, not a scan of every person's JSON.
    natural_key: Mapped[str | None] = mapped_column(sa.String(64))
    deleted: Mapped[bool] = mapped_column(default=False)
    conflict: Mapped[str | None] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[EntityVersion]] = relationship(
        back_populates="entity", order_by="EntityVersion.version", cascade="all, delete-orphan"
    )

    __table_args__ = (sa.Index("ix_entities_dataset_natural_key", "dataset", "natural_key"),)


class EntityVersion(db.Model):
    __tablename__ = "entity_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(
        sa.ForeignKey("entities.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(sa.Integer)
    base_version: Mapped[int | None] = mapped_column(sa.Integer)
    label: Mapped[str] = mapped_column(sa.String(512), default="")
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    submission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    entity: Mapped[Entity] = relationship(back_populates="versions")

    __table_args__ = (
        sa.UniqueConstraint("entity_id", "version", name="uq_entity_versions_entity_version"),
    )


class RegisterConflict(db.Model):
    """A registration held for review instead of applied (server.services.register.review):
    it would move another area's person or change who they are. The person stays as recorded
    and the submitter learns nothing of them until a supervisor of the person's area decides."""

    __tablename__ = "register_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(
        sa.ForeignKey("entities.id", ondelete="CASCADE"), index=True
    )
    submission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="SET NULL"), index=True
    )
    submitter_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # What the submission asked for, kept whole so accepting it applies exactly that.
    uuid: Mapped[str] = mapped_column(sa.String(64))
    label: Mapped[str] = mapped_column(sa.String(512), default="")
    base_version: Mapped[int | None] = mapped_column(sa.Integer)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    reason: Mapped[str] = mapped_column(sa.String(256))
    # open -> accepted | rejected (by a supervisor) | superseded (the submitter sent an edit)
    state: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    entity: Mapped[Entity] = relationship()
    submitter = relationship("User", foreign_keys=[submitter_id])

    __table_args__ = (
        sa.UniqueConstraint("submission_id", "uuid", name="uq_register_conflicts_submission_uuid"),
    )
