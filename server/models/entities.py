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
