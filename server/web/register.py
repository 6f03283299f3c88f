"""Supervisors' view of the register: persons and households of their areas, conflicts, history."""

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
from server.models import Entity, Role
from server.services import audit, choice_labels, privacy
from server.services.register import entities, notes, people, review
from server.services.register import exports as register_exports
from server.services.register import residence as register
from server.web.home import add_home_link

bp = Blueprint("register", __name__, url_prefix="/register")
READERS = (Role.SUPERVISOR, Role.ADMIN)
DATASETS = ("persons", "households", "buildings")
#: Rows on one page of a register list (a township's list runs to tens of thousands).
PAGE_SIZE = 100
#: What a held registration shows of the person and of the submission, side by side.
SHOWN_FIELDS = ("full_name", "id_number", "sex", "birth_date", "phone", "household",
                "arrival_date", "status")
#: English keys (translated when shown) for the refusals of a decision.
def _shown(value: object, name: str, unmasked: bool) -> object:
    return privacy.shown_value(name, value, unmasked)


#: Properties that name another record by its UUID; shown by that record's label.
REFERENCES = ("household", "moved_from")


def _in_words(dataset: str, unmasked: bool, records: list):
    """A cell as people read it: masked where the role may not see it, a household by its
    address, a choice by its label."""
    words = choice_labels.DatasetWords(dataset)
    named = people.by_uuid([(props or {}).get(name) for e in records
                            for props in (e.properties, *(v.properties for v in e.versions))
                            for name in REFERENCES])

    def shown(value: object, name: str, _unmasked: bool = unmasked) -> object:
        if privacy.is_personal_field(name):
            return privacy.shown_value(name, value, unmasked)
        if name in REFERENCES and isinstance(value, str):
            return named[value].label if value in named else _("(not in the register)")
        return words(name, value)

    return shown


def _notes(records: list):
    """Review notes in the reader's language, households named by address."""
    named = people.by_uuid([u for e in records for u in notes.households_named(e.conflict)])

    def note(text: str | None) -> str:
        return notes.in_words(text, lambda u: named[u].label if u in named else u)

    return note


@bp.route("/")
@allow(*READERS)
def index():
    dataset = request.args.get("list", "persons")
    if dataset not in DATASETS:
        abort(404, description=_("No such list."))
    conflicts = request.args.get("conflicts") == "1"
    q = (request.args.get("q") or "").strip()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows = entities.query_entities(dataset, current_user, conflicts_only=conflicts, search=q,
                                   limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    unmasked = privacy.can_see_personal_data(current_user)
    if unmasked and dataset == "persons" and rows:
        privacy.audit_unmasked("personal_data.view", current_user, object_type="register",
                               object_id=dataset, count=len(rows), query=q)
    counts = people.current_counts(rows) if dataset == "households" else {}
    return render_template("register/index.html", rows=rows, dataset=dataset, q=q,
                           conflicts=conflicts, unmasked=unmasked,
                           shown=_in_words(dataset, unmasked, rows), datasets=DATASETS,
                           counts=counts, note=_notes(rows), exports=register_exports.DATASETS,
                           page=page, more=more)


@bp.route("/export.<fmt>")
@allow(*READERS)
def export(fmt: str):
    """A whole list of the user's areas as CSV or XLSX (?list=persons|households|buildings|
    rentals), masked as the pages mask; audited."""
    dataset = request.args.get("list", "persons")
    data, content_type = register_exports.export(current_user, dataset, fmt)
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{dataset}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


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
    residents = people.residents(entity) if dataset == "households" else people.Residents()
    households = people.households_of(entity) if dataset == "buildings" else []
    building = people.building_of(entity) if dataset == "households" else None
    visible = [e for e in (*residents.current, *residents.former, *households)
               if entities.visible_to(e, current_user)]
    if unmasked and dataset == "households" and visible and not households:
        privacy.audit_unmasked("personal_data.view", current_user, object_type="household",
                               object_id=entity.uuid, count=len(visible))
    named = people.by_uuid([r["household"] for r in residences]
                           + [(entity.properties or {}).get("household")])
    return render_template(
        "register/detail.html", entity=entity, residences=residences, unmasked=unmasked,
        shown=_in_words(dataset, unmasked, [entity]),
        person_words=_in_words("persons", unmasked, []), residents=residents,
        households=households, building=building, visible=visible, named=named,
        counts=people.current_counts(households), note=_notes([entity]))


@bp.route("/conflicts")
@allow(*READERS)
def conflicts():
    """Registrations held for review in the user's areas: the existing record and what the
    submission asked for, side by side."""
    rows = review.open_conflicts(current_user)
    unmasked = privacy.can_see_personal_data(current_user)
    named = {(props or {}).get("household") or "" for c in rows
             for props in (c.properties, c.entity.properties)}
    households = {e.uuid: e for e in db.session.scalars(sa.select(Entity).where(
        Entity.uuid.in_(named)))}
    if unmasked and rows:
        audit.record("personal_data.view", object_type="register_conflicts",
                     object_id=",".join(str(c.id) for c in rows)[:64], count=len(rows))
        db.session.commit()
    return render_template("register/conflicts.html", rows=rows, unmasked=unmasked,
                           shown=_shown, households=households, fields=SHOWN_FIELDS)


@bp.route("/conflicts/<int:conflict_id>", methods=["POST"])
@allow(*READERS)
def decide(conflict_id: int):
    decision = request.form.get("decision", "")
    if decision not in ("accept", "reject"):
        abort(400, description=_("Choose accept or reject."))
    review.decide(current_user, conflict_id, decision == "accept")  # refusals: the page handler
    flash(_("Registration accepted: the person moved.") if decision == "accept"
          else _("Registration rejected: the person stays where they were."), "info")
    return redirect(url_for(".conflicts"), 303)


def init_app(app: Flask) -> None:

    app.register_blueprint(bp)
    add_home_link(app, "register.index", "Register")
