"""Trying a draft on a phone before publishing it (as ODK Central's draft testing does).

Every draft version gets a secret token when it is uploaded. Its test link
`/o/draft/<token>/` is a small OpenRosa server that lists only that draft (server.openrosa.draft);
what a phone sends there is stored durably like any submission but flagged `draft`:

- test submissions are never processed (processing_state "test"): no register, no visits, no
  coverage;
- they are hidden from the supervisors' submission lists and exports; the designer's form
  page counts them;
- publishing any version of the form ends its testing: the test submissions of its drafts are
  deleted (rows, stored XML, attachment files no other submission uses), and the token stops
  working (404 with a message), as does the token of a draft replaced by a newer upload or of a
  closed form.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.extensions import db
from server.models import Form, FormVersion, Submission, SubmissionAttachment, SubmissionBlob
from server.services import storage
from server.services.errors import ServiceError

FILES_TO_REMOVE = "doorstep.draft_files_to_remove"


class DraftLinkError(ServiceError):
    """A test link that does not (or no longer) lead to a draft: 404 with the reason."""

    status = 404
    code = "draft_link_invalid"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def ensure_token(version: FormVersion) -> str | None:
    """The draft's token, created when missing (drafts stored by other means); None when the
    version is not a draft. The caller commits."""
    if version.state != "draft":
        return None
    if not version.draft_token:
        version.draft_token = new_token()
    return version.draft_token


def newest_draft(form: Form) -> FormVersion | None:
    return next((v for v in reversed(form.versions) if v.state == "draft"), None)


def find_draft(token: str) -> FormVersion:
    """The draft a test link names; DraftLinkError(404) says why a link no longer works."""
    version = None
    if token and len(token) <= 64:
        version = db.session.scalar(sa.select(FormVersion).where(FormVersion.draft_token == token))
    if version is None:
        raise DraftLinkError("Unknown draft test link: scan the QR code on the form's page "
                             "again.")
    form = version.form
    named = {"version": version.version, "form_id": form.xml_form_id}
    if version.state != "draft":
        raise DraftLinkError("Draft version {version!r} of form {form_id!r} was published: this "
                             "test link no longer works. Collect data with your own project "
                             "instead.", **named)
    if form.state == "closed":
        raise DraftLinkError("Form {form_id!r} is closed: its draft test link no longer works.",
                             form_id=form.xml_form_id)
    if newest_draft(form) is not version:
        raise DraftLinkError("Draft version {version!r} of form {form_id!r} was replaced by a "
                             "newer draft: scan the new QR code on the form's page.", **named)
    return version


def sent_to_drafts(form: Form) -> list[Submission]:
    """The test submissions sent to this form's drafts, newest first."""
    versions = sa.select(FormVersion.id).where(FormVersion.form_id == form.id)
    return list(db.session.scalars(
        sa.select(Submission)
        .where(Submission.draft.is_(True), Submission.form_version_id.in_(versions))
        .order_by(Submission.id.desc())
    ))


def discard_test_submissions(form: Form) -> int:
    """Delete the form's test submissions (not committed; attachment files no other
    submission uses are removed once the transaction commits). Returns how many."""
    versions = sa.select(FormVersion.id).where(FormVersion.form_id == form.id)
    rows = db.session.execute(
        sa.select(Submission.id, Submission.xml_sha256)
        .where(Submission.draft.is_(True), Submission.form_version_id.in_(versions))
    ).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    digests = {r.xml_sha256 for r in rows}
    keys = set(db.session.scalars(
        sa.select(SubmissionAttachment.storage_key).where(
            SubmissionAttachment.submission_id.in_(ids),
            SubmissionAttachment.storage_key.is_not(None))
    ))
    for sub in db.session.scalars(sa.select(Submission).where(Submission.id.in_(ids))):
        db.session.expunge(sub)  # the rows go by Core statements below
    db.session.execute(sa.delete(SubmissionAttachment)
                       .where(SubmissionAttachment.submission_id.in_(ids)))
    db.session.execute(sa.delete(Submission).where(Submission.id.in_(ids)))
    still_used = set(db.session.scalars(
        sa.select(Submission.xml_sha256).where(Submission.xml_sha256.in_(digests))))
    if digests - still_used:  # the XML is content-addressed: keep what others still name
        db.session.execute(sa.delete(SubmissionBlob)
                           .where(SubmissionBlob.sha256.in_(digests - still_used)))
    if keys:
        shared = set(db.session.scalars(
            sa.select(SubmissionAttachment.storage_key)
            .where(SubmissionAttachment.storage_key.in_(keys))))
        paths = [storage.path_of(k) for k in keys - shared if not storage.is_db_key(k)]
        db.session.info.setdefault(FILES_TO_REMOVE, []).extend(paths)
    return len(ids)


@event.listens_for(Session, "after_commit")
def _remove_files(session: Session) -> None:
    """Files go only after the rows naming them are gone for good."""
    for path in session.info.pop(FILES_TO_REMOVE, ()):
        Path(path).unlink(missing_ok=True)


@event.listens_for(Session, "after_rollback")
def _keep_files(session: Session) -> None:
    session.info.pop(FILES_TO_REMOVE, None)
