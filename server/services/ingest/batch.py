"""The ingest committer's work: a batch of checked submissions written in ONE transaction.

Each item arrives parsed and validated by its request thread (server.services.ingest.accept),
its attachment files already written and fsynced (their directories are fsynced here, once per
batch, before the commit). One transaction then decides every item against the stored rows and
the items before it in the same batch — new (201), same bytes again (201, attachments
completed), different bytes (409), edit of someone else's submission (403), edit of an
already-replaced version (409) — and inserts the rows, the raw XML (table submission_blobs) and
the attachment rows. Its commit is the single durable flush for the whole batch (SQLite WAL
with synchronous=FULL, or PostgreSQL).

On SQLite the transaction starts with BEGIN IMMEDIATE: the checks and the writes see the same
database. On PostgreSQL another worker's committer may insert the same instanceID between check
and insert; the unique constraints then refuse the batch, which is replayed item by item, each
in its own SAVEPOINT and re-checked (a loser becomes a resubmission or a 409).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from server.models import Submission, SubmissionAttachment
from server.models.submissions import TEST_STATE
from server.services import storage
from server.services.errors import ServiceError
from server.services.ingest.bulk import insert_attachments, insert_blobs, insert_submissions

SUBS = Submission.__table__
ATTS = SubmissionAttachment.__table__


class IngestError(ServiceError):
    """A submission that cannot be accepted; status is the HTTP answer, message says why."""

    code = "submission_refused"


@dataclass(frozen=True)
class StoredFile:
    name: str
    content_type: str
    key: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Pending:
    """One checked submission on its way to the committer (plain values, no ORM objects)."""

    instance_id: str
    deprecated_id: str | None
    form_version_id: int
    submitter_id: int | None
    digest: str
    xml: bytes
    lon: float | None
    lat: float | None
    accuracy: float | None
    expected: tuple[str, ...]
    files: tuple[StoredFile, ...] = ()
    dirs: frozenset[Path] = frozenset()
    draft: bool = False  # a test submission sent through a draft's test link
    # Whose submissions this one may replace as an edit besides its submitter's own: those
    # ids (a supervisor's area), or None for anyone's (an admin). Default: nobody else's.
    editable: frozenset[int] | None = frozenset()


@dataclass(frozen=True)
class Outcome:
    status: int
    message: str
    submission_id: int
    stored: tuple[str, ...] = ()
    created: bool = False


@dataclass
class _Att:
    id: int | None
    name: str
    storage_key: str | None = None
    sha256: str | None = None
    size: int | None = None
    content_type: str = "application/octet-stream"
    changed: bool = False


@dataclass
class _Sub:
    """A stored submission, or one created earlier in this batch (id None until inserted)."""

    id: int | None
    sha: str
    superseded: bool
    atts: dict[str, _Att] | None = None  # loaded only when a resubmission brings files
    item: Pending | None = None
    present_changed: bool = False
    draft: bool = False
    submitter_id: int | None = None

    @property
    def present(self) -> int:
        return sum(1 for a in (self.atts or {}).values() if a.storage_key is not None)


def _crossing(instance_id: str) -> IngestError:
    """Test submissions and real ones never replace or complete each other."""
    return IngestError(
        "Submission {instance_id} belongs to the other side of a draft test link (a test "
        "submission cannot become real data, nor the reverse): start a new form instead.",
        status=409, code="conflict", instance_id=instance_id,
    )


def _replaced(instance_id: str, by: str | None) -> IngestError:
    """An edit of a version another edit already replaced (named when known)."""
    if by is None:
        return IngestError("Submission {instance_id} was already replaced by an edit: edit the "
                           "newest version instead.", status=409, code="conflict",
                           instance_id=instance_id)
    return IngestError("Submission {instance_id} was already replaced by an edit ({by}): edit "
                       "the newest version instead.", status=409, code="conflict",
                       instance_id=instance_id, by=by)


def _may_edit(item: Pending, old: _Sub) -> bool:
    """An edit comes from the original's submitter, or from a supervisor/admin over them."""
    return (old.submitter_id == item.submitter_id or item.editable is None
            or old.submitter_id in item.editable)


def not_yours(instance_id: str) -> IngestError:
    return IngestError(
        "Submission {instance_id} was sent by someone else: only its sender, or a supervisor "
        "of their area, may edit it. Nothing was changed.",
        status=403, code="forbidden", instance_id=instance_id,
    )


def conflict(instance_id: str) -> IngestError:
    return IngestError(
        "A different submission with instanceID {instance_id} was already "
        "received: resubmissions must be identical (edits need a new instanceID "
        "with meta/deprecatedID).",
        status=409, code="conflict", instance_id=instance_id,
    )


