"""Group commit: many submissions in one transaction, each answered on its own; the multipart
reader; XML kept in the database (server.services.ingest.batch, group_commit, storage)."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Submission, SubmissionBlob
from server.openrosa import multipart
from server.services import storage
from server.services.ingest import batch as submission_batch
from server.services.ingest.batch import IngestError, Outcome, Pending, StoredFile
from server.services.ingest.group_commit import GroupCommitter
from server.serving import size_pool
from tests.support.app import make_app, upgrade
from tests.support.household_form import household_instance


def pending(fv, xml: bytes, iid: str, dep: str | None = None,
            files: tuple[StoredFile, ...] = ()) -> Pending:
    return Pending(iid, dep, fv.id, None, hashlib.sha256(xml).hexdigest(), xml, 102.6, 24.6,
                   5.0, ("door.jpg",), files)


def photo(app, data: bytes) -> StoredFile:
    dirs: set = set()
    key, sha = storage.put("att", data, pending_dirs=dirs)
    return StoredFile("door.jpg", "image/jpeg", key, sha, len(data))


def answers(outcomes) -> list:
    return [o.status if isinstance(o, IngestError) else (o.status, o.message)
            for o in outcomes]


def test_one_batch_decides_each_item_against_the_ones_before(app, form):
    """One transaction: new, the same bytes again (completing the photo), different bytes
    under the same instanceID (409), an edit, a second edit of the replaced version (409) —
    one failing item does not abort the others; XML and rows are stored together."""
    a = household_instance("uuid:b1")
    items = [
        pending(form, a, "uuid:b1"),
        pending(form, a, "uuid:b1", files=(photo(app, b"jpeg b1"),)),
        pending(form, household_instance("uuid:b1", head="other"), "uuid:b1"),
        pending(form, household_instance("uuid:b2", deprecated_id="uuid:b1"), "uuid:b2", "uuid:b1"),
        pending(form, household_instance("uuid:b3", deprecated_id="uuid:b1"), "uuid:b3", "uuid:b1"),
        pending(form, household_instance("uuid:b4"), "uuid:b4"),
    ]
    out = submission_batch.write_batch(db.engine, items)
    assert answers(out) == [
        (201, "Submission received."),
        (201, "Submission already received; attachments completed."),
        409, (201, "Submission received."), 409, (201, "Submission received."),
    ]
    assert out[0].submission_id == out[1].submission_id
    assert "identical" in out[2].message and "already replaced" in out[4].message
    db.session.expire_all()
    subs = {s.instance_id: s for s in db.session.scalars(sa.select(Submission))}
    assert sorted(subs) == ["uuid:b1", "uuid:b2", "uuid:b4"]
    assert subs["uuid:b1"].superseded and not subs["uuid:b2"].superseded
    assert subs["uuid:b1"].attachments_present == 1
    assert storage.get(subs["uuid:b1"].attachments[0].storage_key) == b"jpeg b1"
    for iid, sub in subs.items():
        assert sub.storage_key == f"db:{sub.xml_sha256}"
        assert b"<instanceID>" + iid.encode() in storage.get(sub.storage_key, sub.xml_sha256)


def test_stored_rows_are_checked_too(app, form):
    """Across batches: the same bytes -> 201 completing attachments, the first copy wins."""
    xml = household_instance("uuid:s1")
    (first,) = submission_batch.write_batch(db.engine, [pending(form, xml, "uuid:s1")])
    later = submission_batch.write_batch(db.engine, [
        pending(form, xml, "uuid:s1", files=(photo(app, b"one"),)),
        pending(form, xml, "uuid:s1", files=(photo(app, b"two"),)),
        pending(form, household_instance("uuid:s1", head="x"), "uuid:s1"),
    ])
    assert answers(later) == [(201, "Submission already received; attachments completed."),
                              (201, "Submission already received."), 409]
    assert {o.submission_id for o in later[:2]} == {first.submission_id}
    sub = db.session.get(Submission, first.submission_id)
    assert storage.get(sub.attachments[0].storage_key) == b"one"


def test_lost_race_replays_item_by_item(app, form, monkeypatch):
    """When the batch's checks missed a concurrent insert (another web worker on PostgreSQL),
    the unique constraint refuses the batch and every item is replayed in its own SAVEPOINT:
    the loser of the race gets its honest answer, the others still commit."""
    stored = household_instance("uuid:r1")
    submission_batch.write_batch(db.engine, [pending(form, stored, "uuid:r1")])
    real_load = submission_batch._load
    calls = []

    def blind_first(conn, items):
        calls.append(len(items))
        known, replaced = real_load(conn, items)
        return ({}, {}) if len(calls) == 1 else (known, replaced)

    monkeypatch.setattr(submission_batch, "_load", blind_first)
    out = submission_batch.write_batch(db.engine, [
        pending(form, household_instance("uuid:r2"), "uuid:r2"),
        pending(form, stored, "uuid:r1"),
        pending(form, household_instance("uuid:r1", head="x"), "uuid:r1"),
    ])
    assert calls[0] == 3 and calls[1:] == [1, 1, 1]
    assert answers(out) == [(201, "Submission received."),
                            (201, "Submission already received."), 409]
    ids = db.session.scalars(sa.select(Submission.instance_id).order_by(Submission.id)).all()
    assert ids == ["uuid:r1", "uuid:r2"]
    blobs = db.session.scalar(sa.select(sa.func.count()).select_from(SubmissionBlob))
    assert blobs == 2


def test_committer_batches_concurrent_items_and_isolates_failures(app):
    """Items queued while a batch is being written go together into the next one; each
    waiting thread gets its own result or exception; a failing write fails only its batch."""
    seen: list[list[int]] = []

    def write(items: list[int]):
        seen.append(items)
        time.sleep(0.05)  # a slow flush lets the queue fill up
        if -1 in items:
            raise RuntimeError("disk on fire")
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    committer = GroupCommitter(app, write, idle_s=0.2)

    def submit(i: int):
        try:
            return committer.submit(i, timeout=10)
        except ValueError as err:
            return str(err)

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(submit, range(40)))
    assert results == [str(f"odd {i}") if i % 2 else i * 10 for i in range(40)]
    assert len(seen) < 40 and max(len(b) for b in seen) > 1
    with pytest.raises(RuntimeError, match="disk on fire"):
        committer.submit(-1, timeout=10)
    time.sleep(0.5)
    assert committer._thread is None  # idle: the thread ended, the next submit starts one
    assert committer.submit(4, timeout=10) == 40


def test_a_new_committer_waits_until_the_idle_one_has_released_its_connection(app):
    """The committer that ends on idle closes its connection; a submit arriving meanwhile must
    not start a committer that writes on that connection while it is being closed (CI saw
    SQLite segfault in exactly that overlap)."""
    closing, may_finish = threading.Event(), threading.Event()
    writes_while_closing: list[list[int]] = []

    def write(items: list[int]):
        if closing.is_set():
            writes_while_closing.append(items)
        return items

    def release():
        closing.set()
        may_finish.wait(5)
        closing.clear()

    committer = GroupCommitter(app, write, idle_s=0.05, on_idle=release)
    assert committer.submit(1, timeout=5) == 1
    assert closing.wait(5), "the idle committer never released its connection"
    second = threading.Thread(target=committer.submit, args=(2,), kwargs={"timeout": 5})
    second.start()
    time.sleep(0.2)  # time enough for a second committer to write, were it let in
    may_finish.set()
    second.join(5)
    assert committer.items == 2
    assert writes_while_closing == []


def test_posts_from_many_threads_share_commits(app, form, coordinator):
    """Through the real view: 40 concurrent POSTs, each answered 201, in fewer commits."""
    import io

    from server.services.ingest.accept import COMMITTER_KEY

    token = coordinator.device_token

    def one(i: int) -> int:
        with app.test_client() as client:
            xml = household_instance(f"uuid:t{i}")
            data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
            return client.post(f"/o/{token}/submission", data=data,
                               headers={"X-OpenRosa-Version": "1.0"},
                               content_type="multipart/form-data").status_code

    size_pool(db.engine, 20)  # as `serve` sizes it: one per web thread, and the committer's
    with ThreadPoolExecutor(20) as pool:
        assert set(pool.map(one, range(40))) == {201}
    committer = app.extensions[COMMITTER_KEY]
    assert committer.items == 40 and committer.batches <= 40
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 40


def test_db_key_checksum_and_missing(app, form):
    (out,) = submission_batch.write_batch(db.engine, [pending(form, household_instance("uuid:k1"),
                                                              "uuid:k1")])
    assert isinstance(out, Outcome)
    sub = db.session.get(Submission, out.submission_id)
    assert storage.exists(sub.storage_key)
    with pytest.raises(storage.StorageError, match="checksum"):
        storage.get(sub.storage_key, "0" * 64)
    assert not storage.exists("db:" + "1" * 64)
    with pytest.raises(storage.StorageError, match="missing"):
        storage.get("db:" + "1" * 64)
    with pytest.raises(storage.StorageError, match="database"):
        storage.path_of(sub.storage_key)


B = b"xyz"


@pytest.mark.parametrize(("body", "why"), [
    (b"no boundary here", "never occurs"),
    (b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue", "truncated"),
    (b"--xyz\r\nContent-Disposition: form-data; name=\"a\"", "not terminated"),
    (b"--xyz\r\nX: y\r\n\r\nv\r\n--xyz--", "no Content-Disposition"),
    (b"--xyz\r\nbroken header\r\n\r\nv\r\n--xyz--", "no colon"),
    (b"--xyzjunk\r\n", "line break"),
])
def test_multipart_refuses_malformed_bodies(body, why):
    with pytest.raises(multipart.MultipartError, match=why):
        multipart.parse(body, B)


def test_multipart_parts_fields_and_preamble():
    body = (b"preamble\r\n--xyz\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; "
            b"filename=\"s.xml\"\r\nContent-Type: text/xml; charset=utf-8\r\n\r\n<d/>\r\n--xyz\r\n"
            b"Content-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--xyz--\r\nepilogue")
    parts = multipart.parse(body, B)
    assert parts == [multipart.Part("xml_submission_file", "s.xml", "text/xml", b"<d/>"),
                     multipart.Part("note", None, "application/octet-stream", b"hi")]
    assert multipart.boundary_of('multipart/form-data; boundary="xyz"') == b"xyz"
    assert multipart.boundary_of("application/x-www-form-urlencoded") is None


def test_malformed_multipart_post_is_400(app, form, client, coordinator):
    r = client.post(f"/o/{coordinator.device_token}/submission", data=b"--xyz\r\nbad",
                    headers={"X-OpenRosa-Version": "1.0",
                             "Content-Type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 400 and b"multipart" in r.data


@pytest.mark.postgres
def test_two_workers_race_on_postgres(tmp_path, postgres_url):
    """Two web workers (two committers, two engines) write the same new instanceIDs at the
    same time: the unique constraint arbitrates, the loser replays item by item, and every
    instance is stored once — identical bytes 201 for both, different bytes 201 + 409."""
    from tests.support.household_form import add_household_form

    apps = [make_app(tmp_path / f"w{i}", SQLALCHEMY_DATABASE_URI=postgres_url) for i in (0, 1)]
    upgrade(apps[0])
    with apps[0].app_context():
        fv = SimpleNamespace(id=add_household_form().id)
        db.session.remove()
    shared = [household_instance(f"uuid:pg{i}") for i in range(30)]
    barrier = threading.Barrier(2)

    def worker(w: int):
        with apps[w].app_context():
            items = [pending(fv, xml, f"uuid:pg{i}") for i, xml in enumerate(shared)]
            items += [pending(fv, household_instance(f"uuid:pgc{i}", head=f"w{w}"), f"uuid:pgc{i}")
                      for i in range(10)]
            barrier.wait()
            out = submission_batch.write_batch(db.engine, items)
            db.engine.dispose()
            return out

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(worker, (0, 1))
    assert all(o.status == 201 for o in first[:30] + second[:30])
    contested = [(a.status, b.status) for a, b in zip(first[30:], second[30:], strict=True)]
    assert all(sorted(pair) == [201, 409] for pair in contested)
    with apps[0].app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Submission))
        assert count == 40
        db.session.remove()
        db.engine.dispose()
