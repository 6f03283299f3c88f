"""Bounded import work (issue 14, finding 3): vertices are counted as read, before any repair,
and a repair that outlasts its time budget is stopped, the feature beyond repair.

A self-intersecting ring of 20,000 vertices once took 159 s and 1.6 GB to repair; here such
rings are refused by their count, or their repair is interrupted inside GEOS.
"""

from __future__ import annotations

import json

import pytest
import shapely

from gis import limits
from gis.importing import GisImportError, prepare_buildings, read_layer
from server.config import SETTINGS
from tests.support.import_files import bbox_polygon, bowtie_ring, polygon, zigzag_ring


def _file(*features: tuple[str, dict]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": code}, "geometry": g}
        for code, g in features]}).encode()


GOOD = ("G1", bbox_polygon(102.02, 24.02, 102.0201, 24.0201))


def test_a_bowtie_over_the_vertex_limit_is_refused_as_read_naming_feature_and_limit(
        monkeypatch):
    calls = []
    monkeypatch.setattr(shapely, "make_valid", lambda *a, **k: calls.append(a))
    data = _file(GOOD, ("BOW", polygon(bowtie_ring(4000))))
    with pytest.raises(GisImportError,
                       match=r"b\.geojson: row 2 \(code 'BOW'\): 4,001 vertices in one geometry, "
                             r"more than the limit of 1,000 per feature"):
        read_layer(data, "b.geojson", max_vertices_per_feature=1000)
    assert calls == []  # refused before any repair was tried


def test_the_default_per_feature_limit_refuses_a_ring_that_would_take_minutes():
    with pytest.raises(GisImportError, match=r"row 1 \(code 'ZIG'\): 60,001 vertices .* 50,000"):
        read_layer(_file(("ZIG", polygon(zigzag_ring(60000)))), "z.geojson")


def test_the_total_of_vertices_is_bounded_too():
    data = _file(*[(f"B{i}", polygon(bowtie_ring(400, x0=102.01 + i * 0.01))) for i in range(3)])
    with pytest.raises(GisImportError, match=r"1,203 vertices in the layer, more than the "
                                             r"limit of 1,000 per import"):
        read_layer(data, "b.geojson", max_vertices=1000)
    assert len(read_layer(data, "b.geojson", max_vertices=1203)) == 3


def test_geos_can_be_interrupted_here():
    assert limits.can_interrupt()


def test_a_repair_over_its_budget_fails_the_import_naming_the_feature():
    frame = read_layer(_file(GOOD, ("ZIG", polygon(zigzag_ring(20000)))), "z.geojson")
    with pytest.raises(GisImportError,
                       match=r"row 2 \(code 'ZIG'\): invalid Polygon \(20,001 vertices\) not "
                             r"repaired within the time budget of 0.05 s per feature \(import "
                             r"with skip_invalid"):
        prepare_buildings(frame, code_field="code", repair_budget_s=0.05)


def test_with_skip_invalid_a_repair_over_its_budget_is_skipped_and_the_rest_imported():
    data = _file(GOOD, ("ZIG", polygon(zigzag_ring(20000))), ("BOW", polygon(bowtie_ring(40))))
    result = prepare_buildings(read_layer(data, "z.geojson"), code_field="code",
                               repair_budget_s=0.05, skip_invalid=True)
    assert [d["code"] for d in result.skipped] == ["ZIG"]
    assert "time budget of 0.05 s" in result.skipped[0]["reason"]
    # The interrupt ended with that repair: the small bowtie after it is repaired as usual.
    assert [r["code"] for r in result.records] == ["G1", "BOW"]
    assert [d["code"] for d in result.repaired] == ["BOW"]


def test_a_budget_long_enough_repairs_as_before():
    data = _file(("BOW", polygon(bowtie_ring(2000))))
    result = prepare_buildings(read_layer(data, "b.geojson"), code_field="code",
                               repair_budget_s=30)
    assert [d["code"] for d in result.repaired] == ["BOW"] and not result.skipped


def test_the_servers_settings_default_to_these_limits():
    defaults = {s.name: s.default for s in SETTINGS}
    assert (defaults["IMPORT_MAX_FEATURES"], defaults["IMPORT_MAX_VERTICES_PER_FEATURE"],
            defaults["IMPORT_MAX_VERTICES"]) == (limits.DEFAULT_MAX_FEATURES,
                                                 limits.DEFAULT_MAX_VERTICES_PER_FEATURE,
                                                 limits.DEFAULT_MAX_VERTICES)
