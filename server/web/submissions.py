"""Supervisor pages: the submission list with filters, one submission, review, exports."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from server.access import allow
from server.extensions import db
from server.i18n import gettext as _
from server.models import Form, Role
from server.models.submissions import PROCESSING_STATES, REVIEW_STATES
from server.params import MAX_SQL_INT, int_arg
from server.services import choice_labels, scope
from server.services.errors import ServiceError
from server.services.submissions import exports as sx
from server.services.submissions import review as rv
from server.web.downloads import send_attachment
from server.web.home import add_home_link

bp = Blueprint("submissions", __name__, url_prefix="/submissions")
VIEWERS = (Role.SUPERVISOR, Role.ADMIN, Role.COORDINATOR)
PAGE = 50


@bp.route("/")
@allow(*VIEWERS)
def index():
    filters = sx.Filters.from_args(request.args)
    page = max(int_arg("page", 1, maximum=MAX_SQL_INT // PAGE), 1)
    q = sx.query(current_user, filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery()))
    subs = db.session.scalars(q.limit(PAGE).offset((page - 1) * PAGE)).all()
    return render_template(
        "submissions/index.html",
        subs=subs, filters=filters, page=page, total=total, pages=max(1, -(-total // PAGE)),
        forms=db.session.scalars(sa.select(Form.xml_form_id).order_by(Form.xml_form_id)).all(),
        coordinators=[u.username for u in db.session.scalars(
            scope.team_coordinators(current_user))],
        review_states=REVIEW_STATES, processing_states=PROCESSING_STATES,
        query={k: v for k, v in request.args.items() if k != "page" and v},
    )


def _visible(submission_id: int):
    sub = sx.get_visible(current_user, submission_id)
    if sub is None:
        abort(404)
    return sub


@bp.route("/<int:submission_id>")
@allow(*VIEWERS)
def show(submission_id: int):
    sub = _visible(submission_id)
    record = sx.flatten(sub)  # StorageError: 500 with the reason
    unmasked = sx.privacy.can_see_personal_data(current_user)
    shown = choice_labels.record_in_words(sx.masked(record, unmasked), sub.form_version)
    original, correction = rv.versions(current_user, sub)
    changes = (rv.changed_answers(choice_labels.record_in_words(
        sx.masked(sx.flatten(original), unmasked), original.form_version), shown)
        if original is not None else [])
    sx.audit_read(current_user, sub)
    return render_template("submissions/show.html", sub=sub, record=shown,
                           review_states=REVIEW_STATES, reasons=rv.reason_choices(),
                           decision=rv.latest(sub), reason_label=rv.reason_label,
                           original=original, correction=correction, changes=changes)


@bp.route("/<int:submission_id>/review", methods=["POST"])
@allow(Role.SUPERVISOR, Role.ADMIN)
def review(submission_id: int):
    sub = _visible(submission_id)
    try:
        sx.set_review_state(current_user, sub, request.form.get("review_state", ""),
                            request.form.get("reason"), request.form.get("comment"))
    except ServiceError as err:  # back to the submission, the reason above it
        flash(err.localized(), "error")
        return redirect(url_for(".show", submission_id=sub.id)), 303
    flash(_("Review state saved."), "info")
    return redirect(url_for(".show", submission_id=sub.id))


@bp.route("/<int:submission_id>/attachments/<name>")
@allow(*VIEWERS)
def attachment(submission_id: int, name: str):
    sub = _visible(submission_id)
    att = next((a for a in sub.attachments if a.name == name and a.storage_key), None)
    if att is None:
        abort(404)
    return send_attachment(att)


@bp.route("/export.<fmt>")
@allow(Role.SUPERVISOR, Role.ADMIN, Role.COORDINATOR)
def export(fmt: str):
    if fmt not in sx.EXPORTS:
        abort(404)
    data, content_type = sx.export(current_user, sx.Filters.from_args(request.args), fmt)
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="submissions.{fmt}"'
    return response


def init_app(app: Flask) -> None:

    app.register_blueprint(bp)
    add_home_link(app, "submissions.index", "Submissions")
