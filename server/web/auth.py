from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from server.access import LOGGED_IN, PUBLIC, allow
from server.extensions import db, login_manager
from server.i18n import gettext as _
from server.models import User
from server.services import audit

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
def login():
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if user is None or not user.active or not user.check_password(password):
            flash(_("Wrong username or password."), "error")
            return render_template("login.html", username=username), 401
        login_user(user)
        audit.record("login", user=user)
        db.session.commit()
        return redirect(safe_next(request.args.get("next", "")) or url_for("home.index"))
    return render_template("login.html", username="")


def safe_next(target: str) -> str | None:
    """`target` if it is a path on this site, else None. Browsers drop tabs and newlines and
    read a backslash as a slash, so next=/%09/evil.example would leave the site (//evil.example):
    any of those, a space or a control character refuses the target."""
    if not target.startswith("/") or "\\" in target:
        return None
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith("//"):
        return None
    return target


@bp.route("/logout", methods=["POST"])
@allow(LOGGED_IN)
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


def init_app(app) -> None:
    app.register_blueprint(bp)
