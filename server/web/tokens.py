"""Personal API tokens: each user makes and revokes their own (shown once); an admin sees and
revokes anyone's. The rules are in server.services.api_tokens."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from server.access import LOGGED_IN, allow
from server.extensions import db
from server.i18n import gettext as _
from server.models import ApiToken, Role, User
from server.services import api_tokens
from server.web.home import add_home_link

bp = Blueprint("tokens", __name__)


def _page(user: User, new_token: str = "", status: int = 200):
    feed = url_for("odata.service_document", _external=True)
    response = render_template("tokens/index.html", owner=user, tokens=list(user.api_tokens),
                               new_token=new_token, feed=feed, own=user.id == current_user.id)
    return response, status, {"Cache-Control": "no-store"}


@bp.route("/account/tokens", methods=["GET", "POST"])
@allow(LOGGED_IN)
def index():
    if request.method == "POST":
        # Shown in this answer only: not in a flash message, which would sit in the cookie.
        token = api_tokens.create(current_user, request.form.get("label", ""))
        return _page(current_user, token, 201)
    return _page(current_user)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@allow(LOGGED_IN)
def revoke(token_id: int):
    row = api_tokens.revoke(current_user, token_id, by=current_user)
    flash(_("Token {label} revoked: programs using it are refused from now on.",
            label=row.label), "info")
    return redirect(url_for(".index"), 303)


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, description=_("No such user."))
    return user


@bp.route("/admin/users/<int:user_id>/tokens")
@allow(Role.ADMIN)
def of_user(user_id: int):
    return _page(_user(user_id))


@bp.route("/admin/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@allow(Role.ADMIN)
def revoke_of_user(user_id: int, token_id: int):
    user = _user(user_id)
    row = api_tokens.revoke(user, token_id, by=current_user)
    flash(_("Token {label} revoked: programs using it are refused from now on.",
            label=row.label), "info")
    return redirect(url_for(".of_user", user_id=user.id), 303)


def token_counts() -> dict[int, int]:
    """User id -> how many tokens they hold (the admin's user list)."""
    rows = db.session.execute(sa.select(ApiToken.user_id, sa.func.count(ApiToken.id))
                              .group_by(ApiToken.user_id))
    return dict(rows.tuples().all())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_home_link(app, "tokens.index", "API tokens")
