"""Planning rounds: create, edit and close them, for the page, the API and the CLI alike.

The rules: a round has a name, dates, areas (the township or some villages or streets), the
forms that count as visits, targets and thresholds; supervisors plan only over their own areas;
two rounds over the same area never share a day (the message names the other round). Every
change is audited and queues a job (server/services/coverage/rederive.py) that re-derives the
visits and coverage it touches in the background.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import Area, Form, Phase, Role, Round, RoundArea, RoundForm, RoundJob, User
from server.models._types import utcnow
from server.services import audit, scope
from server.services.coverage import rederive, rounds
from server.services.errors import ServiceError

#: The plan's phases and their targets (update rate, accuracy): docs/DOMAIN.md.
PHASE_PRESETS = (("推进阶段 (push)", 0.9, 1.0), ("常态管理阶段 (steady state)", 1.0, 1.0))
FIELDS = ("name", "starts_on", "ends_on", "areas", "forms", "phase", "update_rate_target",
          "accuracy_target", "match_distance_m", "gps_accuracy_m")  # fmt: skip


class RoundError(ServiceError):
    """A round that cannot be saved as asked; `template` and `values` let pages translate."""

    code = "round_refused"

    def __init__(self, template: str, **values: Any) -> None:
        super().__init__(template, **values)
        self.template, self.values = template, values


@dataclass(frozen=True)
class Plan:
    """A round as asked for, parsed and checked."""

    name: str
    starts_on: date
    ends_on: date
    areas: tuple[Area, ...]
    forms: tuple[Form, ...]
    phase: Phase | None
    update_rate_target: float | None
    accuracy_target: float | None
    match_distance_m: float | None
    gps_accuracy_m: float | None


def ensure_phases() -> list[Phase]:
    """The phases, the plan's two created on first use."""
    phases = db.session.scalars(sa.select(Phase).order_by(Phase.id)).all()
    if not phases:
        for name, update, accuracy in PHASE_PRESETS:
            db.session.add(Phase(name=name, update_rate_target=update, accuracy_target=accuracy))
        db.session.flush()
        phases = db.session.scalars(sa.select(Phase).order_by(Phase.id)).all()
    return list(phases)


# --- parsing what people typed ----------------------------------------------------------------


