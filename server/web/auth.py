from __future__ import annotations

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
        target = request.args.get("next", "")
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("home.index")
        return redirect(target)
    return render_template("login.html", username="")


@bp.route("/logout", methods=["POST"])
@allow(LOGGED_IN)
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


def init_app(app) -> None:
    app.register_blueprint(bp)
