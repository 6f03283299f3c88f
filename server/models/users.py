from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from server.extensions import db
from server.models._types import utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    DESIGNER = "designer"
    SUPERVISOR = "supervisor"
    COORDINATOR = "coordinator"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(128), default="")
    role: Mapped[str] = mapped_column(sa.String(16))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who took over this user's areas and open work when they left (辞职替补); a later handover
    # of the successor re-points it, so it always names who holds the work now.
    successor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Part of every session's id (get_id): raising it ends every session of the user at once
    # (logout, password reset, deactivation), although the session cookie lives on the client.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    assignments: Mapped[list[Assignment]] = relationship(  # noqa: F821 (resolved by the registry)
        back_populates="user", cascade="all, delete-orphan"
    )
    device_links: Mapped[list[DeviceLink]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="DeviceLink.id"
    )
    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="ApiToken.id"
    )

    successor: Mapped[User | None] = relationship(remote_side=[id])

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:  # flask-login: what the session cookie names
        return f"{self.id}.{self.session_generation}"

    @property
    def is_active(self) -> bool:  # flask-login
        return self.active

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class DeviceLink(db.Model):
    """A phone's OpenRosa URL `/o/<token>/`: only the token's SHA-256 is stored (the token,
    192 random bits, is shown once), so a copy of the database connects no phone."""

    __tablename__ = "device_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="device_links")


class ApiToken(db.Model):
    """A personal token for programs (the JSON API, the OData feed that Excel and Power BI
    read): only its SHA-256 is stored, the token is shown once (server.services.api_tokens)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(back_populates="api_tokens")