def _day(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RoundError("{field}: {value!r} is not a date (YYYY-MM-DD)", field=field,
                         value=str(value)) from None


def parse_target(value: Any, field: str) -> float | None:
    """A share: 0.9, 90 or "90%" all mean 90 % (a number above 1 is a percentage)."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().rstrip("%")
    try:
        number = float(text)
    except ValueError:
        raise RoundError("{field}: {value!r} is not a percentage", field=field,
                         value=str(value)) from None
    share = number / 100 if number > 1 or str(value).strip().endswith("%") else number
    if not 0 < share <= 1:
        raise RoundError("{field} must be more than 0 % and at most 100 %", field=field)
    return share


def _metres(value: Any, field: str) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        raise RoundError("{field}: {value!r} is not a number of metres", field=field,
                         value=str(value)) from None
    if not 0 < number <= 10_000:
        raise RoundError("{field} must be between 0 and 10000 metres", field=field)
    return number


def _codes(value: Any, field: str) -> list[str]:
    """Codes as a list or one comma-separated string (JSON `true` or 7 was a 500)."""
    if value is None:
        return []
    if not isinstance(value, str | list | tuple):
        raise RoundError("{field} must be a list of codes", field=field)
    items = value.split(",") if isinstance(value, str) else value
    return [str(v).strip() for v in items if str(v).strip()]


def _areas(codes: list[str], user: User | None) -> tuple[Area, ...]:
    if not codes:  # the user's own areas, or every township
        if user is not None and not scope.sees_everything(user):
            return tuple(a.area for a in user.assignments)
        found = db.session.scalars(sa.select(Area).where(Area.parent_id.is_(None))
                                   .order_by(Area.path)).all()
        if not found:
            raise RoundError("There are no areas yet: import the township's areas first")
        return tuple(found)
    found = {a.code: a for a in db.session.scalars(sa.select(Area).where(Area.code.in_(codes)))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise RoundError("No area with code {codes}", codes=", ".join(missing))
    return tuple(found[c] for c in dict.fromkeys(codes))


def _forms(ids: list[str]) -> tuple[Form, ...]:
    if not ids:
        return ()
    found = {f.xml_form_id: f for f in db.session.scalars(
        sa.select(Form).where(Form.xml_form_id.in_(ids)))}  # fmt: skip
    missing = [i for i in ids if i not in found]
    if missing:
        raise RoundError("No form with id {ids}", ids=", ".join(missing))
    return tuple(found[i] for i in dict.fromkeys(ids))


def _phase(value: Any) -> Phase | None:
    if value is None or str(value).strip() == "":
        return None
    phases = ensure_phases()
    text = str(value).strip()
    for p in phases:
        if text in (str(p.id), p.name, p.name.split(" ")[0]) or f"({text})" in p.name:
            return p
    raise RoundError("No phase named {name}; one of {names}", name=text,
                     names=", ".join(p.name for p in phases))


def parse(raw: Mapping[str, Any], user: User | None, base: Round | None = None) -> Plan:
    """Check what was asked (strings from a page or command line, or JSON); a field left out
    keeps `base`'s value. Raises RoundError with a message for people."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise RoundError("Unknown field {fields}; fields: {known}", fields=", ".join(unknown),
                         known=", ".join(FIELDS))

    def given(field: str) -> bool:
        return field in raw and (base is None or raw[field] is not None)

    name = str(raw["name"]).strip() if given("name") else (base.name if base else "")
    if not name:
        raise RoundError("A round needs a name")
    if len(name) > 128:
        raise RoundError("The name is longer than 128 characters")
    if base is None and not (given("starts_on") and given("ends_on")):
        raise RoundError("A round needs a first day and a last day")
    starts = _day(raw["starts_on"], "starts_on") if given("starts_on") else base.starts_on
    ends = _day(raw["ends_on"], "ends_on") if given("ends_on") else base.ends_on
    if ends < starts:
        raise RoundError("The last day ({end}) is before the first day ({start})",
                         start=starts.isoformat(), end=ends.isoformat())
    if given("areas") or base is None:
        areas = _areas(_codes(raw.get("areas"), "areas"), user)
    else:
        areas = tuple(ra.area for ra in base.areas)
    if not areas:
        raise RoundError("A round needs at least one area")
    forms = _forms(_codes(raw["forms"], "forms")) if given("forms") else (
        tuple(rf.form for rf in base.forms) if base else ())
    phase = _phase(raw["phase"]) if given("phase") else (base.phase if base else None)
    if base is None and phase is None:
        phase = ensure_phases()[0]

    def keep(field: str, parse_value) -> float | None:
        """Given: its value (empty: the default); else the round's, else the phase's."""
        if given(field):
            value = parse_value(raw[field], field)
            if value is not None or base is not None:
                return value
        elif base is not None:
            return getattr(base, field)
        return getattr(phase, field, None) if field.endswith("target") else None

    return Plan(name, starts, ends, areas, forms, phase,
                keep("update_rate_target", parse_target), keep("accuracy_target", parse_target),
                keep("match_distance_m", _metres), keep("gps_accuracy_m", _metres))


# --- the rules --------------------------------------------------------------------------------


def check_may_plan(user: User | None, areas: tuple[Area, ...]) -> None:
    """Supervisors plan over their own areas only; admins (and the command line) anywhere."""
    if user is None or user.role == Role.ADMIN.value:
        return
    if user.role != Role.SUPERVISOR.value:
        raise RoundError("Only supervisors and admins plan rounds")
    mine = scope.assigned_paths(user)
    for a in areas:
        if not any(a.path == p or a.path.startswith(p + "/") for p in mine):
            raise RoundError("{code} is outside your areas: you may plan rounds over your own "
                             "areas only", code=a.code)


def _overlaps(a: list[str], b: list[str] | None) -> str | None:
    """An area path both cover (b None: a round over every street), else None."""
    if b is None:
        return a[0] if a else ""
    for x in a:
        for y in b:
            if x == y or x.startswith(y + "/"):
                return x
            if y.startswith(x + "/"):
                return y
    return None


def check_overlap(plan: Plan, round_id: int | None = None) -> None:
    """Refuse a round sharing a day and an area with another: the message names the other."""
    mine = [a.path for a in plan.areas]
    others = db.session.scalars(
        sa.select(Round).where(Round.starts_on <= plan.ends_on, Round.ends_on >= plan.starts_on)
    ).all()
    for other in others:
        if other.id == round_id:
            continue
        paths = [ra.area.path for ra in other.areas] or None
        shared = _overlaps(mine, paths)
        if shared is not None:
            code = shared.rsplit("/", 1)[-1]
            raise RoundError(
                "Overlaps round «{other}» ({start} – {end}), which already covers {area} on "
                "some of these days: change the dates or the areas",
                other=other.name, start=other.starts_on.isoformat(),
                end=other.ends_on.isoformat(), area=code or "every area")


