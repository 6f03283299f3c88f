from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, render_template, url_for
from flask_login import current_user

from server.access import LOGGED_IN, PUBLIC, allow, allowed_roles, rule_for
from server.extensions import db
from server.models import Area, Building, Role
from server.services import scope
from server.services.processing import queue

bp = Blueprint("home", __name__)


@dataclass(frozen=True)
class HomeLink:
    endpoint: str
    label: str


def add_home_link(app: Flask, endpoint: str, label: str) -> None:
    """Offer a page on the home menu; who sees it follows the page's own access rule."""
    app.extensions.setdefault("doorstep.home_links", []).append(HomeLink(endpoint, label))


@bp.app_context_processor
def _home_links():
    def home_links(role: str) -> list[dict[str, str]]:
        links = current_app.extensions.get("doorstep.home_links", [])
        return [
            {"url": url_for(link.endpoint), "label": link.label}
            for link in links
            if Role(role) in allowed_roles(rule_for(link.endpoint))
        ]

    return {"home_links": home_links}


@bp.route("/")
@allow(LOGGED_IN)
def index():
    """One page per role: what this person does here, and where to go next."""
    areas = [a.area for a in current_user.assignments]
    streets = scope.street_ids(current_user)  # the counts are of what this user may see
    counts = {
        "buildings": db.session.scalar(scope.where_street(
            sa.select(sa.func.count(Building.id)), Building.street_id, current_user)),
        "streets": (db.session.scalar(sa.select(sa.func.count(Area.id))
                                      .where(Area.level == "street"))
                    if streets is None else len(streets)),
        "coordinators": db.session.scalar(sa.select(sa.func.count()).select_from(
            scope.team_coordinators(current_user).subquery())),
    }
    backlog = queue.backlog() if current_user.role == Role.ADMIN.value else None
    return render_template("home.html", areas=areas, counts=counts,
                           everywhere=streets is None, backlog=backlog)


@bp.route("/healthz")
@allow(PUBLIC)
def healthz():
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