class CommitterConnection:
    """The committer's own connection, kept while it has work: on SQLite with a page cache
    large enough for the instanceID and blob indexes of a million submissions (random UUID
    keys would otherwise re-read index pages from the OS on every insert)."""

    def __init__(self, engine: Engine, cache_mb: int = 64):
        self.engine = engine
        self.cache_mb = cache_mb
        self.conn: Connection | None = None

    def get(self) -> Connection:
        if self.conn is None or self.conn.closed or self.conn.invalidated:
            self.conn = self.engine.connect()
            # Outside the pool: closing it really closes it (even after the pool was disposed),
            # and the large page cache never leaks into the request threads' connections.
            self.conn.detach()
            if self.conn.dialect.name == "sqlite":
                self.conn.exec_driver_sql(f"PRAGMA cache_size=-{self.cache_mb * 1024}")
                self.conn.rollback()
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def write_batch(engine: Engine | CommitterConnection,
                items: list[Pending]) -> list[Outcome | Exception]:
    """Commit a batch; returns one Outcome or IngestError per item, in order."""
    dirs: set[Path] = set()
    for item in items:
        dirs.update(item.dirs)
    storage.sync_dirs(dirs)  # renamed attachment files are durable before any row names them
    if isinstance(engine, CommitterConnection):
        conn = engine.get()
        try:
            return _write_batch(conn, items)
        except Exception:
            engine.close()  # a broken connection is not reused
            raise
    with engine.connect() as conn:
        return _write_batch(conn, items)


def _write_batch(conn: Connection, items: list[Pending]) -> list[Outcome | Exception]:
    if conn.in_transaction():
        conn.rollback()
    _begin(conn)
    try:
        outcomes = _write(conn, items)
        conn.commit()
        return outcomes
    except IntegrityError:
        conn.rollback()  # another worker won a race: replay one item at a time
    _begin(conn)
    outcomes = [_write_one(conn, item) for item in items]
    conn.commit()
    return outcomes


