"""The PostGIS path gives exactly the in-process states (scenario and a generated township)."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from server.extensions import db
from server.services.coverage import recompute as coverage_recompute
from server.services.coverage import store as coverage
from tests.support.coverage_scenario import (
    build_scenario,
    ensure_round,
    install_forms,
    states_by_code,
)
from tests.support.demo_visits import load_generated_city

pytestmark = pytest.mark.postgres


def _both(round_id: int) -> tuple[dict, dict]:
    cov = coverage_recompute.compute_round(round_id)
    inproc = {int(b): s for b, s in zip(cov.building_ids, cov.states, strict=True)}
    pg = {b: s for b, (s, _, _) in coverage_recompute.postgis_round(round_id).items()}
    return inproc, pg


def test_scenario_states_identical_in_postgis(postgres_app, township_xforms) -> None:
    rnd = ensure_round()
    expected = build_scenario(install_forms(township_xforms))
    inproc, pg = _both(rnd.id)
    assert states_by_code(inproc) == expected
    assert states_by_code(pg) == expected
    assert states_by_code(coverage.stored_states(rnd.id)) == expected
    result = coverage_recompute.recompute(rnd.id, use_postgis=True)
    assert result.engine == "postgis"
    assert states_by_code(coverage.stored_states(rnd.id)) == expected


def test_generated_township_identical_in_postgis(postgres_app) -> None:
    rnd = ensure_round()
    load_generated_city(buildings=3000, visits=9000, round_id=rnd.id, seed=11)
    inproc, pg = _both(rnd.id)
    assert len(inproc) == 3000
    assert inproc == pg
    counts = {s: list(inproc.values()).count(s) for s in set(inproc.values())}
    assert len(counts) == 5  # every state occurs: the comparison is not vacuous
    assert db.session.scalar(sa.select(sa.func.count()).select_from(sa.text("visits"))) == 9000
    assert np.isfinite(coverage_recompute.compute_round(rnd.id).units_recorded).all()
    assert coverage_recompute.recompute(rnd.id).rematched == 0  # flags read from jsonb text
