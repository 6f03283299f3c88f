from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from server.access import LOGGED_IN, PUBLIC, allow
from server.extensions import db, login_manager
from server.i18n import gettext as _
from server.models import User
from server.services import api_tokens, audit, logins, users

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    """The session names `<user id>.<session generation>` (User.get_id): a session made before
    the user's last logout, password reset or deactivation names an older generation."""
    user_id, _, generation = session_id.partition(".")
    if not (user_id.isdigit() and generation.isdigit()):
        return None  # a session from before generations existed, or a forged one
    user = db.session.get(User, int(user_id))
    if user is None or user.session_generation != int(generation):
        return None
    return user


#: Paths where a personal API token stands in for the session: `Authorization: Bearer <token>`,
#: and for the OData feed HTTP Basic with the token as password (what Excel and Power BI send).
BEARER_PATHS = ("/api/", "/odata/")
BASIC_PATHS = ("/odata/",)


@login_manager.request_loader
def _load_token_user(req) -> User | None:
    """The user of a personal API token (server.services.api_tokens), on the paths above only:
    pages keep needing a session. The token's id is kept in `g` for the audit log."""
    path = req.path
    auth = req.authorization
    if auth is None or not path.startswith(BEARER_PATHS):
        return None
    if auth.type == "bearer" and auth.token:
        found = api_tokens.user_for(auth.token)
    elif auth.type == "basic" and path.startswith(BASIC_PATHS) and auth.password:
        found = api_tokens.user_for(auth.password)
        if found is not None and found[0].username != auth.username:
            found = None  # the token of someone else than the user named
    else:
        return None
    if found is None:
        return None
    g.api_token_id = found[1].id
    return found[0]


@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
def login():
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        try:
            user = logins.authenticate(username, password, via="page")
        except logins.LoginThrottled as err:
            minutes = max(1, round(err.retry_after / 60))
            flash(_("Too many failed logins. Try again in {minutes} min.", minutes=minutes),
                  "error")
            response = Response(render_template("login.html", username=username), 429)
            response.headers["Retry-After"] = str(err.retry_after)
            return response
        if user is None:
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
    """Ends every session of the user, not only this browser's (a cookie copied elsewhere
    stops working too)."""
    users.end_sessions(current_user)
    audit.record("logout", user=current_user)
    db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))


def init_app(app) -> None:
    app.register_blueprint(bp)