def _begin(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before checking


def _write_one(conn: Connection, item: Pending) -> Outcome | Exception:
    for _attempt in range(3):
        savepoint = conn.begin_nested()
        try:
            (outcome,) = _write(conn, [item])
            savepoint.commit()
            return outcome
        except IntegrityError:
            savepoint.rollback()  # a concurrent POST of the same instance or edit won: re-check
    return IngestError("The submission conflicts with another one sent at the same time.",
                       status=409, code="conflict")


def _load(conn: Connection, items: list[Pending]) -> tuple[dict[str, _Sub], dict[str, str]]:
    """Stored rows named by the batch: by instanceID, and edits by the id they replace."""
    ids = {i.instance_id for i in items} | {i.deprecated_id for i in items if i.deprecated_id}
    deps = {i.deprecated_id for i in items if i.deprecated_id}
    where = SUBS.c.instance_id.in_(ids)
    if deps:
        where = sa.or_(where, SUBS.c.deprecated_id.in_(deps))
    known: dict[str, _Sub] = {}
    replaced_by: dict[str, str] = {}
    query = sa.select(SUBS.c.id, SUBS.c.instance_id, SUBS.c.xml_sha256, SUBS.c.superseded,
                      SUBS.c.deprecated_id, SUBS.c.draft, SUBS.c.submitter_id).where(where)
    for row in conn.execute(query):
        if row.instance_id in ids:
            known[row.instance_id] = _Sub(row.id, row.xml_sha256, bool(row.superseded),
                                          draft=bool(row.draft), submitter_id=row.submitter_id)
        if row.deprecated_id in deps:
            replaced_by[row.deprecated_id] = row.instance_id
    with_files = {i.instance_id for i in items if i.files}
    need = {s.id: s for iid, s in known.items() if iid in with_files}
    if need:
        for sub in need.values():
            sub.atts = {}
        query = sa.select(ATTS.c.id, ATTS.c.submission_id, ATTS.c.name, ATTS.c.storage_key)
        for row in conn.execute(query.where(ATTS.c.submission_id.in_(need))):
            need[row.submission_id].atts[row.name] = _Att(row.id, row.name, row.storage_key)
    return known, replaced_by


def _attach(sub: _Sub, files: tuple[StoredFile, ...]) -> tuple[str, ...]:
    """Point the expected attachments still missing at their stored files.

    Files the instance does not reference are ignored (as ODK Central does); the first copy
    of an attachment wins, since stored records are append-only.
    """
    stored: list[str] = []
    for f in files:
        att = (sub.atts or {}).get(f.name)
        if att is None or att.storage_key is not None:
            continue
        att.storage_key, att.sha256, att.size = f.key, f.sha256, f.size
        att.content_type, att.changed = f.content_type, True
        stored.append(f.name)
    if stored:
        sub.present_changed = True
    return tuple(stored)


def _write(conn: Connection, items: list[Pending]) -> list[Outcome | Exception]:
    known, replaced_by = _load(conn, items)
    answers: list[tuple[str, tuple[str, ...], _Sub, bool] | Exception] = []
    created: list[_Sub] = []
    superseded: set[int] = set()
    for item in items:
        sub = known.get(item.instance_id)
        if sub is not None and sub.draft != item.draft:
            answers.append(_crossing(item.instance_id))
            continue
        if sub is not None:  # the same instance again (stored, or earlier in this batch)
            if sub.sha != item.digest:
                answers.append(conflict(item.instance_id))
                continue
            stored = _attach(sub, item.files)
            message = ("Submission already received; attachments completed." if stored
                       else "Submission already received.")
            answers.append((message, stored, sub, False))
            continue
        dep = item.deprecated_id
        if dep:
            old = known.get(dep)
            if old is not None and old.draft != item.draft:
                answers.append(_crossing(dep))
                continue
            if old is not None and not _may_edit(item, old):  # before saying anything of it
                answers.append(not_yours(dep))
                continue
            if (old is not None and old.superseded) or dep in replaced_by:
                answers.append(_replaced(dep, replaced_by.get(dep)))
                continue
            if old is not None:
                old.superseded = True
                if old.id is not None:
                    superseded.add(old.id)
            replaced_by[dep] = item.instance_id
        sub = _Sub(None, item.digest, False, {n: _Att(None, n) for n in item.expected}, item,
                   draft=item.draft, submitter_id=item.submitter_id)
        stored = _attach(sub, item.files)
        known[item.instance_id] = sub
        created.append(sub)
        answers.append(("Submission received.", stored, sub, True))
    _insert(conn, created)
    _update(conn, known, superseded)
    out: list[Outcome | Exception] = []
    for answer in answers:
        if isinstance(answer, Exception):
            out.append(answer)
            continue
        message, stored, sub, is_new = answer
        out.append(Outcome(201, message, sub.id, stored, created=is_new))
    return out


def _insert(conn: Connection, created: list[_Sub]) -> None:
    if not created:
        return
    rows = [
        {
            "instance_id": s.item.instance_id, "form_version_id": s.item.form_version_id,
            "submitter_id": s.item.submitter_id, "xml_sha256": s.item.digest,
            "xml_size": len(s.item.xml), "storage_key": storage.db_key(s.item.digest),
            "deprecated_id": s.item.deprecated_id, "superseded": s.superseded,
            "attachments_expected": len(s.atts), "attachments_present": s.present,
            "lon": s.item.lon, "lat": s.item.lat, "gps_accuracy": s.item.accuracy,
            "draft": s.item.draft, "processing_state": TEST_STATE if s.item.draft else "pending",
        }
        for s in created
    ]
    for sub, new_id in zip(created, insert_submissions(conn, rows), strict=True):
        sub.id = new_id
    insert_blobs(conn, [{"sha256": s.item.digest, "xml": s.item.xml} for s in created])
    atts = [
        {"submission_id": s.id, "name": a.name, "content_type": a.content_type,
         "sha256": a.sha256, "size": a.size, "storage_key": a.storage_key}
        for s in created for a in s.atts.values()
    ]
    insert_attachments(conn, atts)
    for s in created:  # rows now exist: later changes in this batch are plain updates
        s.present_changed = False
        for a in s.atts.values():
            a.changed = False


def _update(conn: Connection, known: dict[str, _Sub], superseded: set[int]) -> None:
    if superseded:
        conn.execute(SUBS.update().where(SUBS.c.id.in_(superseded)).values(superseded=True))
    changed = [
        {"att_id": a.id, "k": a.storage_key, "s": a.sha256, "n": a.size, "t": a.content_type}
        for sub in known.values() for a in (sub.atts or {}).values() if a.changed
    ]
    if changed:
        conn.execute(
            ATTS.update().where(ATTS.c.id == sa.bindparam("att_id")).values(
                storage_key=sa.bindparam("k"), sha256=sa.bindparam("s"),
                size=sa.bindparam("n"), content_type=sa.bindparam("t")),
            changed,
        )
    present = [{"sub_id": s.id, "p": s.present} for s in known.values() if s.present_changed]
    if present:
        conn.execute(
            SUBS.update().where(SUBS.c.id == sa.bindparam("sub_id"))
            .values(attachments_present=sa.bindparam("p")),
            present,
        )
