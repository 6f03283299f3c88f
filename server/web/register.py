"""Supervisors' view of the register: persons and households of their areas, conflicts, history."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, render_template, request
from flask_login import current_user

from server.access import allow
from server.extensions import db
from server.i18n import gettext as _
from server.models import Entity, Role
from server.services import privacy
from server.services.register import entities
from server.services.register import residence as register
from server.web.home import add_home_link

bp = Blueprint("register", __name__, url_prefix="/register")
READERS = (Role.SUPERVISOR, Role.ADMIN)
DATASETS = ("persons", "households", "buildings")


def _shown(value: object, name: str, unmasked: bool) -> object:
    return privacy.shown_value(name, value, unmasked)


@bp.route("/")
@allow(*READERS)
def index():
    dataset = request.args.get("list", "persons")
    if dataset not in DATASETS:
        abort(404, description=_("No such list."))
    conflicts = request.args.get("conflicts") == "1"
    q = (request.args.get("q") or "").strip()
    rows = entities.query_entities(dataset, current_user, conflicts_only=conflicts, limit=500)
    if q:
        wanted = register.normalise_id(q)
        rows = [e for e in rows if q in e.label
                or (e.properties or {}).get("id_number") == wanted]
    unmasked = privacy.can_see_personal_data(current_user)
    if unmasked and dataset == "persons" and rows:
        privacy.audit_unmasked("personal_data.view", current_user, object_type="register",
                               object_id=dataset, count=len(rows), query=q)
    return render_template("register/index.html", rows=rows, dataset=dataset, q=q,
                           conflicts=conflicts, unmasked=unmasked, shown=_shown,
                           datasets=DATASETS)


@bp.route("/<dataset>/<uuid>")
@allow(*READERS)
def detail(dataset: str, uuid: str):
    entity = db.session.scalar(sa.select(Entity).where(Entity.dataset == dataset,
                                                       Entity.uuid == uuid))
    if entity is None or not entities.visible_to(entity, current_user):
        abort(404, description=_("No such record."))
    unmasked = privacy.can_see_personal_data(current_user)
    if unmasked and dataset == "persons":
        privacy.audit_unmasked("personal_data.view", current_user, object_type="entity",
                               object_id=entity.uuid)
    residences = register.residence_history(entity) if dataset == "persons" else []
    return render_template("register/detail.html", entity=entity, residences=residences,
                           unmasked=unmasked, shown=_shown)


def init_app(app: Flask) -> None:

    app.register_blueprint(bp)
    add_home_link(app, "register.index", "Register")
