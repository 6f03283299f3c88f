"""Fixtures for coverage tests: township forms in the database, real submissions, a round, the
scenario with known truth (tests/support/coverage_scenario.py)."""

from __future__ import annotations

from datetime import date

import pytest

from forms import convert_xlsform
from server.extensions import db
from server.models import Round, Submission
from tests.support.coverage_scenario import (
    build_scenario,
    ensure_areas,
    ensure_round,
    install_forms,
    submit_instance,
)
from tests.support.paths import TOWNSHIP


@pytest.fixture(scope="session")
def township_xforms() -> dict[str, tuple[str, str]]:
    out = {}
    for name in ("building_listing", "household"):
        c = convert_xlsform((TOWNSHIP / f"{name}.xlsx").read_bytes(), f"{name}.xlsx")
        out[name] = (c.xform, c.version)
    return out


@pytest.fixture
def round_2016(app) -> Round:
    rnd = Round(name="2016 push", starts_on=date(2016, 10, 1), ends_on=date(2016, 11, 30))
    db.session.add(rnd)
    db.session.commit()
    return rnd


@pytest.fixture
def submit(app, township_xforms):
    versions = install_forms(township_xforms)

    def do(form: str, **kwargs) -> Submission:
        return submit_instance(versions, form, **kwargs)

    do.versions = versions
    return do


@pytest.fixture
def scenario(app, township_xforms, make_user) -> dict[str, str]:
    rnd = ensure_round()
    versions = install_forms(township_xforms)
    ensure_areas()
    db.session.commit()
    coordinator = make_user("coordinator", username="xieguan", areas=["T01-01"])
    expected = build_scenario(versions, coordinator.id)
    scenario_round = rnd.id
    return {"expected": expected, "round_id": scenario_round}
