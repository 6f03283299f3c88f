"""A processing batch matches its visits' geotags in one vectorised call (issue 13, item 2), and
every visit comes out exactly as matching it alone would leave it: the scenario with known
truth (far, poor accuracy, no geotag, nothing within reach, an edit, no building chosen), and a
building found in the field by a submission of the same batch. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from gis.coverage import CoverageIndex
from server.extensions import db
from server.models import Building, Entity, Visit
from server.services.coverage import store as coverage
from server.services.ingest import accept
from server.services.processing import pipeline
from tests.coverage.test_pipeline_order import _new_building_listing
from tests.support.coverage_scenario import (
    LAT0,
    LON0,
    build_scenario,
    ensure_areas,
    ensure_round,
    install_forms,
    instance_xml,
    offset,
    states_by_code,
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def either(request) -> str:
    request.getfixturevalue("app" if request.param == "sqlite" else "postgres_app")
    return request.param


def _visits() -> list[tuple]:
    db.session.rollback()
    rows = db.session.execute(sa.select(
        Visit.submission_id, Visit.building_id, Visit.chosen_building_id, Visit.distance_m,
        Visit.flags, Visit.round_id, Visit.outcome, Visit.units_recorded)).all()
    return sorted((*row[:4], tuple(row[4]), *row[5:]) for row in rows)


def _one_at_a_time(self: CoverageIndex, visits: list) -> list:
    return [self.match(v) for v in visits]


def _counted(monkeypatch) -> dict:
    """Calls of the one-visit matcher, and the sizes of the batched one's."""
    calls: dict = {"match": 0, "many": []}
    match, many = CoverageIndex.match, CoverageIndex.match_many

    def count_match(self, visit):
        calls["match"] += 1
        return match(self, visit)

    def count_many(self, visits):
        calls["many"].append(len(visits))
        return many(self, visits)

    monkeypatch.setattr(CoverageIndex, "match", count_match)
    monkeypatch.setattr(CoverageIndex, "match_many", count_many)
    return calls


def test_a_batch_matches_once_and_as_one_at_a_time(either, township_xforms, monkeypatch):
    with monkeypatch.context() as patched:  # the reference: each visit matched alone
        patched.setattr(CoverageIndex, "match_many", _one_at_a_time)
        rnd = ensure_round()
        versions = install_forms(township_xforms)
        ensure_areas()
        db.session.commit()
        expected = build_scenario(versions)  # each submission processed in a batch of its own
    alone = _visits()
    assert len(alone) == 18  # 19 submissions, one edited away
    calls = _counted(monkeypatch)
    pipeline.current_app.config.update(PROCESSING_BATCH_SIZE=100, PROCESSING_BATCH_MS=600_000)
    assert pipeline.reprocess(everything=True) == 19
    assert pipeline.process_pending() == {"done": 19, "error": 0, "skipped": 0}
    assert calls == {"match": 0, "many": [18]}  # one call for the batch, none per visit
    assert _visits() == alone
    assert states_by_code(coverage.stored_states(rnd.id)) == expected


def test_a_building_found_in_the_batch_is_matched_as_alone(either, township_xforms, monkeypatch):
    """A building the entities step creates mid-batch changes the index: the visits after it
    are matched again against the new one (here a household beside it, no building chosen)."""
    ensure_round()
    versions = install_forms(township_xforms)
    ensure_areas()
    db.session.commit()
    pipeline.current_app.config.update(PROCESSING_BATCH_SIZE=100, PROCESSING_BATCH_MS=600_000)
    found = {}
    for place, one_by_one in ((0.01, True), (0.02, False)):
        lon, lat = LON0 + place, LAT0 + place
        code = str(uuid.uuid4())
        def household(lon=lon, lat=lat) -> bytes:  # 3 m east of the building, none chosen
            return instance_xml("household", versions["household"].version,
                                f"uuid:{uuid.uuid4()}", location=(*offset(lon, lat, 3, 0), 5.0))

        ids = []
        for xml in (household(),
                    _new_building_listing(versions["building_listing"].version, code, lon, lat),
                    household()):
            result = accept.ingest(None, xml, [])
            assert result.status == 201, result.message
            ids.append(result.submission.id)
        db.session.commit()
        if one_by_one:
            assert [pipeline.process_one(i) for i in ids] == ["done", "done", "done"]
        else:
            calls = _counted(monkeypatch)
            assert pipeline.process_pending() == {"done": 3, "error": 0, "skipped": 0}
            # one call for the batch, and one for the rest once the listing rebuilt the index
            assert calls == {"match": 0, "many": [3, 2]}
        db.session.rollback()
        building = db.session.scalar(sa.select(Building.id).join(
            Entity, Entity.building_id == Building.id).where(Entity.uuid == code))
        visits = {v.submission_id: v for v in db.session.scalars(
            sa.select(Visit).where(Visit.submission_id.in_(ids)))}
        found[one_by_one] = [(visits[i].building_id == building, tuple(visits[i].flags),
                              round(visits[i].distance_m or 0, 3)) for i in ids]
    assert found[True] == found[False]
    # before its building was listed a household is matched to nothing; after, to it
    assert [matched for matched, _flags, _distance in found[False]] == [False, True, True]


def test_a_failing_batch_call_leaves_each_visit_to_match_alone(app, township_xforms, monkeypatch):
    """Should the batch's call ever refuse one visit's inputs, no other submission fails for it:
    each visit is then matched alone (and only a visit whose own inputs are bad fails)."""
    def refuse(self, visits):
        raise ValueError("visit 7: building_id 99 is not a known building")

    monkeypatch.setattr(CoverageIndex, "match_many", refuse)
    rnd = ensure_round()
    versions = install_forms(township_xforms)
    ensure_areas()
    db.session.commit()
    expected = build_scenario(versions)  # every submission processed: "done"
    assert states_by_code(coverage.stored_states(rnd.id)) == expected
