"""The review loop's queries (the latest decision per submission, the returned list in scope,
the correction replacing the original) on PostgreSQL: the same tests over a PostgreSQL app."""

from __future__ import annotations

import pytest

from tests.openrosa.test_review_loop import (  # noqa: F401 (fixtures and tests run here again)
    sent,
    supervisor,
    test_opening_is_audited_and_the_correction_replaces_it,
    test_the_coordinator_sees_the_returned_one_and_no_one_else_does,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(postgres_app):
    """The review loop's tests, as they are, on the shared PostgreSQL app (tests/conftest.py)."""
    return postgres_app
