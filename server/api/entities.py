"""The entity register in the JSON API: lists and one record with its history.

Scoped to the caller's areas; ID and phone numbers are masked for roles that may not see
them, and every answer that shows them unmasked is audited.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, abort, jsonify, request
from flask_login import current_user

from server.access import allow
from server.api import bp, document
from server.api.openapi import json_body, query
from server.extensions import db
from server.models import Entity, Role
from server.params import MAX_SQL_INT, int_arg
from server.services import privacy
from server.services.register import entities
from server.services.register import exports as register_exports
from server.services.register import residence as register

READERS = (Role.ADMIN, Role.SUPERVISOR, Role.COORDINATOR)
_LABEL = {"type": ["string", "null"]}
_VERSION = {"type": "object", "required": ["version", "properties"],
            "properties": {"version": {"type": "integer"},
                           "base_version": {"type": ["integer", "null"]}, "label": _LABEL,
                           "properties": {"type": "object"},
                           "submission_id": {"type": ["integer", "null"]},
                           "created_at": {"type": "string", "format": "date-time"}}}
ENTITY = {"type": "object", "required": ["uuid", "dataset", "version", "properties", "deleted"],
          "properties": {"uuid": {"type": "string"}, "dataset": {"type": "string"},
                         "label": _LABEL, "version": {"type": "integer"},
                         "properties": {"type": "object", "description": "ID and phone "
                                        "numbers masked unless the caller may see them"},
                         "conflict": {"type": ["string", "null"]},
                         "deleted": {"type": "boolean"},
                         "updated_at": {"type": ["string", "null"], "format": "date-time"}}}
_DATASET = {"name": "dataset", "in": "path",
            "description": "the entity list: buildings, households or persons (another name "
                           "holds nothing)"}


def _props(props: dict[str, Any], unmasked: bool) -> tuple[dict[str, Any], bool]:
    return privacy.shown_fields(props or {}, unmasked)


def entity_json(e: Entity, unmasked: bool, with_history: bool = False) -> tuple[dict, bool]:
    props, shown = _props(e.properties, unmasked)
    body: dict[str, Any] = {
        "uuid": e.uuid,
        "dataset": e.dataset,
        "label": e.label,
        "version": e.version,
        "properties": props,
        "conflict": e.conflict,
        "deleted": e.deleted,
        "updated_at": e.updated_at.isoformat() + "Z" if e.updated_at else None,
    }
    if with_history:
        versions = []
        for v in e.versions:
            vprops, vshown = _props(v.properties, unmasked)
            shown = shown or vshown
            versions.append({"version": v.version, "base_version": v.base_version,
                             "label": v.label, "properties": vprops,
                             "submission_id": v.submission_id,
                             "created_at": v.created_at.isoformat() + "Z"})
        body["versions"] = versions
        if e.dataset == "persons":
            body["residences"] = register.residence_history(e)
    return body, shown


def _audit_if_shown(shown: bool, **detail: Any) -> None:
    if shown:
        privacy.audit_unmasked("personal_data.view", current_user, **detail)


@bp.get("/entities/<dataset>")
@allow(*READERS)
@document("Entities of a list (buildings, households, persons) in the caller's areas; "
          "?conflicts=1 lists only those flagged for review; an answer showing ID or phone "
          "numbers unmasked is audited.", writes=True,
          parameters=[_DATASET,
                      query("conflicts", {"type": "string", "enum": ["0", "1"]},
                            "1: only the entities flagged for review"),
                      query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                            "at most this many (default 200; outside 1…1000: the nearest)"),
                      query("offset", {"type": "integer", "minimum": 0,
                                       "maximum": MAX_SQL_INT})],
          responses={"200": json_body("the entities", {
              "type": "object", "required": ["dataset", "entities", "limit", "offset"],
              "properties": {"dataset": {"type": "string"},
                             "entities": {"type": "array", "items": ENTITY},
                             "limit": {"type": "integer"}, "offset": {"type": "integer"}}})})
def list_entities(dataset: str):
    limit = min(max(int_arg("limit", 200), 1), 1000)
    offset = max(int_arg("offset", 0), 0)
    rows = entities.query_entities(dataset, current_user,
                                   conflicts_only=request.args.get("conflicts") == "1",
                                   limit=limit, offset=offset)
    unmasked = privacy.can_see_personal_data(current_user)
    out, any_shown = [], False
    for e in rows:
        body, shown = entity_json(e, unmasked)
        out.append(body)
        any_shown = any_shown or shown
    _audit_if_shown(any_shown, object_type="entity_list", object_id=dataset, count=len(out))
    return jsonify(dataset=dataset, entities=out, limit=limit, offset=offset)


@bp.get("/entities/<dataset>/<uuid>")
@allow(*READERS)
@document("One entity with every version and the submission that made it (audited when "
          "shown unmasked).", writes=True, parameters=[_DATASET],
          responses={"200": json_body("the entity, its versions (and a person's residences)", {
              **ENTITY, "required": [*ENTITY["required"], "versions"],
              "properties": {**ENTITY["properties"],
                             "versions": {"type": "array", "items": _VERSION},
                             "residences": {"type": "array", "items": {"type": "object"}}}})})
def get_entity(dataset: str, uuid: str):
    e = db.session.scalar(sa.select(Entity).where(Entity.dataset == dataset,
                                                  Entity.uuid == uuid))
    if e is None or not entities.visible_to(e, current_user):
        abort(404, description=f"no {dataset} entity {uuid!r}")
    body, shown = entity_json(e, privacy.can_see_personal_data(current_user), True)
    _audit_if_shown(shown, object_type="entity", object_id=e.uuid)
    return jsonify(body)


@bp.get("/register/<dataset>/export.<fmt>")
@allow(*READERS)
@document("A register list of the caller's areas (persons, households, buildings, rentals) as "
          "CSV or XLSX, masked as for any reader of that role; every export is audited.",
          writes=True,
          parameters=[{"name": "dataset", "in": "path",
                       "description": "persons, households, buildings or rentals"},
                      {"name": "fmt", "in": "path",
                       "schema": {"enum": list(register_exports.FORMATS)}}],
          responses={"200": {"description": "the file (Content-Disposition: attachment)",
                             "content": {t.split(";")[0]: {"schema": {"type": "string",
                                                                        "format": "binary"}}
                                         for t in register_exports.FORMATS.values()}},
                     "404": {"description": "no such list, or not csv or xlsx"}})
def export_register(dataset: str, fmt: str):
    data, content_type = register_exports.export(current_user, dataset, fmt)
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{dataset}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
