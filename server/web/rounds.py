"""Rounds (轮次) page: supervisors and admins plan, edit and close rounds and watch the
re-derivation they start, and create and edit the phases (阶段) rounds live in; the rules are
server/services/coverage/round_plans.py and phases.py."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from server.access import allow
from server.extensions import db
from server.i18n import gettext
from server.models import Form, Role, Round
from server.services import area_tree, scope
from server.services.coverage import phases, rederive, round_plans, rounds
from server.services.coverage import query as coverage_query
from server.services.coverage import rollups as coverage_rollups
from server.services.coverage.round_plans import RoundError
from server.web.home import add_home_link

bp = Blueprint("rounds", __name__)
STAFF = (Role.SUPERVISOR, Role.ADMIN)
AREAS_LISTED = 400  # areas the round form lists as boxes to tick


def _visible(round_id: int) -> Round:
    """The round, if it covers one of the user's streets (404 otherwise)."""
    r = next((r for r in rounds.visible_rounds(current_user) if r.id == round_id), None)
    if r is None:
        abort(404, f"no round {round_id} in your areas")
    return r


def _raw_form() -> dict[str, Any]:
    """The round form as typed (shown again after an error)."""
    f = request.form
    out: dict[str, Any] = {k: f.get(k, "").strip() for k in round_plans.FIELDS}
    out["areas"], out["forms"] = f.getlist("areas"), f.getlist("forms")
    out["areas"] += [c.strip() for c in f.get("street_codes", "").split(",") if c.strip()]
    return out


def _plan_input(raw: dict[str, Any]) -> dict[str, Any]:
    """What round_plans.parse() reads: the page's targets are percentages."""
    out = dict(raw)
    for field in ("update_rate_target", "accuracy_target"):
        out[field] = f"{raw[field]}%" if raw[field] else ""
    return out


