"""Known truth through real submissions and Visit rows: exactly the expected states."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Building, Submission, Visit
from server.services.coverage import recompute as coverage_recompute
from server.services.coverage import rollups as coverage_rollups
from server.services.coverage import store as coverage
from tests.support.coverage_scenario import states_by_code


def test_incremental_states_are_the_known_truth(scenario) -> None:
    got = states_by_code(coverage.stored_states(scenario["round_id"]))
    assert got == scenario["expected"]


def test_full_recompute_gives_the_same_rows(scenario) -> None:
    rid = scenario["round_id"]
    before = db.session.execute(
        sa.text(
            "SELECT building_id, state, visits, units_recorded FROM building_coverage "
            "WHERE round_id = :r ORDER BY building_id"
        ),
        {"r": rid},
    ).all()
    result = coverage_recompute.recompute(rid)
    after = db.session.execute(
        sa.text(
            "SELECT building_id, state, visits, units_recorded FROM building_coverage "
            "WHERE round_id = :r ORDER BY building_id"
        ),
        {"r": rid},
    ).all()
    assert after == before
    assert result.rematched == 0
    assert result.counts["total"] == 18
    assert result.counts["unvisited"] == 5


def test_full_recompute_repairs_wrong_missing_and_stale_rows(scenario) -> None:
    """Only rows that differ are written: a wrong one fixed, a lost one back, a stale one gone."""
    rid = scenario["round_id"]
    truth = coverage.stored_states(rid)
    ids = {code: bid for bid, code in db.session.execute(sa.select(Building.id, Building.code))}
    bc = sa.table("building_coverage", sa.column("building_id"), sa.column("round_id"),
                  sa.column("state"))  # fmt: skip
    db.session.execute(sa.update(bc).where(bc.c.building_id == ids["B01"]).values(state="suspect"))
    db.session.execute(sa.delete(bc).where(bc.c.building_id == ids["B02"]))
    db.session.execute(
        sa.text(
            "INSERT INTO building_coverage (building_id, round_id, state, visits, units_recorded,"
            " updated_at) VALUES (:b, :r, 'visited', 1, 1, '2016-10-05 00:00:00')"
        ),
        {"b": ids["B08"], "r": rid},  # B08 has no matched visit: unvisited
    )
    db.session.commit()
    result = coverage_recompute.recompute(rid, rematch=False)
    assert result.written == 3
    assert coverage.stored_states(rid) == truth
    assert coverage_recompute.recompute(rid, rematch=False).written == 0


def test_rematch_restores_stored_matches_and_keeps_other_flags(scenario) -> None:
    rid = scenario["round_id"]
    visits = {code: v for v, code in db.session.execute(
        sa.select(Visit, Building.code).join(Building, Building.id == Visit.building_id)
        .order_by(Visit.id)
    ).all()}  # fmt: skip
    b13, b06 = visits["B13"], visits["B06"]
    assert b13.flags == ["poor_accuracy", "no_geotag"]
    truth_d = b06.distance_m
    b13.flags = ["no_geotag"]
    b06.distance_m = 999.0
    db.session.commit()
    assert coverage_recompute.recompute(rid).rematched == 2
    db.session.expire_all()
    assert db.session.get(Visit, b13.id).flags == ["poor_accuracy", "no_geotag"]
    assert db.session.get(Visit, b06.id).distance_m == pytest.approx(truth_d)
    assert coverage_recompute.recompute(rid).rematched == 0


def test_visit_rows_carry_distance_and_flags(scenario) -> None:
    rows = {
        (code, tuple(v.flags)): v
        for v, code in db.session.execute(
            sa.select(Visit, Building.code).outerjoin(Building, Building.id == Visit.building_id)
        ).all()
    }
    flags = {k for k in rows}
    assert ("B04", ("far",)) in flags
    assert ("B05", ("poor_accuracy",)) in flags
    assert ("B13", ("poor_accuracy", "no_geotag")) in flags
    assert (None, ("unmatched",)) in flags  # the geotag 60 m from anything
    far = rows[("B04", ("far",))]
    assert 135 < far.distance_m < 155
    b06 = rows[("B06", ())]
    assert b06.chosen_building_id is None and 0 < b06.distance_m < 10
    inside = rows[("B02", ())]
    assert inside.distance_m < 5 and inside.chosen_building_id == inside.building_id


def test_processing_is_idempotent_and_edits_replace(scenario) -> None:
    from server.services.processing import pipeline as processing

    n = db.session.scalar(sa.select(sa.func.count(Visit.id)))
    before = coverage.stored_states(scenario["round_id"])
    for sub_id in db.session.scalars(sa.select(Submission.id).order_by(Submission.id)).all():
        assert processing.process_one(sub_id) == "done"  # replay every stored submission
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) == n
    # the edited submission (B11 -> B12) has no visit of its own any more
    replaced = db.session.scalar(sa.select(Submission).where(Submission.superseded.is_(True)))
    assert db.session.scalar(sa.select(Visit).where(Visit.submission_id == replaced.id)) is None
    assert coverage.stored_states(scenario["round_id"]) == before
    assert states_by_code(before) == scenario["expected"]


def test_rollups_per_area_and_coordinator(scenario) -> None:
    r = coverage_rollups.rollups(scenario["round_id"])
    street1 = r["areas"]["T01-01"]
    assert street1["total"] == 9
    assert (
        street1["complete"],
        street1["visited"],
        street1["revisit"],
        street1["suspect"],
        street1["unvisited"],
    ) == (4, 1, 1, 2, 1)
    assert r["areas"]["T"]["total"] == 18 == r["areas"]["T01"]["total"]
    assert r["coordinators"]["xieguan"] == street1
