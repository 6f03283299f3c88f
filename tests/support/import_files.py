"""Small inline GeoJSON files for the import tests: a township with one village and two streets,
and helpers to write features."""

from __future__ import annotations

import itertools
import json


def bbox_polygon(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def feature_collection(features: list[tuple[dict, dict | None]]) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features],
        }
    )


AREAS = feature_collection(
    [
        (
            {"code": "Z", "name": "新乡", "level": "township", "parent": None},
            bbox_polygon(102.0, 24.0, 102.1, 24.1),
        ),
        (
            {"code": "Z01", "name": "一村", "level": "village", "parent": "Z"},
            bbox_polygon(102.0, 24.0, 102.05, 24.1),
        ),
        (
            {"code": "Z01-01", "name": "一组", "level": "street", "parent": "Z01"},
            bbox_polygon(102.0, 24.0, 102.05, 24.05),
        ),
        (
            {"code": "Z01-02", "name": "二组", "level": "street", "parent": "Z01"},
            bbox_polygon(102.0, 24.05, 102.05, 24.1),
        ),
    ]
)


def bowtie_ring(n: int, x0: float = 102.01, y0: float = 24.01, size: float = 0.001) -> list:
    """A figure-eight ring of about `n` vertices: the corners (0,0) (1,1) (1,0) (0,1), each side
    cut into n/4 points, so it crosses itself once in the middle."""
    k = max(n // 4, 1)
    corners = [(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)]
    ring = [[x0 + size * (ax + (bx - ax) * i / k), y0 + size * (ay + (by - ay) * i / k)]
            for (ax, ay), (bx, by) in itertools.pairwise(corners) for i in range(k)]
    return [*ring, ring[0]]


def zigzag_ring(n: int, x0: float = 102.01, y0: float = 24.01, size: float = 0.001) -> list:
    """A ring of `n` vertices that crosses itself about n times: a zigzag out and a zigzag back
    half a step over. GEOS make_valid needs seconds for 20,000 vertices (a bowtie: a tenth)."""
    half = n // 2
    out = [[x0 + size * i / half, y0 + size * (i % 2)] for i in range(half)]
    back = [[x0 + size * (1 - i / half + 0.5 / half), y0 + size * ((i + 1) % 2)]
            for i in range(half)]
    ring = out + back
    return [*ring, ring[0]]


def polygon(ring: list) -> dict:
    return {"type": "Polygon", "coordinates": [ring]}
