"""The coverage rule of gis/coverage.py as one PostGIS query (PostgreSQL deployments).

Functions take a SQLAlchemy connection to a database with the Doorstep schema (tables
``buildings`` with the generated ``geom`` column, ``visits``, ``submissions``, and the forms a
round counts: ``round_forms``, ``form_versions``); no Flask.
The projection, thresholds, tie-breaking and state precedence are those of the in-process
engine, so both give the same states on the same data (tests check it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gis._matching import utm_epsg

# Degrees of latitude per metre, with a safety factor: the bounding-box prefilter on the
# geographic GiST index must never reject a footprint the metric test would accept.
_DEG_PER_M = 1.0 / 110_000.0

MATCH_SQL = """
WITH v AS (
    SELECT vi.id, vi.chosen_building_id, vi.outcome, vi.units_recorded,
           (vi.gps_accuracy IS NULL OR vi.gps_accuracy > :max_acc
            OR vi.lon IS NULL OR vi.lat IS NULL) AS poor,
           CASE WHEN vi.lon IS NOT NULL AND vi.lat IS NOT NULL
                THEN ST_SetSRID(ST_MakePoint(vi.lon, vi.lat), 4326) END AS p4326
    FROM visits vi JOIN submissions s ON s.id = vi.submission_id
    WHERE vi.round_id = :round_id AND s.review_state <> 'rejected' AND NOT s.superseded
      AND (NOT EXISTS (SELECT 1 FROM round_forms rf WHERE rf.round_id = :round_id)
           OR s.form_version_id IN (SELECT fv.id FROM form_versions fv
                                    JOIN round_forms rf ON rf.form_id = fv.form_id
                                    WHERE rf.round_id = :round_id))
),
chosen AS (
    SELECT v.id, b.id AS building_id,
           ST_Distance(ST_Transform(v.p4326, :epsg), ST_Transform(b.geom, :epsg)) AS d
    FROM v JOIN buildings b ON b.id = v.chosen_building_id
),
nearest AS (
    SELECT v.id, n.building_id, n.d
    FROM v CROSS JOIN LATERAL (
        SELECT b.id AS building_id,
               ST_Distance(ST_Transform(v.p4326, :epsg), ST_Transform(b.geom, :epsg)) AS d
        FROM buildings b
        WHERE b.geom && ST_Expand(v.p4326, :pad / greatest(cos(radians(ST_Y(v.p4326))), 0.01))
          AND ST_DWithin(ST_Transform(v.p4326, :epsg), ST_Transform(b.geom, :epsg), :dist)
        ORDER BY d, b.id
        LIMIT 1
    ) n
    WHERE v.chosen_building_id IS NULL AND v.p4326 IS NOT NULL
),
matched AS (
    SELECT v.id, coalesce(c.building_id, n.building_id) AS building_id,
           coalesce(c.d, n.d) AS d,
           (v.poor OR coalesce(c.d > :dist, false)) AS suspect,
           v.outcome, v.units_recorded
    FROM v LEFT JOIN chosen c ON c.id = v.id LEFT JOIN nearest n ON n.id = v.id
)
"""

STATES_SQL = (
    MATCH_SQL
    + """,
per_building AS (
    SELECT building_id,
           count(*) AS visits,
           bool_or(NOT suspect AND outcome = 'done') AS done,
           bool_or(NOT suspect AND outcome IN ('vacant', 'not_rented', 'demolished')) AS closed,
           bool_or(NOT suspect AND outcome IN ('nobody_home', 'refused')) AS retry,
           bool_or(suspect) AS sus,
           coalesce(sum(units_recorded) FILTER (WHERE NOT suspect AND outcome = 'done'), 0)
               AS units
    FROM matched WHERE building_id IS NOT NULL GROUP BY building_id
)
SELECT b.id,
       CASE WHEN p.closed OR (p.done AND p.units >= coalesce(b.expected_units, 0)) THEN 'complete'
            WHEN p.done THEN 'visited'
            WHEN p.retry THEN 'revisit'
            WHEN p.sus THEN 'suspect'
            ELSE 'unvisited' END AS state,
       coalesce(p.visits, 0) AS visits,
       coalesce(p.units, 0) AS units
