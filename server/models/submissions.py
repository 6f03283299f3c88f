"""Raw submissions: append-only; everything derived from them can be rebuilt by replay."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models._types import utcnow

REVIEW_STATES = ("received", "approved", "has_issues", "rejected")
#: Review states that send a submission back to the field for a correction.
RETURNED_STATES = ("has_issues", "rejected")
PROCESSING_STATES = ("pending", "done", "error")
#: processing_state of a draft's test submission: never processed (no register, no coverage).
TEST_STATE = "test"


class Submission(db.Model):
    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(sa.String(128), unique=True)
    form_version_id: Mapped[int] = mapped_column(sa.ForeignKey("form_versions.id"), index=True)
    submitter_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The XML is stored durably in the submission store (STORAGE_DIR); the checksum proves it.
    xml_sha256: Mapped[str] = mapped_column(sa.String(64))
    xml_size: Mapped[int] = mapped_column(sa.Integer)
    storage_key: Mapped[str] = mapped_column(sa.String(256))
    deprecated_id: Mapped[str | None] = mapped_column(sa.String(128), unique=True)
    # True once an edit (a newer instance naming this one as deprecatedID) replaced it.
    superseded: Mapped[bool] = mapped_column(default=False)
    review_state: Mapped[str] = mapped_column(sa.String(16), default="received")
    # The processing queue: pending rows in id order (ix_submissions_processing_state_id),
    # claimed in batches by server.services.processing.queue.
    processing_state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    processing_error: Mapped[str | None] = mapped_column(sa.Text)
    processed_at: Mapped[datetime | None] = mapped_column()
    # A processing interrupted by a machine fault (a full disk, the database gone) is retried
    # at processing_retry_at, later after each attempt (server.services.processing.pipeline).
    processing_attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    processing_retry_at: Mapped[datetime | None] = mapped_column()
    # Committed processing runs (done or error): 1 after one pass, +1 per replay; work lost
    # with a killed worker never counts, and two workers never count one submission twice.
    processing_runs: Mapped[int] = mapped_column(default=0, server_default="0")
    attachments_expected: Mapped[int] = mapped_column(sa.Integer, default=0)
    attachments_present: Mapped[int] = mapped_column(sa.Integer, default=0)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    lat: Mapped[float | None] = mapped_column(sa.Float)
    gps_accuracy: Mapped[float | None] = mapped_column(sa.Float)
    # A test submission sent through a draft's test link: hidden from lists and exports,
    # never processed, deleted when the form publishes (server.services.forms.draft_testing).
    draft: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    form_version = relationship("FormVersion")
    submitter = relationship("User")
    attachments: Mapped[list[SubmissionAttachment]] = relationship(
        back_populates="submission", cascade="all, delete-orphan"
    )
    reviews: Mapped[list[ReviewDecision]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="ReviewDecision.id"
    )

    __table_args__ = (
        sa.Index("ix_submissions_processing_state_id", "processing_state", "id"),
        # the few sent back, found by the reports without reading every submission
        sa.Index("ix_submissions_returned", "review_state",
                 sqlite_where=sa.text("review_state IN ('has_issues', 'rejected')"),
                 postgresql_where=sa.text("review_state IN ('has_issues', 'rejected')")),
        # the few an edit replaced: with those not processed yet, the ones without a visit
        sa.Index("ix_submissions_superseded", "id", sqlite_where=sa.text("superseded = 1"),
                 postgresql_where=sa.text("superseded")),
    )


class ReviewDecision(db.Model):
    """A supervisor's review decision, kept whole (server.services.submissions.review): the
    state chosen and, when it sends the submission back (RETURNED_STATES), a reason from the
    catalogue and a comment that the coordinator reads on the phone."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.String(32))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="reviews")
    decided_by = relationship("User")


class SubmissionAttachment(db.Model):
    __tablename__ = "submission_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(256))
    content_type: Mapped[str] = mapped_column(sa.String(128), default="application/octet-stream")
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    size: Mapped[int | None] = mapped_column(sa.Integer)
    storage_key: Mapped[str | None] = mapped_column(sa.String(256))

    submission: Mapped[Submission] = relationship(back_populates="attachments")

    __table_args__ = (
        sa.UniqueConstraint("submission_id", "name", name="uq_submission_attachments_sub_name"),
    )


class SubmissionBlob(db.Model):
    """Raw submission XML kept in the database, addressed by its sha256 (storage key `db:…`):
    written in the same transaction as its submission row, so one commit makes both durable."""

    __tablename__ = "submission_blobs"

    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    xml: Mapped[bytes] = mapped_column(sa.LargeBinary)
