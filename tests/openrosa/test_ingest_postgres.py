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
from server.models import Submission, SubmissionAttachment, SubmissionBlob
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


def test_a_batchs_rows_are_one_statement_whatever_its_size(form):
    """Batches of 1, 2 and 3 new submissions send the same INSERT text (psycopg rewrites a
    statement's text on every execution past 50 parameters: the multi-row VALUES of a batch
    did), and the rows get what the model's defaults give, each its own id."""
    texts: set[str] = set()

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO submissions"):
            texts.add(statement)

    out = []
    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for size in (1, 2, 3):
            xmls = [household_instance(f"uuid:pg-size-{size}-{i}") for i in range(size)]
            out += write_batch(db.engine, [
                Pending(f"uuid:pg-size-{size}-{i}", None, form.id, None,
                        hashlib.sha256(xml).hexdigest(), xml, 102.6, 24.6, 5.0, ())
                for i, xml in enumerate(xmls)])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert len(texts) == 1
    rows = db.session.execute(sa.select(
        Submission.id, Submission.instance_id, Submission.review_state,
        Submission.received_at, Submission.processing_state, Submission.lon)).all()
    assert sorted(o.submission_id for o in out) == sorted(r.id for r in rows)
    by_id = {r.id: r for r in rows}
    assert all(by_id[o.submission_id].instance_id.startswith("uuid:pg-size-") for o in out)
    assert {(r.review_state, r.processing_state, r.lon) for r in rows} == {
        ("received", "pending", 102.6)}
    assert all(r.received_at is not None for r in rows)
