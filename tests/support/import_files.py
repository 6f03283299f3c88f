"""Small inline GeoJSON files for the import tests: a township with one village and two streets,
and helpers to write features."""

from __future__ import annotations

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