FROM buildings b LEFT JOIN per_building p ON p.building_id = b.id
"""
)


def buildings_epsg(conn: Any) -> int:
    """The UTM zone of the buildings' bounding-box centre (the engine's projection rule)."""
    row = conn.execute(
        sa.text("SELECT min(minx), min(miny), max(maxx), max(maxy) FROM buildings")
    ).one()
    if row[0] is None:
        return utm_epsg(0.0, 0.0)
    return utm_epsg((row[0] + row[2]) / 2, (row[1] + row[3]) / 2)


def _params(conn: Any, round_id: int, match_distance_m: float, max_accuracy_m: float) -> dict:
    return {
        "round_id": round_id,
        "epsg": buildings_epsg(conn),
        "dist": float(match_distance_m),
        "max_acc": float(max_accuracy_m),
        "pad": float(match_distance_m) * _DEG_PER_M * 1.5,
    }


def coverage_states(
    conn: Any, round_id: int, match_distance_m: float = 30.0, max_accuracy_m: float = 25.0
) -> dict[int, tuple[str, int, int]]:
    """Building id -> (state, matched visits, units recorded), for every building."""
    params = _params(conn, round_id, match_distance_m, max_accuracy_m)
    rows = conn.execute(sa.text(STATES_SQL), params).all()
    return {int(r[0]): (r[1], int(r[2]), int(r[3])) for r in rows}


MATCH_ONE_SQL = """
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g)
SELECT b.id, ST_Distance(ST_Transform(p.g, :epsg), ST_Transform(b.geom, :epsg)) AS d
FROM buildings b, p
WHERE (CAST(:chosen AS bigint) IS NOT NULL AND b.id = :chosen)
   OR (CAST(:chosen AS bigint) IS NULL
       AND b.geom && ST_Expand(p.g, :pad / greatest(cos(radians(:lat)), 0.01))
       AND ST_DWithin(ST_Transform(p.g, :epsg), ST_Transform(b.geom, :epsg), :dist))
ORDER BY d, b.id
LIMIT 1
"""

TILE_SQL = """
WITH env AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e),
t AS (
    SELECT ST_AsMVTGeom(ST_Transform(b.geom, 3857), env.e, 4096, 64, true) AS geom,
           b.id, b.code, coalesce(c.state, 'unvisited') AS state
    FROM buildings b CROSS JOIN env
    LEFT JOIN building_coverage c ON c.building_id = b.id AND c.round_id = :round_id
    WHERE b.geom && ST_Transform(env.e, 4326)
)
SELECT ST_AsMVT(t, 'buildings', 4096, 'geom') FROM t
"""


def match_one(
    conn: Any,
    lon: float,
    lat: float,
    chosen: int | None,
    epsg: int,
    match_distance_m: float = 30.0,
) -> tuple[int, float] | None:
    """(building id, distance m) of one geotag: its chosen building, else the nearest."""
    row = conn.execute(
        sa.text(MATCH_ONE_SQL),
        {
            "lon": lon,
            "lat": lat,
            "chosen": chosen,
            "epsg": epsg,
            "dist": match_distance_m,
            "pad": match_distance_m * _DEG_PER_M * 1.5,
        },
    ).first()
    return None if row is None else (int(row[0]), float(row[1]))


def tile(conn: Any, round_id: int, z: int, x: int, y: int) -> bytes:
    """All footprints of one tile with their state, as PostGIS encodes them (ST_AsMVT)."""
    data = conn.execute(sa.text(TILE_SQL), {"round_id": round_id, "z": z, "x": x, "y": y}).scalar()
    return bytes(data or b"")
