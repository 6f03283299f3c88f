"""The review loop (issue 10, item 5): a supervisor's decision with its reason, the coordinator's
list of returned submissions, opening one to correct it, and the correction coming back.

"Has issues" and "rejected" send a submission back to the field (RETURNED_STATES): they need a
reason from `REASONS` (a comment too when it is "other"), kept in a ReviewDecision row. The
coordinator who sent it, or their successor after a handover (server.services.scope), sees it
in `returned()` — the phone app asks through its device link, ODK Collect reads `returned_csv()`
as a form's media — opens it (`open_returned()`, audited: the instance holds personal data) and
sends an edit naming it in meta/deprecatedID. That edit replaces the original (ingest marks it
superseded, so it leaves the list), starts as "received", and its visit replaces the original's
(server.services.coverage.visits), so the building counts again. `audit_edit()` records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from forms.entities_csv import EntityRow, render_entity_csv
from server import localtime
from server.extensions import db
from server.i18n import N_
from server.i18n import gettext as _
from server.models import (
    Building,
    Form,
    FormVersion,
    ReviewDecision,
    Submission,
    SubmissionAttachment,
    User,
    Visit,
)
from server.models.submissions import RETURNED_STATES, REVIEW_STATES
from server.services import audit, privacy, scope
from server.services.errors import ServiceError

#: Why a submission goes back: code -> English label (its Chinese in the catalogue).
REASONS: dict[str, str] = {
    "address_mismatch": N_("Address does not match"),
    "incomplete": N_("Information incomplete"),
    "id_number_wrong": N_("ID number is wrong"),
    "photo_unclear": N_("Photo is unclear"),
    "not_visited": N_("Not visited in person"),
    "other": N_("Other"),
}
MAX_COMMENT = 1000
#: The entity-list CSV a form may read (select_one_from_file returned.csv) to show ODK Collect
#: users their returned submissions (forms/township/src/returned.md).
RETURNED_CSV = "returned.csv"
RETURNED_COLUMNS = ["form", "building", "address", "state", "reason", "comment", "returned_at"]


class ReviewStateError(ServiceError):
    """A review decision that is not one of REVIEW_STATES, or lacks what it needs."""

    code = "invalid_review_state"


class ReturnedNotFound(ServiceError):
    """A returned submission the caller may not correct (or one already corrected)."""

    status = 404
    code = "not_found"


def reason_label(code: str | None) -> str:
    """The reason's label in the reader's language ('' for none)."""
    return _(REASONS[code]) if code in REASONS else (code or "")


def reason_choices() -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in REASONS.items()]


def _check(sub: Submission, state: str, reason: str | None, comment: str) -> None:
    choices = ", ".join(REASONS)
    if state not in REVIEW_STATES:
        raise ReviewStateError("unknown review state {state!r}: choose one of {choices}",
                               state=state, choices=", ".join(REVIEW_STATES))
    if sub.superseded:
        raise ReviewStateError("This version was replaced by an edit: review the newest one.",
                               status=409, code="conflict")
    if state not in RETURNED_STATES:
        return
    if not reason:
        raise ReviewStateError("Sending a submission back needs a reason: choose one of "
                               "{choices}", code="reason_required", choices=choices)
    if reason not in REASONS:
        raise ReviewStateError("unknown reason {reason!r}: choose one of {choices}",
                               code="reason_required", reason=reason, choices=choices)
    if reason == "other" and not comment:
        raise ReviewStateError("Say in the comment what is wrong when the reason is Other.",
                               code="reason_required")
    if len(comment) > MAX_COMMENT:
        raise ReviewStateError("The comment is longer than {limit} characters.",
                               limit=MAX_COMMENT)


def decide(user: User, sub: Submission, state: str, reason: str | None = None,
           comment: str | None = "") -> tuple[str, ReviewDecision]:
    """Record a review decision (refused with ReviewStateError, changing nothing); returns the
    previous state and the decision. The caller commits; the audit event goes with it."""
    comment = (comment or "").strip()
    reason = (reason or "").strip() or None
    _check(sub, state, reason, comment)
    returned = state in RETURNED_STATES
    decision = ReviewDecision(submission_id=sub.id, state=state,
                              reason=reason if returned else None,
                              comment=comment if returned else "", decided_by_id=user.id)
    db.session.add(decision)
    old, sub.review_state = sub.review_state, state
    audit.record("submission.review", user=user, object_type="submission", object_id=sub.id,
                 old=old, new=state, reason=decision.reason, comment=decision.comment)
    return old, decision


def latest(sub: Submission) -> ReviewDecision | None:
    """The decision that set the submission's current review state, if one was recorded."""
    return sub.reviews[-1] if sub.reviews else None


