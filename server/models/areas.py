"""Areas, buildings and assignments (rounds: server/models/rounds.py).

Geometry is stored as WKB (WGS 84) in a plain binary column plus bounding-box and
representative-point columns: SQLite needs no extension, bounding-box filters use ordinary
indexes, and on PostgreSQL the migration adds a generated PostGIS column (`geom`) with a GiST
index computed from the same WKB, so both databases hold one source of truth.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models._types import utcnow

if TYPE_CHECKING:
    import shapely

AREA_LEVELS = ("township", "village", "street")


class Area(db.Model):
    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(128))
    name_en: Mapped[str] = mapped_column(sa.String(128), default="")
    level: Mapped[str] = mapped_column(sa.String(16))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("areas.id"), index=True)
    # Materialised path of codes ("XY/XY01/XY01-03") so "everything under X" is one LIKE.
    path: Mapped[str] = mapped_column(sa.String(512), index=True)
    boundary: Mapped[bytes | None] = mapped_column(sa.LargeBinary)

    parent: Mapped[Area | None] = relationship(remote_side=[id])

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") and self.name_en else self.name_zh


class Building(db.Model):
    __tablename__ = "buildings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    street_id: Mapped[int | None] = mapped_column(sa.ForeignKey("areas.id"), index=True)
    footprint: Mapped[bytes] = mapped_column(sa.LargeBinary)
    minx: Mapped[float] = mapped_column(sa.Float)
    miny: Mapped[float] = mapped_column(sa.Float)
    maxx: Mapped[float] = mapped_column(sa.Float)
    maxy: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    lat: Mapped[float] = mapped_column(sa.Float)
    address: Mapped[str] = mapped_column(sa.String(256), default="")
    expected_units: Mapped[int | None] = mapped_column(sa.Integer)
    floors: Mapped[int | None] = mapped_column(sa.Integer)
    # "imported" (a footprint layer), "field" (found by a coordinator), "demo".
    source: Mapped[str] = mapped_column(sa.String(16), default="imported")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    street: Mapped[Area | None] = relationship()

    __table_args__ = (sa.Index("ix_buildings_bbox", "minx", "miny"),)

    @property
    def shape(self) -> shapely.Geometry:
        import shapely  # with numpy ~0.1 s: the models load with every command, shapes rarely

        return shapely.from_wkb(self.footprint)

    def set_shape(self, geom: shapely.Geometry) -> None:
        """Keep WKB, bounding box and representative point in step."""
        import shapely  # (see shape)

        self.footprint = shapely.to_wkb(geom)
        self.minx, self.miny, self.maxx, self.maxy = geom.bounds
        point = geom.representative_point()
        self.lon, self.lat = point.x, point.y


class Assignment(db.Model):
    """A coordinator's (or a supervisor's) area: the streets they walk or oversee."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("areas.id", ondelete="CASCADE"))

    user = relationship("User", back_populates="assignments")
    area: Mapped[Area] = relationship()

    __table_args__ = (sa.UniqueConstraint("user_id", "area_id", name="uq_assignments_user_area"),)
