"""Admins' pages: user accounts (roles, areas, passwords, device links) and the audit log."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from server.access import allow
from server.extensions import db
from server.i18n import gettext as _
from server.models import Area, AuditEvent, Role, User
from server.params import id_arg
from server.services import audit, handover, users
from server.services.errors import ServiceError
from server.web.home import add_home_link

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE_SIZE = 100


def _area_codes(form) -> list[str]:
    return [c for c in form.get("areas", "").replace("，", ",").split(",") if c.strip()]


@bp.route("/users", methods=["GET", "POST"])
@allow(Role.ADMIN)
def user_list():
    if request.method == "POST":
        try:
            user, password = users.create_user(
                request.form.get("username", "").strip(),
                request.form.get("role", ""),
                display_name=request.form.get("display_name", "").strip(),
                area_codes=_area_codes(request.form),
            )
        except ServiceError as err:  # the page comes back with the reason above the form
            db.session.rollback()
            flash(_("Not created: {reason}", reason=err.localized()), "error")
            return _render_users(), err.status
        db.session.flush()
        audit.record("user.create", object_type="user", object_id=user.id,
                     username=user.username, role=user.role)
        db.session.commit()
        flash(_("Created {username}. Password (shown once): {password}",
                username=user.username, password=password), "password")
        return redirect(url_for("admin.user_list"))
    return _render_users()


def _render_users() -> str:
    all_users = db.session.scalars(sa.select(User).order_by(User.role, User.username)).all()
    streets = db.session.scalars(
        sa.select(Area).where(Area.level != "township").order_by(Area.path)
    ).all()
    return render_template("admin/users.html", users=all_users, roles=list(Role),
                           areas=streets)


@bp.route("/users/<int:user_id>", methods=["POST"])
@allow(Role.ADMIN)
def user_update(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, description=_("No such user."))
    action = request.form.get("action", "")
    if action == "areas":
        try:
            users.set_areas(user, _area_codes(request.form))
        except ServiceError as err:  # back to the list, the reason above it
            db.session.rollback()
            flash(_("Not changed: {reason}", reason=err.localized()), "error")
            return redirect(url_for("admin.user_list")), 303
        audit.record("user.areas", object_type="user", object_id=user.id,
                     areas=[a.area.code for a in user.assignments])
        flash(_("Areas of {username} saved.", username=user.username), "info")
    elif action in ("deactivate", "activate"):
        if user.id == current_user.id:
            abort(400, description=_("You cannot deactivate your own account."))
        users.set_active(user, action == "activate")
        audit.record(f"user.{action}", object_type="user", object_id=user.id)
        flash(_("{username}: {state}", username=user.username,
                state=_("active") if user.active else _("deactivated")), "info")
    elif action == "handover":
        try:
            done = handover.handover(user.username, request.form.get("successor", "").strip())
        except users.UserError as err:
            db.session.rollback()
            flash(_("Not handed over: {reason}", reason=str(err)), "error")
            return _render_users(), 400
        flash(_("{leaver} handed over to {successor}: areas {areas} ({streets} streets, "
                "{unvisited} unvisited buildings), {returned} returned submissions to correct. "
                "{leaver} is deactivated and their device link no longer works.",
                leaver=done.leaver, successor=done.successor, areas=", ".join(done.areas) or "-",
                streets=done.streets, unvisited=done.unvisited, returned=done.returned), "info")
    elif action == "reset-password":
        password = users.reset_password(user.username)
        audit.record("user.reset_password", object_type="user", object_id=user.id)
        flash(_("New password for {username} (shown once): {password}",
                username=user.username, password=password), "password")
    else:
        abort(400, description=_("Unknown action."))
    db.session.commit()
    return redirect(url_for("admin.user_list")), 303


@bp.route("/audit")
@allow(Role.ADMIN)
def audit_log():
    """Newest first; filter by action prefix (e.g. `personal_data`) or username."""
    action = request.args.get("action", "").strip()
    username = request.args.get("user", "").strip()
    before = id_arg("before")
    query = sa.select(AuditEvent, User.username).outerjoin(User, User.id == AuditEvent.user_id)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if username:
        query = query.where(User.username == username)
    if before:
        query = query.where(AuditEvent.id < before)
    rows = db.session.execute(
        query.order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE_SIZE)
    ).all()
    older = rows[-1][0].id if len(rows) == AUDIT_PAGE_SIZE else None
    return render_template("admin/audit.html", rows=rows, action=action, username=username,
                           older=older)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_home_link(app, "admin.user_list", "Users")
    add_home_link(app, "admin.audit_log", "Audit log")
