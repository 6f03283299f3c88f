from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models._types import JSONType, utcnow


class Form(db.Model):
    """One XForm id; its versions carry the content. A closed form accepts nothing new."""

    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    xml_form_id: Mapped[str] = mapped_column(sa.String(128), unique=True)
    title: Mapped[str] = mapped_column(sa.String(256), default="")
    state: Mapped[str] = mapped_column(sa.String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[FormVersion]] = relationship(
        back_populates="form", order_by="FormVersion.id", cascade="all, delete-orphan"
    )


class FormVersion(db.Model):
    __tablename__ = "form_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(256), default="")
    # draft (try it on a phone), published (served in formList), superseded (a newer one is
    # published; still accepts submissions from phones that hold it).
    state: Mapped[str] = mapped_column(sa.String(16), default="draft")
    xform: Mapped[str] = mapped_column(sa.Text)
    md5: Mapped[str] = mapped_column(sa.String(40))
    xlsform: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    xlsform_filename: Mapped[str] = mapped_column(sa.String(256), default="")
    warnings: Mapped[list[str]] = mapped_column(JSONType, default=list)
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    geo_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    media_names: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()
    # Secret of the draft's test link (/o/draft/<token>/): works only while this version is
    # the form's newest draft (server.services.forms.draft_testing).
    draft_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    form: Mapped[Form] = relationship(back_populates="versions")
    media: Mapped[list[FormMedia]] = relationship(
        back_populates="form_version", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.UniqueConstraint("form_id", "version", name="uq_form_versions_form_version"),
    )


class FormMedia(db.Model):
    """A file a form references (CSV, image). Entity lists are generated, not stored here."""

    __tablename__ = "form_media"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("form_versions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(256))
    content_type: Mapped[str] = mapped_column(sa.String(128), default="application/octet-stream")
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    md5: Mapped[str] = mapped_column(sa.String(32))

    form_version: Mapped[FormVersion] = relationship(back_populates="media")

    __table_args__ = (
        sa.UniqueConstraint("form_version_id", "name", name="uq_form_media_version_name"),
    )