def _apply(r: Round, plan: Plan) -> None:
    r.name, r.starts_on, r.ends_on, r.phase = plan.name, plan.starts_on, plan.ends_on, plan.phase
    r.update_rate_target, r.accuracy_target = plan.update_rate_target, plan.accuracy_target
    r.match_distance_m, r.gps_accuracy_m = plan.match_distance_m, plan.gps_accuracy_m
    kept_areas = {ra.area_id: ra for ra in r.areas}
    r.areas = [kept_areas.get(a.id) or RoundArea(area=a) for a in plan.areas]
    kept_forms = {rf.form_id: rf for rf in r.forms}
    r.forms = [kept_forms.get(f.id) or RoundForm(form=f) for f in plan.forms]
    r.updated_at = utcnow()


def describe(r: Round) -> dict[str, Any]:
    """A round as the audit log, the API and the CLI show it."""
    return {
        "id": r.id, "name": r.name, "starts_on": r.starts_on.isoformat(),
        "ends_on": r.ends_on.isoformat(), "phase": r.phase.name if r.phase else None,
        "areas": [ra.area.code for ra in r.areas], "forms": [rf.form.xml_form_id for rf in r.forms],
        "update_rate_target": r.update_rate_target, "accuracy_target": r.accuracy_target,
        "match_distance_m": r.match_distance_m, "gps_accuracy_m": r.gps_accuracy_m,
        "status": rounds.status(r), "closed_at": r.closed_at.isoformat() if r.closed_at else None,
    }  # fmt: skip


def _unique_name(name: str, round_id: int | None) -> None:
    q = sa.select(Round.id).where(Round.name == name)
    if round_id is not None:
        q = q.where(Round.id != round_id)
    if db.session.scalar(q) is not None:
        raise RoundError("A round named «{name}» already exists", name=name)


def _finish(r: Round, action: str, from_day: date, to_day: date, user: User | None,
            **detail: Any) -> RoundJob:
    job = rederive.queue(r.id, action, from_day, to_day)
    audit.record(f"round.{action}", user=user, object_type="round", object_id=r.id,
                 **describe(r), **detail)
    db.session.commit()
    rounds.forget()
    rederive.wake()
    return job


def create_round(user: User | None, raw: Mapping[str, Any]) -> tuple[Round, RoundJob]:
    """Check, save, audit, and queue the re-derivation of the visits on its days."""
    try:
        plan = parse(raw, user)
        check_may_plan(user, plan.areas)
        _unique_name(plan.name, None)
        check_overlap(plan)
    except RoundError:
        db.session.rollback()
        raise
    r = Round(created_by_id=user.id if user is not None else None)
    _apply(r, plan)
    db.session.add(r)
    db.session.flush()
    return r, _finish(r, "create", plan.starts_on, plan.ends_on, user)


def _editable(round_id: int, user: User | None) -> Round:
    r = db.session.get(Round, round_id)
    if r is None:
        raise RoundError("No round with id {id}", id=round_id)
    check_may_plan(user, tuple(ra.area for ra in r.areas))
    if r.closed_at is not None:
        raise RoundError("Round «{name}» is closed and can no longer change", name=r.name)
    return r


def edit_round(user: User | None, round_id: int, raw: Mapping[str, Any]
               ) -> tuple[Round, RoundJob]:
    """Change a round; the visits on its old and new days are re-derived in the background."""
    try:
        r = _editable(round_id, user)
        plan = parse(raw, user, base=r)
        check_may_plan(user, plan.areas)
        _unique_name(plan.name, r.id)
        check_overlap(plan, r.id)
    except RoundError:
        db.session.rollback()
        raise
    before = describe(r)
    old_start, old_end = r.starts_on, r.ends_on
    _apply(r, plan)
    return r, _finish(r, "edit", min(old_start, plan.starts_on), max(old_end, plan.ends_on),
                      user, before=before)


def close_round(user: User | None, round_id: int) -> tuple[Round, RoundJob]:
    """End a round today (or on its last day, if earlier): later visits no longer count in it."""
    try:
        r = _editable(round_id, user)
    except RoundError:
        db.session.rollback()
        raise
    old_end = r.ends_on
    r.ends_on = max(r.starts_on, min(r.ends_on, localtime.today()))
    r.closed_at = utcnow()
    r.updated_at = utcnow()
    return r, _finish(r, "close", r.starts_on, old_end, user)
