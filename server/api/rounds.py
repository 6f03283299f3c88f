"""Rounds in the JSON API: list, create, edit, close; each answer carries the latest
re-derivation job's progress and the visits outside every round (round_plans holds the rules).
Phases (阶段), which rounds live in: list, create, edit (phases.py holds the rules)."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_login import current_user

from server.access import allow
from server.api import bp, document
from server.api.openapi import json_body
from server.models import Role, Round
from server.services.coverage import phases, rederive, round_plans, rounds

STAFF = (Role.SUPERVISOR, Role.ADMIN)
_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object", "properties": {
        "name": {"type": "string"},
        "starts_on": {"type": "string", "format": "date"},
        "ends_on": {"type": "string", "format": "date"},
        "areas": {"type": "array", "items": {"type": "string"},
                  "description": "area codes (township, village or street); default: yours"},
        "forms": {"type": "array", "items": {"type": "string"},
                  "description": "form ids whose submissions count as visits; [] = every form"},
        "phase": {"type": "string", "description": "phase name or id"},
        "update_rate_target": {"type": "number", "description": "0.9 or 90 (%)"},
        "accuracy_target": {"type": "number", "description": "1.0 or 100 (%)"},
        "match_distance_m": {"type": ["number", "null"]},
        "gps_accuracy_m": {"type": ["number", "null"]},
    }}}},
}  # fmt: skip
_ERRORS = {"400": {"description": "the message says what to fix (e.g. the overlapping round)"},
           "404": {"description": "no such round in your areas"}}
_NUMBER = {"type": ["number", "null"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}
ROUND = {"type": "object", "required": ["id", "name", "starts_on", "ends_on", "status", "job"],
         "properties": {
             "id": {"type": "integer"}, "name": {"type": "string"},
             "starts_on": {"type": "string", "format": "date"},
             "ends_on": {"type": "string", "format": "date"},
             "phase": {"type": ["string", "null"]}, "areas": _STRINGS, "forms": _STRINGS,
             "update_rate_target": _NUMBER, "accuracy_target": _NUMBER,
             "match_distance_m": _NUMBER, "gps_accuracy_m": _NUMBER,
             "status": {"type": "string"}, "closed_at": {"type": ["string", "null"]},
             "job": {"type": ["object", "null"], "description": "the latest re-derivation"}}}
_ROUND = {"200": json_body("the round", ROUND)}
_DAY = {"type": ["string", "null"], "format": "date"}


def _job(round_id: int) -> dict | None:
    job = rederive.latest(round_id)
    if job is None:
        return None
    return {"id": job.id, "action": job.action, "state": job.state, "done": job.done,
            "total": job.total, "moved": job.moved, "message": job.message}


def _round(r: Round) -> dict:
    return {**round_plans.describe(r), "job": _job(r.id)}


def _visible(round_id: int) -> Round:
    r = next((r for r in rounds.visible_rounds(current_user) if r.id == round_id), None)
    if r is None:
        abort(404, f"no round {round_id} in your areas")
    return r


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object")
    return body


@bp.get("/rounds")
@allow(Role.COORDINATOR, *STAFF)
@document("Rounds over your streets (newest first), the current one, and the visits outside "
          "every round.", responses={"200": json_body("the rounds", {
              "type": "object", "required": ["current", "rounds", "outside"],
              "properties": {"current": {"type": ["integer", "null"]},
                             "rounds": {"type": "array", "items": ROUND},
                             "outside": {"type": "object", "required": ["count"],
                                         "properties": {"count": {"type": "integer"},
                                                        "first": _DAY, "last": _DAY}}}})})
def rounds_list():
    current = rounds.current_round(current_user)
    outside = rounds.outside(current_user)
    return jsonify(
        current=current.id if current else None,
        rounds=[_round(r) for r in rounds.visible_rounds(current_user)],
        outside={**outside, "first": outside["first"] and outside["first"].isoformat(),
                 "last": outside["last"] and outside["last"].isoformat()},
    )


@bp.post("/rounds")
@allow(*STAFF)
@document("Create a round; its visits and coverage are re-derived in the background (`job`).",
          requestBody=_BODY, responses={"201": json_body("the round", ROUND), "400": _ERRORS[
              "400"]})
def round_create():
    r, _ = round_plans.create_round(current_user, _body())  # RoundError: 400 via the handler
    return jsonify(_round(r)), 201


@bp.get("/rounds/<int:round_id>")
@allow(Role.COORDINATOR, *STAFF)
@document("One round with the progress of its latest re-derivation.",
          responses={**_ROUND, "404": _ERRORS["404"]})
def round_detail(round_id: int):
    return jsonify(_round(_visible(round_id)))


@bp.patch("/rounds/<int:round_id>")
@allow(*STAFF)
@document("Change a round (only the fields sent); re-derivation runs in the background.",
          requestBody=_BODY, responses={**_ROUND, **_ERRORS})
def round_edit(round_id: int):
    _visible(round_id)
    r, _ = round_plans.edit_round(current_user, round_id, _body())  # RoundError: 400
    return jsonify(_round(r))


@bp.post("/rounds/<int:round_id>/close")
@allow(*STAFF)
@document("Close a round: it ends today (or on its last day) and can no longer change.",
          responses={**_ROUND, **_ERRORS})
def round_close(round_id: int):
    _visible(round_id)
    r, _ = round_plans.close_round(current_user, round_id)  # RoundError: 400 via the handler
    return jsonify(_round(r))


# --- phases (阶段): the stages rounds live in ---------------------------------------------------

_PHASE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object", "properties": {
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["push", "steady"],
                 "description": "push: targets 90 % / 100 %; steady: 100 % / 100 %"},
        "update_rate_target": {"type": "number", "description": "0.9 or 90 (%): wins over kind"},
        "accuracy_target": {"type": "number", "description": "1.0 or 100 (%): wins over kind"},
    }}}},
}  # fmt: skip


PHASE = {"type": "object", "required": ["id", "name", "kind", "rounds"],
         "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                        "kind": {"type": ["string", "null"]},
                        "update_rate_target": _NUMBER, "accuracy_target": _NUMBER,
                        "rounds": {"type": "integer", "description": "rounds it holds"}}}


def _phase(p) -> dict:
    return {**phases.describe(p), "rounds": phases.round_counts().get(p.id, 0)}


@bp.get("/phases")
@allow(Role.COORDINATOR, *STAFF)
@document("Phases (oldest first) with their targets and how many rounds each holds.",
          responses={"200": json_body("the phases", {
              "type": "object", "required": ["phases"],
              "properties": {"phases": {"type": "array", "items": PHASE}}})})
def phases_list():
    return jsonify(phases=[_phase(p) for p in phases.list_phases()])


@bp.post("/phases")
@allow(*STAFF)
@document("Create a phase: a name and a kind (push or steady) or both targets.",
          requestBody=_PHASE_BODY,
          responses={"201": json_body("the phase", PHASE), "400": _ERRORS["400"]})
def phase_create():
    return jsonify(_phase(phases.create_phase(current_user, _body()))), 201  # RoundError: 400


@bp.patch("/phases/<int:phase_id>")
@allow(*STAFF)
@document("Change a phase (only the fields sent; a kind resets the targets not sent). Rounds "
          "already planned keep their targets.", requestBody=_PHASE_BODY,
          responses={"200": json_body("the phase", PHASE), "400": _ERRORS["400"],
                     "404": {"description": "no such phase"}})
def phase_edit(phase_id: int):
    return jsonify(_phase(phases.edit_phase(current_user, phase_id, _body())))