def _latest_ids() -> Any:
    return (sa.select(sa.func.max(ReviewDecision.id).label("id"), ReviewDecision.submission_id)
            .group_by(ReviewDecision.submission_id).subquery())


def returned_query(user: User | None) -> sa.Select:
    """The returned submissions `user` may correct: sent back, not yet replaced by an edit,
    among those server.services.scope lets them see (their own, a leaver's handed to them)."""
    q = sa.select(Submission).where(Submission.review_state.in_(RETURNED_STATES),
                                    Submission.superseded.is_(False))
    return scope.where_submission(q, user)


@dataclass
class Returned:
    """One line of the returned list, as the phone app and ODK Collect show it."""

    id: int
    instance_id: str
    form_id: str
    form_name: str
    state: str
    reason: str | None
    comment: str
    returned_at: datetime | None
    returned_by: str
    building: str
    address: str
    received_at: datetime
    submitter: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "instance_id": self.instance_id, "form_id": self.form_id,
            "form_name": self.form_name, "state": self.state, "state_label": _(self.state),
            "reason": self.reason, "reason_label": reason_label(self.reason),
            "comment": self.comment,
            "returned_at": localtime.export_text(self.returned_at),
            "returned_text": localtime.fmt(self.returned_at),  # as the phone shows it
            "returned_by": self.returned_by, "building": self.building, "address": self.address,
            "received_at": localtime.export_text(self.received_at),
            "submitter": self.submitter,
        }


def returned(user: User | None) -> list[Returned]:
    """The returned list, the most recently returned first."""
    last = _latest_ids()
    sent_by = sa.orm.aliased(User)
    decided_by = sa.orm.aliased(User)
    inner = returned_query(user).subquery()
    sub = sa.orm.aliased(Submission, inner)
    q = (
        sa.select(sub, ReviewDecision, Form.xml_form_id, Form.title, FormVersion.title,
                  Building.code, Building.address, sent_by.display_name, sent_by.username,
                  decided_by.display_name)
        .join(FormVersion, FormVersion.id == sub.form_version_id)
        .join(Form, Form.id == FormVersion.form_id)
        .outerjoin(last, last.c.submission_id == sub.id)
        .outerjoin(ReviewDecision, ReviewDecision.id == last.c.id)
        .outerjoin(decided_by, decided_by.id == ReviewDecision.decided_by_id)
        .outerjoin(sent_by, sent_by.id == sub.submitter_id)
        .outerjoin(Visit, Visit.submission_id == sub.id)
        .outerjoin(Building, Building.id == sa.func.coalesce(Visit.chosen_building_id,
                                                               Visit.building_id))
        .order_by(sa.func.coalesce(ReviewDecision.id, 0).desc(), sub.id.desc())
    )
    out = []
    for row in db.session.execute(q):
        s, d = row[0], row[1]
        out.append(Returned(
            id=s.id, instance_id=s.instance_id, form_id=row[2],
            form_name=row[4] or row[3] or row[2],
            state=s.review_state, reason=d.reason if d else None, comment=d.comment if d else "",
            returned_at=d.decided_at if d else None, returned_by=(row[9] or "") if d else "",
            building=row[5] or "", address=row[6] or "", received_at=s.received_at,
            submitter=row[7] or row[8] or "",
        ))
    return out


