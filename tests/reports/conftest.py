"""Fixtures for the reports' tests: the hand-worked township of tests/support/reports.py."""

from __future__ import annotations

import pytest

from tests.support.reports import Scenario


@pytest.fixture
def plan(app, make_user) -> Scenario:
    """The scenario's submissions sent and reviewed (SQLite)."""
    return Scenario(make_user).run()
