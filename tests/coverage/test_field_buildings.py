"""Buildings in the field: "not in the list" is matched to a footprint by its geotag like any
unlinked visit; a new building gets a readable code and its visit still finds it."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Building, BuildingCoverage, Entity, Visit
from server.services.ingest import accept
from server.services.processing import pipeline
from tests.support.coverage_scenario import LAT0, LON0, SIZE, ensure_areas, install_forms, offset
from tests.support.xforms import build_instance


def _listing(xform: str, mode: str, lon: float, lat: float, *, new_id: str = "") -> bytes:
    point = f"{lat} {lon} 1900 4"
    values = {
        "start": "2016-10-05T09:00:00+08:00", "street": "T01-01", "building_mode": mode,
        "new_address": "新村 9 号", "building_label": "新村 9 号", "outcome": "done",
        "visit_location": point, "building_id": new_id,
        "__entity": {"create": "1" if new_id else "0", "update": "0", "id": new_id,
                     "label": "新村 9 号"},
    }
    if new_id:
        values.update(new_location=point, new_building_id=new_id)
    return build_instance(xform, values)


def _process(xml: bytes) -> Visit:
    result = accept.ingest(None, xml, [])
    assert result.status == 201, result.message
    assert pipeline.process_one(result.submission.id) == "done"
    return db.session.scalar(sa.select(Visit).where(Visit.submission_id == result.submission.id))


@pytest.fixture
def footprint(app, township_xforms, round_2016, make_building):
    ensure_areas()
    db.session.commit()
    street = db.session.scalar(sa.select(Area).where(Area.code == "T01-01"))
    return make_building("B1", street, lon=LON0, lat=LAT0, size_deg=SIZE)


@pytest.mark.parametrize(("east_m", "matched"), [(5.0, True), (60.0, False)],
                         ids=["5 m from the footprint", "60 m away"])
def test_a_building_not_in_the_list_is_matched_by_its_location(
    township_xforms, footprint, round_2016, east_m, matched
):
    xform = township_xforms["building_listing"][0]
    install_forms(township_xforms)
    east_edge = LON0 + SIZE
    lon, lat = offset(east_edge, LAT0 + SIZE / 2, east_m, 0)
    visit = _process(_listing(xform, "not_listed", lon, lat))

    assert visit.chosen_building_id is None and "unknown_building" not in visit.flags
    assert (visit.building_id == footprint.id) is matched
    assert ("unmatched" in visit.flags) is not matched
    if matched:
        assert visit.distance_m == pytest.approx(east_m, abs=0.5)
        state = db.session.scalar(sa.select(BuildingCoverage.state).where(
            BuildingCoverage.building_id == footprint.id,
            BuildingCoverage.round_id == round_2016.id))
        assert state == "visited"
    # Nothing new in the register: the footprint was there all along.
    assert db.session.scalar(sa.select(sa.func.count(Building.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Entity.id))) == 0


def test_a_new_building_gets_a_readable_code_and_its_visit(township_xforms, footprint):
    xform = township_xforms["building_listing"][0]
    install_forms(township_xforms)
    new_id = str(uuid.uuid4())
    lon, lat = offset(LON0, LAT0, 500, 0)  # far from every footprint
    visit = _process(_listing(xform, "new", lon, lat, new_id=new_id))

    entity = db.session.scalar(sa.select(Entity).where(Entity.uuid == new_id))
    building = db.session.get(Building, entity.building_id)
    assert (building.code, building.source) == ("T01-01-F001", "field")
    assert visit.building_id == visit.chosen_building_id == building.id
    assert visit.flags == []


def test_the_form_offers_not_in_the_list(township_xforms):
    """Its choice exists; it asks no building from the list and no entity action holds for it
    (create only for 'new', update only for 'existing'), so only the geotag places the visit."""
    xform = township_xforms["building_listing"][0]
    assert "<name>not_listed</name>" in xform and "不在名单中" in xform
    binds = {m.group(1): m.group(0) for m in re.finditer(r'<bind nodeset="([^"]+)"[^>]*>', xform)}
    assert "relevant=\" /data/building_mode  = 'existing'\"" in binds["/data/building"]
    assert "calculate=\" /data/building_mode  = 'new'\"" in binds["/data/meta/entity/@create"]
    assert "calculate=\" /data/building_mode  = 'existing'\"" in binds["/data/meta/entity/@update"]
    assert "'not_listed'" in binds["/data/new_address"]
