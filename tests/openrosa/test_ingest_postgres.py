"""Ingest's statements on PostgreSQL (tests/bench/RESULTS.md, "Ingest at ~1 ms per submission"):
a submission's two reads (the device token, the form's version) run in autocommit, without
BEGIN and ROLLBACK round trips around them, and a batch's raw XML and its attachment rows
are one INSERT each."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from flask import Flask

from server.extensions import db
from server.models import SubmissionAttachment, SubmissionBlob
from server.openrosa import views
from server.services.ingest.batch import Pending, write_batch
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


def test_a_batchs_xml_is_one_statement(form):
    """Three new submissions (one sent twice in the batch): their blobs and their expected
    attachments' rows go in one INSERT each (psycopg's executemany sent one per row); a hash
    already stored keeps its row."""
    xmls = [household_instance(f"uuid:pg-blob-{i}") for i in range(3)]
    items = [Pending(f"uuid:pg-blob-{i}", None, form.id, None,
                     hashlib.sha256(xml).hexdigest(), xml, None, None, None, ("door.jpg",))
             for i, xml in enumerate(xmls)]
    db.session.add(SubmissionBlob(sha256=items[2].digest, xml=b"stored before"))
    db.session.commit()
    statements: list[tuple[str, bool]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        for table in ("submission_blobs", "submission_attachments"):
            if statement.startswith("INSERT INTO " + table):
                statements.append((table, executemany))

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        write_batch(db.engine, [*items, items[1]])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert statements == [("submission_blobs", False), ("submission_attachments", False)]
    stored = dict(db.session.execute(sa.select(SubmissionBlob.sha256, SubmissionBlob.xml)).all())
    assert stored == {items[0].digest: xmls[0], items[1].digest: xmls[1],
                      items[2].digest: b"stored before"}
    att = SubmissionAttachment
    atts = db.session.execute(sa.select(att.name, att.content_type, att.storage_key)).all()
    assert sorted(atts) == [("door.jpg", "application/octet-stream", None)] * 3
