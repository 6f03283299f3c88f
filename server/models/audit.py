from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models._types import JSONType, utcnow


class AuditEvent(db.Model):
    """Who did what, when, to which record; reads and exports of personal data included."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(32), default="")
    object_id: Mapped[str] = mapped_column(sa.String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    remote_addr: Mapped[str] = mapped_column(sa.String(64), default="")
