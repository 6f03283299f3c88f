"""The processing pipeline's order matters: a building listed in the field is created by the
entities step, and the visits step of the same submission must find it."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Building, Entity, Visit
from server.services.ingest import accept
from server.services.processing import pipeline
from tests.support.coverage_scenario import LAT0, LON0, ensure_areas, install_forms


def _new_building_listing(version: str, building_id: str, lon: float, lat: float) -> bytes:
    """A building listing for a building missing from the footprints (building_mode new)."""
    point = f"{lat} {lon} 1900 4"
    return (
        f'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
        f'id="building_listing" version="{version}"><start>2016-10-05T09:00:00+08:00</start>'
        f"<street>T01-01</street><building_mode>new</building_mode>"
        f"<new_location>{point}</new_location><new_address>新村 9 号</new_address>"
        f"<building_id>{building_id}</building_id><outcome>done</outcome>"
        f"<visit_location>{point}</visit_location>"
        f"<meta><instanceID>uuid:{uuid.uuid4()}</instanceID>"
        f'<entity dataset="buildings" id="{building_id}" create="1" update="0">'
        f"<label>新村 9 号</label></entity></meta></data>"
    ).encode()


@pytest.mark.parametrize(
    ("reverse", "visited"), [(False, True), (True, False)], ids=["as-declared", "reversed"]
)
def test_a_building_found_in_the_field_is_visited_by_its_own_submission(
    app, township_xforms, round_2016, monkeypatch, reverse, visited
):
    ensure_areas()
    version = install_forms(township_xforms)["building_listing"].version
    if reverse:  # shows that the outcome depends on the order
        monkeypatch.setattr(pipeline, "STEPS", pipeline.STEPS[::-1])
    building_id = str(uuid.uuid4())
    xml = _new_building_listing(version, building_id, LON0 + 0.01, LAT0 + 0.01)

    result = accept.ingest(None, xml, [])
    assert result.status == 201, result.message
    assert pipeline.process_one(result.submission.id) == "done"

    entity = db.session.scalar(sa.select(Entity).where(Entity.uuid == building_id))
    building = db.session.get(Building, entity.building_id)  # the entities step ran
    assert building.source == "field" and building.code == "T01-01-F001"  # readable, not a uuid
    visit = db.session.scalar(sa.select(Visit).where(Visit.submission_id == result.submission.id))
    assert (visit.building_id == building.id) is visited
    assert ("unknown_building" in visit.flags) is not visited
