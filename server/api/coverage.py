"""Coverage in the JSON API: buildings as GeoJSON with a `state`, statistics, a building."""

from __future__ import annotations

import json

import shapely
from flask import Response, abort, jsonify, request
from flask_login import current_user

from gis.states import STATES
from server.access import allow
from server.api import bp, document
from server.api.openapi import json_body, query
from server.models import Role
from server.params import MAX_ID, id_arg
from server.services.coverage import query as coverage_query
from server.services.coverage import rollups as coverage_rollups
from server.services.coverage import rounds
from server.services.coverage import store as coverage
from server.web.coverage import request_filters

MAX_FEATURES = 20_000
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_FILTERS = [
    query("mine", {"type": "string", "enum": ["1", "true", "0"]},
          "1: the logged-in coordinator's assigned buildings"),
    query("round", _ID, "round id (default: the current round)"),
    query("compare", _ID, "round id: only buildings visited in it and not in `round`"),
    query("village", {"type": "string"}, "village code"),
    query("street", {"type": "string"}, "street code"),
    query("coordinator", {"type": "string"},
          "coordinator's username: the streets assigned to them"),
    query("state", {"type": "string", "enum": list(STATES)}),
    query("bbox", {"type": "string"}, "minlon,minlat,maxlon,maxlat"),
]
#: A filter that names nothing (round, village, street, coordinator, state): FilterError.
_UNKNOWN = {"404": {"description": "a filter names no round, area, coordinator or state"}}
_COUNTS = {"type": "object", "additionalProperties": {"type": "object"}}
_NULLABLE_INT = {"type": ["integer", "null"]}


def _bbox() -> tuple[float, float, float, float] | None:
    raw = request.args.get("bbox")
    if not raw:
        return None
    try:
        box = tuple(float(v) for v in raw.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or box[0] > box[2] or box[1] > box[3]:
        abort(400, "bbox must be minlon,minlat,maxlon,maxlat")
    return box  # type: ignore[return-value]


@bp.get("/coverage/buildings.geojson")
@allow(Role.COORDINATOR, Role.SUPERVISOR, Role.ADMIN)
@document(
    "Buildings as GeoJSON with their coverage `state` (phone app: ?mine=1).",
    parameters=_FILTERS,
    responses={
        "200": json_body("FeatureCollection; properties id, code, street, state, address, "
                         "expected_units", {
                             "type": "object", "required": ["type", "round", "features"],
                             "properties": {
                                 "type": {"const": "FeatureCollection"},
                                 "round": {"type": "integer"},
                                 "features": {"type": "array", "items": {
                                     "type": "object", "required": ["geometry", "properties"],
                                     "properties": {"properties": {
                                         "type": "object",
                                         "required": ["id", "code", "street", "state"]}}}}}},
                         "application/geo+json"),
        "400": {"description": "more than 20,000 buildings (narrow the filter) or a bbox "
                               "that is not minlon,minlat,maxlon,maxlat"},
        **_UNKNOWN,
    },
)
def coverage_buildings():
    f = request_filters()
    rows = coverage_query.buildings(f, limit=MAX_FEATURES + 1, bbox=_bbox())
    if len(rows) > MAX_FEATURES:
        abort(
            400,
            f"more than {MAX_FEATURES} buildings: narrow the filter (village, street, "
            "coordinator, state or bbox); the map uses vector tiles",
        )
    features = [
        {
            "type": "Feature",
            "id": b.id,
            "geometry": json.loads(shapely.to_geojson(shapely.from_wkb(b.footprint))),
            "properties": {
                "id": b.id,
                "code": b.code,
                "street": street,
                "state": state,
                "address": b.address,
                "expected_units": b.expected_units,
            },
        }
        for b, street, state, _visits, _units in rows
    ]
    body = json.dumps(
        {"type": "FeatureCollection", "round": f.round.id, "features": features},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return Response(body, mimetype="application/geo+json")


@bp.get("/coverage/stats")
@allow(Role.SUPERVISOR, Role.ADMIN)
@document(
    "Coverage counts and rates per area (street, village, township) and per coordinator.",
    parameters=[p for p in _FILTERS if p["name"] in ("round", "compare")],
    responses={"200": json_body("counts per area and per coordinator", {
        "type": "object", "required": ["round", "states", "areas", "coordinators", "outside"],
        "properties": {"round": {"type": "integer"},
                       "states": {"type": "array", "items": {"type": "string"}},
                       "areas": _COUNTS, "coordinators": _COUNTS,
                       "compare": {"type": ["object", "null"]},
                       "outside": {"type": "integer"}}}), **_UNKNOWN},
)
def coverage_stats():
    f = request_filters()
    r = coverage_rollups.rollups(f.round.id, current_user, within=rounds.streets_of(f.round.id))
    compare = None
    if f.compare is not None:
        compare = {"round": f.compare.id,
                   "areas": coverage_rollups.compare_counts(f.round.id, f.compare.id, f.streets)}
    return jsonify(round=f.round.id, states=list(coverage.STATES), areas=r["areas"],
                   coordinators=r["coordinators"], compare=compare,
                   outside=rounds.outside(current_user)["count"])


@bp.get("/coverage/buildings/<int:building_id>")
@allow(Role.COORDINATOR, Role.SUPERVISOR, Role.ADMIN)
@document("One building: state, households, visits (distance, flags) and photos.",
          parameters=[p for p in _FILTERS if p["name"] == "round"],
          responses={"200": json_body("the building", {
              "type": "object", "required": ["id", "code", "street", "state", "households",
                                             "visits", "photos"],
              "properties": {"id": {"type": "integer"}, "code": {"type": "string"},
                             "address": {"type": ["string", "null"]},
                             "street": {"type": ["string", "null"]},
                             "expected_units": _NULLABLE_INT, "floors": _NULLABLE_INT,
                             "round": _NULLABLE_INT, "state": {"type": "string"},
                             "units_recorded": {"type": "integer"},
                             "households": {"type": "array", "items": {"type": "object"}},
                             "visits": {"type": "array", "items": {"type": "object"}},
                             "photos": {"type": "array", "items": {"type": "object"}}}}),
                     "404": {"description": "no such building in your areas, or no such "
                                            "round"}})
def coverage_building(building_id: int):
    detail = coverage_query.building_detail(building_id, current_user, id_arg("round"))
    if detail is None:
        abort(404, f"no building {building_id} in your areas")
    return jsonify(detail)
