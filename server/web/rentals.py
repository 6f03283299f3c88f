"""The rental-housing register's pages (出租房屋台账): units by village, a landlord with all their
units, a unit with its inspections and rectifications, the violations of a village for a joint
inspection (and a page to print), the workbook; supervisors order and close rectifications."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from server import localtime
from server.access import allow
from server.extensions import db
from server.i18n import current_locale
from server.i18n import gettext as _
from server.models import Entity, Role
from server.models._types import utcnow
from server.services import choice_labels, privacy
from server.services.register import people
from server.services.rentals import exports, ledger, rectifications, rules
from server.web.home import add_home_link

bp = Blueprint("rentals", __name__, url_prefix="/rentals")
READERS = (Role.SUPERVISOR, Role.ADMIN)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _unmasked(what: str, object_id: str, count: int) -> bool:
    """Whether the reader sees landlords' numbers; if so (and there are any), audited."""
    unmasked = privacy.can_see_personal_data(current_user)
    if unmasked and count:
        privacy.audit_unmasked("personal_data.view", current_user, object_type=what,
                               object_id=object_id, count=count)
    return unmasked


def _page_args(unmasked: bool) -> dict:
    """What every page of the register shows values with."""
    words = choice_labels.DatasetWords("households")
    locale = current_locale()
    places = ledger.places()

    def place_of(unit) -> str:
        p = places.get(unit.area_id)
        if p is None:
            return "—"
        village = exports.area_name(p.village, locale)
        return f"{village} · {p.street.code}" if village else p.street.code

    return {"words": words, "describe": lambda code, detail: rules.describe(code, detail, locale),
            "rule_text": lambda code: rules.BY_CODE[code].text(locale) if code in rules.BY_CODE
            else code, "stage_words": exports.STAGES, "place_of": place_of, "unmasked": unmasked,
            "shown": lambda name, value: privacy.shown_value(name, value, unmasked),
            "can_act": current_user.role_enum is Role.SUPERVISOR}


@bp.route("/")
@allow(*READERS)
def index():
    village = request.args.get("village") or None
    units = ledger.units(current_user, village)
    unmasked = _unmasked("rentals", village or "", sum(1 for u in units if u.landlord))
    return render_template(
        "rentals/index.html", villages=ledger.by_village(current_user, localtime.today()),
        units=units, village=village, **_page_args(unmasked))


@bp.route("/units/<uuid>")
@allow(*READERS)
def unit(uuid: str):
    found = ledger.unit(current_user, uuid)
    household = db.session.get(Entity, found.entity_id)
    tenants = people.residents(household).current if household is not None else []
    unmasked = _unmasked("rental_unit", found.household_uuid,
                         len(tenants) + (1 if found.landlord else 0))
    history = ledger.of_units([found.household_uuid])[found.household_uuid]
    status_of = {r.id: ledger.status(r, found) for r in history}
    open_rules = {r.rule for r in history if r.state == ledger.OPEN}
    return render_template(
        "rentals/unit.html", unit=found, household=household, tenants=tenants,
        history=history, status_of=status_of, open_rules=open_rules, today=localtime.today(),
        **_page_args(unmasked))


@bp.route("/landlords/<ref>")
@allow(*READERS)
def landlord(ref: str):
    found, units = ledger.landlord(current_user, ref)
    unmasked = _unmasked("rental_landlord", found.ref, 1)
    return render_template(
        "rentals/landlord.html", landlord=found, units=units, **_page_args(unmasked))


def _violations(template: str):
    village = request.args.get("village") or None
    rows = ledger.violations(current_user, village)
    unmasked = _unmasked("rental_violations", village or "",
                         len({r.unit.id for r in rows if r.unit.landlord}))
    stages = {r.rectification.id: ledger.status(r.rectification, r.unit)
              for r in rows if r.rectification is not None}
    return render_template(
        template, rows=rows, village=village, rect_stages=stages,
        villages=ledger.by_village(current_user, localtime.today()),
        printed_at=localtime.fmt(utcnow()), locale=current_locale(), **_page_args(unmasked))


@bp.route("/violations")
@allow(*READERS)
def violations():
    """The violations of the reader's villages (or one) for a joint inspection (联合执法)."""
    return _violations("rentals/violations.html")


@bp.route("/violations/print")
@allow(*READERS)
def violations_print():
    """The same list on a page made for paper: no menus, one table per village."""
    return _violations("rentals/violations_print.html")


@bp.route("/export.xlsx")
@allow(*READERS)
def export():
    village = request.args.get("village") or None
    if village:
        ledger.units(current_user, village)  # an unknown village: 404 before any work
    data = exports.workbook(current_user, village, current_locale())
    response = Response(data, content_type=XLSX)
    name = f"rentals-{village}.xlsx" if village else "rentals.xlsx"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _due(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


@bp.route("/units/<uuid>/rectifications", methods=["POST"])
@allow(Role.SUPERVISOR)
def order(uuid: str):
    """Order a rectification of one of the unit's violations by a due date."""
    rect = rectifications.order(current_user, uuid, request.form.get("rule", ""),
                                _due(request.form.get("due_on")), request.form.get("note", ""))
    flash(_("Rectification ordered, due {day}.", day=rect.due_on.isoformat()))
    return redirect(url_for("rentals.unit", uuid=uuid), 303)


@bp.route("/rectifications/<int:rect_id>/close", methods=["POST"])
@allow(Role.SUPERVISOR)
def close(rect_id: int):
    """Close a rectification that a re-inspection found put right."""
    rect = rectifications.close(current_user, rect_id, request.form.get("note", ""))
    flash(_("Rectification closed."))
    return redirect(url_for("rentals.unit", uuid=rect.household_uuid), 303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_home_link(app, "rentals.index", "Rental housing")