def _choices(chosen: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Phases, the areas the user may plan over, and the forms, for the round form. Beyond
    AREAS_LISTED areas (a city has ~11,000) the form ticks township and villages and takes
    other streets by code; the streets already in the round stay listed."""
    areas = [a for a in area_tree.tree()[0]
             if a.level in ("township", "village", "street")]  # in path order
    if not scope.sees_everything(current_user):
        mine = scope.assigned_paths(current_user)
        areas = [a for a in areas if any(a.path == p or a.path.startswith(p + "/") for p in mine)]
    by_code = len(areas) > AREAS_LISTED
    if by_code:
        keep = set(chosen)
        areas = [a for a in areas if a.level != "street" or a.code in keep]
    forms = db.session.scalars(sa.select(Form).where(Form.state != "draft")
                               .order_by(Form.xml_form_id)).all()
    return {"phases": phases.list_phases(), "areas": areas, "forms": forms,
            "streets_by_code": by_code}


def _error(err: RoundError) -> str:
    return gettext(err.template, **err.values)


def _progress(r: Round) -> dict | None:
    job = rederive.latest(r.id)
    if job is None:
        return None
    return {"state": job.state, "done": job.done, "total": job.total, "moved": job.moved,
            "message": job.message}


def _render_index(values: dict[str, Any], phase_values: dict[str, str], status: int = 200):
    listed = rounds.visible_rounds(current_user)
    return render_template(
        "rounds/index.html", rounds=listed, values=values, status_of=rounds.status_label,
        progress={r.id: _progress(r) for r in listed}, outside=rounds.outside(current_user),
        phase_values=phase_values, **_phase_info(), **_choices(values.get("areas") or ()),
    ), status


@bp.route("/rounds/", methods=["GET", "POST"])
@allow(*STAFF)
def index():
    values: dict[str, Any] = {"starts_on": request.args.get("starts_on", ""),
                              "ends_on": request.args.get("ends_on", "")}
    if request.method == "POST":
        values = _raw_form()
        try:
            r, _job = round_plans.create_round(current_user, _plan_input(values))
        except RoundError as err:
            flash(_error(err), "error")
            return _render_index(values, {}, 400)
        flash(gettext("Round «{name}» created; its visits and coverage are being updated.",
                      name=r.name), "ok")
        return redirect(url_for("rounds.show", round_id=r.id))
    return _render_index(values, {})


# --- phases (阶段) ------------------------------------------------------------------------------


def _phase_info() -> dict[str, Any]:
    return {"phase_rounds": phases.round_counts(), "kind_of": phases.kind_of,
            "kind_labels": phases.KIND_LABELS, "kinds": phases.KINDS}


def _phase_form() -> dict[str, str]:
    """The phase form as typed; the page's targets are percentages."""
    return {k: request.form.get(k, "").strip() for k in phases.FIELDS}


def _phase_input(raw: dict[str, str]) -> dict[str, str]:
    return {**raw, **{f: f"{raw[f]}%" for f in ("update_rate_target", "accuracy_target")
                      if raw.get(f)}}


@bp.post("/rounds/phases")
@allow(*STAFF)
def phase_create():
    raw = _phase_form()
    try:
        phase = phases.create_phase(current_user, _phase_input(raw))
    except RoundError as err:
        flash(_error(err), "error")
        return _render_index({}, raw, 400)
    flash(gettext("Phase «{name}» created.", name=phase.name), "ok")
    return redirect(url_for("rounds.index", _anchor="phases"))


@bp.route("/rounds/phases/<int:phase_id>", methods=["GET", "POST"])
@allow(*STAFF)
def phase_show(phase_id: int):
    phase = next((p for p in phases.list_phases() if p.id == phase_id), None)
    if phase is None:
        abort(404, f"no phase {phase_id}")
    raw, status = {"name": phase.name}, 200
    if request.method == "POST":
        raw = _phase_form()
        try:
            phases.edit_phase(current_user, phase.id, _phase_input(raw))
        except RoundError as err:
            flash(_error(err), "error")
            status = 400
        else:
            flash(gettext("Phase «{name}» saved.", name=phase.name), "ok")
            return redirect(url_for("rounds.phase_show", phase_id=phase.id))
    inside = [r for r in rounds.visible_rounds(current_user) if r.phase_id == phase.id]
    return render_template("rounds/phase.html", phase=phase, values=raw, rounds=inside,
                           status_of=rounds.status_label, **_phase_info()), status


def _summary(r: Round) -> dict:
    """The round's counts in the user's streets, with its targets."""
    f = coverage_query.filters(current_user, round_id=r.id)
    counts = coverage_rollups.counts_over(r.id, f.streets, f.street_ids)
    return {"counts": counts, "streets": None if f.streets is None else len(f.streets)}


@bp.route("/rounds/<int:round_id>", methods=["GET", "POST"])
@allow(*STAFF)
def show(round_id: int):
    r = _visible(round_id)
    status = 200
    values = None
    if request.method == "POST":
        values = _raw_form()
        try:
            round_plans.edit_round(current_user, r.id, _plan_input(values))
        except RoundError as err:
            flash(_error(err), "error")
            status = 400
            r = _visible(round_id)
        else:
            flash(gettext("Round «{name}» saved; its visits and coverage are being updated.",
                          name=r.name), "ok")
            return redirect(url_for("rounds.show", round_id=r.id))
    if values is None:
        values = round_values(r)
    return render_template(
        "rounds/show.html", round=r, values=values, status=rounds.status(r),
        status_label=rounds.status_label(r),
        progress=_progress(r), outside=rounds.outside(current_user), summary=_summary(r),
        **_choices(values.get("areas") or ()),
    ), status


def round_values(r: Round) -> dict[str, Any]:
    """A saved round as the form shows it (targets in %)."""

    def percent(v: float | None) -> str:
        return "" if v is None else f"{v * 100:g}"

    return {
        "name": r.name, "starts_on": r.starts_on.isoformat(), "ends_on": r.ends_on.isoformat(),
        "phase": str(r.phase_id or ""), "areas": [ra.area.code for ra in r.areas],
        "forms": [rf.form.xml_form_id for rf in r.forms],
        "update_rate_target": percent(r.update_rate_target),
        "accuracy_target": percent(r.accuracy_target),
        "match_distance_m": "" if r.match_distance_m is None else f"{r.match_distance_m:g}",
        "gps_accuracy_m": "" if r.gps_accuracy_m is None else f"{r.gps_accuracy_m:g}",
    }  # fmt: skip


@bp.route("/rounds/<int:round_id>/close", methods=["POST"])
@allow(*STAFF)
def close(round_id: int):
    r = _visible(round_id)
    try:
        round_plans.close_round(current_user, r.id)
    except RoundError as err:
        flash(_error(err), "error")
    else:
        flash(gettext("Round «{name}» closed.", name=r.name), "ok")
    return redirect(url_for("rounds.show", round_id=round_id))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_home_link(app, "rounds.index", "Rounds")
