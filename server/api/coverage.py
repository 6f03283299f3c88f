"""Coverage in the JSON API: buildings as GeoJSON with a `state`, statistics, a building."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import shapely
from flask import Response, abort, jsonify, request, url_for
from flask_login import current_user

from gis.coverage import counts_of
from gis.states import STATES
from server.access import allow
from server.api import bp, document
from server.api.openapi import json_body, query
from server.models import Role
from server.models.areas import AREA_LEVELS
from server.params import MAX_ID, MAX_SQL_INT, id_arg, int_arg
from server.services.coverage import query as coverage_query
from server.services.coverage import rollups as coverage_rollups
from server.services.coverage import rounds
from server.services.coverage import store as coverage
from server.services.coverage import tables as coverage_tables
from server.web.coverage import request_filters

MAX_FEATURES = 20_000
STATS_LIMIT, STATS_MAX = 200, 1000  # rows of each list per page of the statistics
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


_STATS_PAGE = [
    query("area", {"type": "string"},
          "area code: only that area and the areas below it (404 if it is not one of yours)"),
    query("level", {"type": "string", "enum": list(AREA_LEVELS)},
          "the deepest level of areas listed (default: street, every level)"),
    query("q", {"type": "string"}, "only coordinators whose username contains this"),
    query("limit", {"type": "integer", "minimum": 1, "maximum": STATS_MAX},
          f"areas and coordinators per page, each (default {STATS_LIMIT})"),
    query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_SQL_INT},
          "rows of each list to skip (follow `next` for the next page)"),
]


@bp.get("/coverage/stats")
@allow(Role.SUPERVISOR, Role.ADMIN)
@document(
    "Coverage counts and rates per area (street, village, township) and per coordinator, a "
    "page at a time: `areas` (in tree order) and `coordinators` (by username) each hold up to "
    "`limit` rows from `offset`; `count` says how many there are in all, `totals` adds up "
    "every building the caller sees in the round, and `next` is the URL of the next page "
    "(null on the last).",
    parameters=[*(p for p in _FILTERS if p["name"] in ("round", "compare")),
                query("coordinator", {"type": "string"},
                      "coordinator's username: only their row in `coordinators`"),
                *_STATS_PAGE],
    responses={"200": json_body("counts per area and per coordinator", {
        "type": "object",
        "required": ["round", "states", "areas", "coordinators", "outside", "totals", "count",
                     "limit", "offset", "next"],
        "properties": {"round": {"type": "integer"},
                       "states": {"type": "array", "items": {"type": "string"}},
                       "areas": _COUNTS, "coordinators": _COUNTS,
                       "compare": {"type": ["object", "null"]},
                       "outside": {"type": "integer"},
                       "totals": {"type": "object"},
                       "count": {"type": "object", "required": ["areas", "coordinators"],
                                 "properties": {"areas": {"type": "integer"},
                                                "coordinators": {"type": "integer"}}},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"},
                       "next": {"type": ["string", "null"]}}}),
               "304": {"description": "the answer is unchanged since the ETag sent in "
                                      "If-None-Match (the map's poll revalidates)"},
               **_UNKNOWN},
)
def coverage_stats():
    f = request_filters()
    st = coverage_tables.compute(f.round.id, current_user, within=rounds.streets_of(f.round.id))
    code = request.args.get("area") or None
    root = st.position(code) if code else None
    if code and root is None:
        abort(404, f"no area {code!r} in your areas")
    level = request.args.get("level") or None
    if level is not None and level not in AREA_LEVELS:
        abort(400, f"level must be one of {', '.join(AREA_LEVELS)}")
    limit = min(max(int_arg("limit", STATS_LIMIT) or STATS_LIMIT, 1), STATS_MAX)
    offset = max(int_arg("offset", 0) or 0, 0)
    areas = st.area_positions(root, deepest=level)
    people = st.coordinator_positions(request.args.get("q", ""))
    one = request.args.get("coordinator")
    if one:  # one coordinator's row (the map's counts; request_filters checked the name)
        people = np.array([k for k in people.tolist() if st.coordinators[k] == one], np.int64)
    page = [st.row(int(k)) for k in areas[offset : offset + limit]]
    compare = None
    if f.compare is not None:
        every = coverage_rollups.compare_counts(f.round.id, f.compare.id, f.streets)
        compare = {"round": f.compare.id, "areas": {a.code: every.get(a.code, 0) for a in page
                                                    if a.code in every}}
    more = offset + limit < max(len(areas), len(people))
    resp = jsonify(
        round=f.round.id, states=list(coverage.STATES),
        areas={a.code: a.counts for a in page},
        coordinators=dict(st.coordinator(int(k)) for k in people[offset : offset + limit]),
        compare=compare, outside=rounds.outside(current_user)["count"],
        totals=counts_of(st.total), count={"areas": len(areas), "coordinators": len(people)},
        limit=limit, offset=offset,
        next=url_for(request.endpoint, **{**request.args.to_dict(), "offset": offset + limit})
        if more else None,
    )
    return revalidated(resp)


def revalidated(resp: Response) -> Response:
    """The map polls its counts every 10 s: an unchanged answer goes back as a bodiless 304
    (its ETag is the body's hash, so any process gives the same for the same counts)."""
    resp.set_etag(hashlib.sha256(resp.get_data()).hexdigest()[:32])
    resp.headers["Cache-Control"] = "private, no-cache"  # revalidate: coverage changes
    return resp.make_conditional(request)


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
