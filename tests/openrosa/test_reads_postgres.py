"""On PostgreSQL a submission's two reads (the device token, the form's version) run in
autocommit: no BEGIN and ROLLBACK round trips around them (tests/bench/RESULTS.md, "Ingest at
~1 ms per submission": the backends' CPU per submission halved)."""

from __future__ import annotations

import pytest
from flask import Flask

from server.openrosa import views
from tests.support.household_form import household_instance

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(postgres_app) -> Flask:
    return postgres_app


def test_a_submissions_reads_open_no_transaction(post, form, monkeypatch):
    from psycopg.pq import TransactionStatus

    seen: list[TransactionStatus] = []
    check = views._submitter

    def spy(token, conn=None):
        found = check(token, conn)
        seen.append(conn.connection.dbapi_connection.info.transaction_status)
        return found

    monkeypatch.setattr(views, "_submitter", spy)
    assert post(household_instance("uuid:pg-read-1")).status_code == 201
    assert post(household_instance("uuid:pg-read-1")).status_code == 201  # resent: the same
    assert seen == [TransactionStatus.IDLE, TransactionStatus.IDLE]  # not INTRANS