def returned_csv(user: User | None) -> str:
    """The returned list as an entity-list CSV (name = instanceID) for ODK Collect; empty for
    no user (a draft's test link). No personal data in it (building, reason, comment)."""
    rows = []
    for r in returned(user) if user is not None else []:
        label = " · ".join(x for x in (r.building or r.form_name, reason_label(r.reason)) if x)
        rows.append(EntityRow(r.instance_id, label, 1, {
            "form": r.form_name, "building": r.building, "address": r.address,
            "state": _(r.state), "reason": reason_label(r.reason), "comment": r.comment,
            "returned_at": localtime.fmt(r.returned_at),
        }))
    return render_entity_csv(rows, RETURNED_COLUMNS)


def open_returned(user: User, submission_id: int) -> Submission:
    """A returned submission the user may correct, to load into the form (its answers hold
    personal data: the opening is audited and committed). ReturnedNotFound otherwise."""
    sub = db.session.scalar(returned_query(user).where(Submission.id == submission_id))
    if sub is None:
        raise ReturnedNotFound("No returned submission {id} for you to correct: it was corrected "
                               "already, or accepted.", id=submission_id)
    audit.record("submission.returned_open", user=user, object_type="submission",
                 object_id=sub.id, instance_id=sub.instance_id, review_state=sub.review_state,
                 unmasked=privacy.can_see_personal_data(user))
    db.session.commit()
    return sub


def returned_attachment(user: User, submission_id: int, name: str) -> SubmissionAttachment:
    """A stored attachment of a returned submission the user may correct (the form being
    corrected shows it again); ReturnedNotFound otherwise. Its opening was audited already."""
    sub = db.session.scalar(returned_query(user).where(Submission.id == submission_id))
    att = next((a for a in sub.attachments if a.name == name and a.storage_key), None) \
        if sub is not None else None
    if att is None:
        raise ReturnedNotFound("No attachment {name!r} of a returned submission {id} for you.",
                               name=name, id=submission_id)
    return att


def audit_edit(user: Any, submission_id: int | None, deprecated_id: str) -> None:
    """Record an edit that arrived (meta/deprecatedID): a correction when what it replaces was
    returned, else a plain edit. Commits."""
    original = db.session.execute(
        sa.select(Submission.id, Submission.review_state)
        .where(Submission.instance_id == deprecated_id)).one_or_none()
    state = original.review_state if original is not None else None
    action = "submission.correction" if state in RETURNED_STATES else "submission.edit"
    audit.record(action, user=user, object_type="submission", object_id=submission_id or "",
                 replaces=deprecated_id, replaces_id=original.id if original else None,
                 replaced_state=state)
    db.session.commit()


def versions(user: User, sub: Submission) -> tuple[Submission | None, Submission | None]:
    """(the version this one corrects, the version that corrects it), each when the user may
    see it: the submission page links both ways."""
    original = correction = None
    if sub.deprecated_id:
        original = db.session.scalar(scope.where_submission(
            sa.select(Submission).where(Submission.instance_id == sub.deprecated_id), user))
    if sub.superseded:
        correction = db.session.scalar(scope.where_submission(
            sa.select(Submission).where(Submission.deprecated_id == sub.instance_id), user))
    return original, correction


def _rows(record: Any) -> dict[str, str]:
    out = {k: v for k, v in record.main.items() if not k.startswith("meta/")}
    for name, rows in record.repeats.items():
        for i, row in enumerate(rows, start=1):
            out.update({f"{name}[{i}]/{k}": v for k, v in row.items()
                        if k not in ("key", "parent_key")})
    return out


def changed_answers(old: Any, new: Any) -> list[tuple[str, str, str]]:
    """(field, before, after) for every answer an edit changed, added or removed; `old` and
    `new` are flattened records (server.services.submissions.exports.flatten), already masked
    for the reader."""
    before, after = _rows(old), _rows(new)
    keys = list(before) + [k for k in after if k not in before]
    return [(k, before.get(k, ""), after.get(k, "")) for k in keys
            if before.get(k, "") != after.get(k, "")]
