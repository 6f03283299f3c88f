"""Phases (阶段): the stages of the plan that rounds live in, created and edited by supervisors
and admins from the page, the API and the CLI alike.

A phase's kind is the plan's default targets for it (docs/DOMAIN.md): push, update rate ≥ 90 %
and accuracy 100 %; steady state, 100 % and 100 %. Targets typed in win over the kind's. A round
created in a phase starts from its targets and keeps its own afterwards, so editing a phase
changes the rounds planned later, not those already planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from server.extensions import db
from server.i18n import N_
from server.models import Phase, Role, Round, User
from server.services import audit
from server.services.coverage import round_plans
from server.services.coverage.round_plans import RoundError

#: kind -> (update-rate target, accuracy target), the plan's defaults.
KINDS = {"push": (0.9, 1.0), "steady": (1.0, 1.0)}
#: How people may name a kind (the page sends the key; the CLI and API also take these).
_KIND_NAMES = {"push": "push", "推进": "push", "推进阶段": "push",
               "steady": "steady", "常态": "steady", "常态管理": "steady", "常态管理阶段": "steady"}
KIND_LABELS = {"push": N_("Push phase"), "steady": N_("Steady state")}
FIELDS = ("name", "kind", "update_rate_target", "accuracy_target")


def list_phases() -> list[Phase]:
    """Every phase, oldest first. The plan's two are created on first use and committed, so the
    ids a page offers are the ids the next request finds (on PostgreSQL a rolled-back id is
    never given again)."""
    if db.session.scalar(sa.select(Phase.id).limit(1)) is None:
        round_plans.ensure_phases()
        db.session.commit()
    return list(db.session.scalars(sa.select(Phase).order_by(Phase.id)))


def kind_of(phase: Phase) -> str | None:
    """The kind whose targets the phase has, or None for targets of its own."""
    targets = (phase.update_rate_target, phase.accuracy_target)
    return next((k for k, v in KINDS.items() if v == targets), None)


def round_counts() -> dict[int, int]:
    """Rounds per phase id."""
    return dict(db.session.execute(
        sa.select(Round.phase_id, sa.func.count(Round.id)).group_by(Round.phase_id)).all())


def describe(phase: Phase) -> dict[str, Any]:
    """A phase as the audit log, the API and the CLI show it."""
    return {"id": phase.id, "name": phase.name, "kind": kind_of(phase),
            "update_rate_target": phase.update_rate_target,
            "accuracy_target": phase.accuracy_target}


def _kind(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    kind = _KIND_NAMES.get(text.lower())
    if kind is None:
        raise RoundError("No phase kind {kind}; one of push (推进), steady (常态)", kind=text)
    return kind


def _may_plan(user: User | None, phase: Phase | None) -> None:
    """Supervisors and admins (and the command line); a supervisor edits a phase only while
    every round in it covers their own areas."""
    if user is None or user.role == Role.ADMIN.value:
        return
    if user.role != Role.SUPERVISOR.value:
        raise RoundError("Only supervisors and admins plan phases")
    if phase is None:
        return
    for r in db.session.scalars(sa.select(Round).where(Round.phase_id == phase.id)):
        try:
            round_plans.check_may_plan(user, tuple(ra.area for ra in r.areas))
        except RoundError:
            raise RoundError("Phase «{name}» holds round «{round}» outside your areas: ask an "
                             "admin to change it", name=phase.name, round=r.name) from None


def _apply(phase: Phase, raw: Mapping[str, Any], creating: bool) -> None:
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise RoundError("Unknown field {fields}; fields: {known}", fields=", ".join(unknown),
                         known=", ".join(FIELDS))
    if "name" in raw or creating:
        name = str(raw.get("name") or "").strip()
        if not name:
            raise RoundError("A phase needs a name")
        if len(name) > 128:
            raise RoundError("The name is longer than 128 characters")
        other = db.session.scalar(sa.select(Phase.id).where(Phase.name == name))
        if other is not None and other != phase.id:
            raise RoundError("A phase named «{name}» already exists", name=name)
        phase.name = name
    kind = _kind(raw.get("kind"))
    update, accuracy = KINDS[kind] if kind else (None, None)
    typed = {f: round_plans.parse_target(raw.get(f), f)
             for f in ("update_rate_target", "accuracy_target")}
    update = typed["update_rate_target"] or update
    accuracy = typed["accuracy_target"] or accuracy
    if creating and (update is None or accuracy is None):
        raise RoundError("A phase needs a kind (push or steady) or both targets")
    if update is not None:
        phase.update_rate_target = update
    if accuracy is not None:
        phase.accuracy_target = accuracy


def create_phase(user: User | None, raw: Mapping[str, Any]) -> Phase:
    """Check, save and audit a new phase: a name and a kind (or both targets)."""
    try:
        _may_plan(user, None)
        list_phases()  # the plan's two first, so they keep the lowest ids
        phase = Phase()
        _apply(phase, raw, creating=True)
    except RoundError:
        db.session.rollback()
        raise
    db.session.add(phase)
    db.session.flush()
    audit.record("phase.create", user=user, object_type="phase", object_id=phase.id,
                 **describe(phase))
    db.session.commit()
    return phase


def edit_phase(user: User | None, phase_id: int, raw: Mapping[str, Any]) -> Phase:
    """Change a phase (only the fields given; a kind resets the targets not typed in)."""
    try:
        phase = db.session.get(Phase, phase_id)
        if phase is None:
            raise RoundError("No phase with id {id}", id=phase_id, status=404)
        _may_plan(user, phase)
        before = describe(phase)
        _apply(phase, raw, creating=False)
    except RoundError:
        db.session.rollback()
        raise
    audit.record("phase.edit", user=user, object_type="phase", object_id=phase.id,
                 **describe(phase), before=before)
    db.session.commit()
    return phase
