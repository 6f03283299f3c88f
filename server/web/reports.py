"""The plan's numbers for the centre and the village stations: staffing against 1 : 500."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template
from flask_login import current_user

from server.access import allow
from server.models import Role
from server.services.reports import staffing
from server.web.home import add_home_link

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.route("/staffing")
@allow(Role.SUPERVISOR, Role.ADMIN)
def staffing_page():
    rows = staffing.by_village(current_user)
    return render_template(
        "reports/staffing.html", rows=rows[:-1], total=rows[-1] if rows else None,
        ratio=current_app.config["FLOATING_RESIDENTS_PER_COORDINATOR"],
        home_code=current_app.config["HOME_REGION_CODE"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_home_link(app, "reports.staffing_page", "Staffing (1 : 500)")
