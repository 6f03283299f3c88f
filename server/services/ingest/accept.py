"""Submission ingest: the raw record is made durable and committed before anyone hears "201".

A POST is split between its request thread and the process's ingest committer
(server.services.ingest.group_commit):

1. the request thread parses the XML once (defusedxml), checks it, finds the form version (one
   query; the form's shape is cached by version id and md5), reads the geotag and the expected
   attachment names in one walk, and writes the attachment files it will keep (content-addressed,
   fsynced; their directories are fsynced by the committer, once per batch);
2. it hands a plain `Pending` item to the committer and waits;
3. the committer writes the whole batch — rows, raw XML (table submission_blobs, storage key
   `db:<sha256>`) and attachment rows — in ONE transaction and ONE durable flush
   (server.services.ingest.batch), then wakes each request with its own answer.

So nothing is acknowledged before its XML, its attachments and its row are durable, and a crash
leaves at most unreferenced content-addressed files, never a row without its content. Processing
(entities, visits …) runs later (server.services.processing.pipeline). `INGEST_GROUP_COMMIT = False`
writes each submission in its request thread instead (same code, batches of one).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from forms.instance import (
    MAX_DEPTH,
    EncodingRefused,
    InstanceError,
    InstanceSchema,
    TooDeep,
    TooManyElements,
    instance_schema,
    parse_geopoint,
)
from forms.instance import parse_instance as read_and_root
from forms.xform_info import JR, parse_xform, primary_instance_root
from server.extensions import db
from server.models import Form, FormVersion, Role, Submission, User
from server.services import faults, scope, storage
from server.services.forms.lifecycle import accepts_submissions
from server.services.ingest.batch import (
    CommitterConnection,
    IngestError,
    Outcome,
    Pending,
    StoredFile,
    conflict,
    write_batch,
)
from server.services.ingest.group_commit import CommitTimeout, GroupCommitter, committer_for
from server.services.submissions import review

__all__ = ["NEW_SUBMISSION", "FormShape", "IngestError", "IngestResult", "StoredFile", "Upload",
           "find_form_version", "form_shape", "ingest", "read_and_root"]

# Signalled after each new submission so the background worker wakes up at once.
NEW_SUBMISSION = threading.Event()
COMMITTER_KEY = "doorstep.ingest_committer"


@dataclass(frozen=True)
class Upload:
    name: str
    content_type: str
    data: bytes


@dataclass
class IngestResult:
    status: int
    message: str
    submission_id: int
    stored_attachments: list[str] = field(default_factory=list)

    @property
    def submission(self) -> Submission:
        """The stored row, loaded on demand in the caller's session."""
        return db.session.get(Submission, self.submission_id)


@dataclass(frozen=True)
class FormShape:
    """What ingest and exports need to know about a form version's instance layout."""

    schema: InstanceSchema
    binary_paths: frozenset[str]
    repeat_paths: tuple[str, ...]
    # The geotag and attachment paths and every group holding one: the only elements ingest's
    # scan descends into (a household's 32 people hold neither, and walking them was a third
    # of the request's Python time).
    scan_paths: frozenset[str] = frozenset()


@lru_cache(maxsize=4096)  # the same few dozen tags in every submission of a form
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@lru_cache(maxsize=256)
def _shape(form_version_id: int, md5: str, xform: str) -> FormShape:
    root = parse_xform(xform)
    binds = root.iter("{http://www.w3.org/2002/xforms}bind")
    binary = frozenset(b.get("nodeset", "") for b in binds if b.get("type") == "binary")
    repeats: list[str] = []

    def walk(el: Any, path: str) -> None:
        for child in el:
            child_path = f"{path}/{_local(child.tag)}"
            if child.get(f"{{{JR}}}template") is not None and child_path not in repeats:
                repeats.append(child_path)
            walk(child, child_path)

    data = primary_instance_root(root)
    walk(data, "/" + _local(data.tag))
    schema = instance_schema(xform)
    return FormShape(schema, binary, tuple(repeats), _ancestors(set(schema.geo_paths) | binary))


def _ancestors(paths: set[str]) -> frozenset[str]:
    """Each path and every path above it ('/a/b/c' -> '/a', '/a/b', '/a/b/c')."""
    found: set[str] = set()
    for path in paths:
        steps = path.split("/")
        found.update("/".join(steps[:i]) for i in range(2, len(steps) + 1))
    return frozenset(found)


def form_shape(form_version: FormVersion) -> FormShape:
    return _shape(form_version.id, form_version.md5, form_version.xform)


@lru_cache(maxsize=256)
def _shape_by_id(form_version_id: int, md5: str) -> FormShape:
    """Like form_shape, without loading the XForm text when the shape is already known.

    The md5 is the XForm's checksum, so (id, md5) names one XForm text in any database.
    """
    xform = db.session.scalar(sa.select(FormVersion.xform).where(FormVersion.id == form_version_id))
    return _shape(form_version_id, md5, xform)


@dataclass
class _Scan:
    """What one walk over the instance finds: the geotag and the attachments it names."""

    point: tuple[float, float, float, float] | None = None
    expected: list[str] = field(default_factory=list)


def _scan(root: Any, shape: FormShape) -> _Scan:
    found = _Scan()
    geo, binary, inside = shape.schema.geo_paths, shape.binary_paths, shape.scan_paths

    def walk(el: Any, path: str) -> None:
        for child in el:
            child_path = f"{path}/{_local(child.tag)}"
            if child_path not in inside:
                continue  # neither a geotag, an attachment, nor a group holding one
            if child_path in geo or child_path in binary:
                text = (child.text or "").strip()
                if text and child_path in binary and text not in found.expected:
                    found.expected.append(text)
                if text and child_path in geo and found.point is None:
                    found.point = parse_geopoint(text.split(";")[0])
            walk(child, child_path)

    if "/" + _local(root.tag) in geo:  # a geotag on the root itself (never in practice)
        found.point = parse_geopoint((root.text or "").strip().split(";")[0])
    walk(root, "/" + _local(root.tag))
    return found


def _child_text(el: Any, name: str) -> str | None:
    if el is None:
        return None
    found = next((c for c in el if _local(c.tag) == name), None)
    return ((found.text or "").strip() or None) if found is not None else None


def find_form_version(form_id: str, version: str | None, user: User | None = None) -> FormVersion:
    """The version a submission names; 404 names what is unknown, 409 when it cannot be used."""
    form = db.session.scalar(sa.select(Form).where(Form.xml_form_id == form_id))
    if form is None:
        raise IngestError("Form {form_id!r} does not exist on this server.", status=404,
                          code="unknown_form", form_id=form_id)
    if form.state == "closed":
        raise IngestError("Form {form_id!r} is closed and accepts no new submissions.",
                          status=409, code="form_closed", form_id=form_id)
    fv = db.session.scalar(
        sa.select(FormVersion).where(
            FormVersion.form_id == form.id, FormVersion.version == (version or "")
        )
    )
    if fv is None:
        raise IngestError("Version {version!r} of form {form_id!r} does not exist.",
                          status=404, code="unknown_form", version=version or "",
                          form_id=form_id)
    if not accepts_submissions(fv, user):
        raise IngestError("Version {version!r} of form {form_id!r} is a draft, not published: "
                          "try it through its draft test link (the QR code on the form's page) "
                          "or publish it before sending submissions.", status=409,
                          code="form_draft", version=version, form_id=form_id)
    return fv


def _accepting_version(form_id: str, version: str | None, user: User | None,
                       reader: Connection | None = None) -> tuple[int, str]:
    """(id, md5) of the version to store under: one Core query for the common case (an open
    form, a published or superseded version); find_form_version explains every other case.
    On `reader` when given (the device-token check's connection), its transaction ended
    after (the request waits for the committer next, holding no snapshot)."""
    if reader is not None:
        row = reader.execute(_VERSION_QUERY, {"f": form_id, "v": version or ""}).first()
        reader.rollback()
    else:
        with db.engine.connect() as conn:
            row = conn.execute(_VERSION_QUERY, {"f": form_id, "v": version or ""}).first()
    if row is None or row[3] == "closed" or row[2] not in ("published", "superseded"):
        if user is not None and not isinstance(user, User):
            user = db.session.get(User, user.id)  # drafts: the forms service decides by user
        fv = find_form_version(form_id, version, user)
        return fv.id, fv.md5
    return row[0], row[1]


def _draft_version(draft: FormVersion, form_id: str, version: str | None) -> tuple[int, str]:
    """A test link takes submissions of its own draft only."""
    expected = (draft.form.xml_form_id, draft.version)
    if (form_id, version or "") != expected:
        raise IngestError("This draft test link takes submissions of form {draft_form!r} "
                          "version {draft_version!r} only, not of form {form_id!r} version "
                          "{version!r}.", status=409, code="not_this_draft",
                          draft_form=expected[0], draft_version=expected[1], form_id=form_id,
                          version=version or "")
    return draft.id, draft.md5


_VERSION_QUERY = (
    sa.select(FormVersion.id, FormVersion.md5, FormVersion.state, Form.state)
    .join(Form, Form.id == FormVersion.form_id)
    .where(Form.xml_form_id == sa.bindparam("f"), FormVersion.version == sa.bindparam("v"))
)


def _dedupe(uploads: list[Upload]) -> list[Upload]:
    seen: dict[str, Upload] = {}
    for up in uploads:
        seen.setdefault(up.name, up)
    return list(seen.values())


def _busy() -> IngestError:
    return IngestError("The server is busy; the phone will retry.", status=503, code="busy")


def ingest(user: User | Any | None, xml: bytes, uploads: list[Upload],
           draft: FormVersion | None = None, reader: Connection | None = None) -> IngestResult:
    """Accept one POST (the XML plus zero or more attachments); raise IngestError otherwise.

    `user` is the submitter: a User, or any object with its `id` (the OpenRosa view's token
    check loads no more), or None. With `draft` (a draft reached through its test link) the
    submission must be of that draft and is stored as a test submission. A saturated database
    (SQLite locked, PostgreSQL out of connections) is a 503: the phone retries later; a full
    disk (an attachment's file, the database's) is a 507, and nothing is acknowledged.
    `reader`: a connection the caller already holds, for the form lookup."""
    try:
        return _ingest(user, xml, uploads, draft, reader)
    except (OperationalError, OSError) as err:
        answer = _fault(err)
        if answer is None:
            raise
        raise answer from err


def _fault(err: Exception) -> Exception | None:
    """507 for a full disk, 503 for the database; any other OSError is not ours to explain."""
    if faults.disk_full(err):
        return faults.as_service_error(err)
    return _busy() if isinstance(err, (OperationalError, CommitTimeout)) else None


def _ingest(user: User | Any | None, xml: bytes, uploads: list[Upload],
            draft: FormVersion | None, reader: Connection | None = None) -> IngestResult:
    limit = current_app.config["MAX_SUBMISSION_XML_BYTES"]
    if len(xml) > limit:
        raise IngestError("The submission XML is larger than {limit} bytes.", status=413,
                          code="too_large", limit=limit)
    root = _parse(xml)
    form_id = root.get("id", "")
    meta = next((c for c in root if _local(c.tag) == "meta"), None)
    instance_id = _child_text(meta, "instanceID")
    deprecated_id = _child_text(meta, "deprecatedID")
    if not form_id:
        raise IngestError("The submission's root element has no form id attribute.")
    if not instance_id:
        raise IngestError("The submission has no meta/instanceID.")
    if len(instance_id) > 128 or len(deprecated_id or "") > 128:
        raise IngestError("The instanceID is longer than 128 characters.")
    if draft is not None:
        fv_id, md5 = _draft_version(draft, form_id, root.get("version"))
    else:
        fv_id, md5 = _accepting_version(form_id, root.get("version"), user, reader)
    scan = _scan(root, _shape_by_id(fv_id, md5))
    digest = storage.sha256(xml)
    wanted = [up for up in _dedupe(uploads) if up.name in scan.expected]
    if wanted:  # spare the file writes when the answer is already known to be 409
        stored_sha = db.session.scalar(
            sa.select(Submission.xml_sha256).where(Submission.instance_id == instance_id))
        if stored_sha is not None and stored_sha != digest:
            raise conflict(instance_id)
    dirs: set[Path] = set()
    files = tuple(
        StoredFile(up.name, (up.content_type or "application/octet-stream")[:128],
                   *storage.put("att", up.data, pending_dirs=dirs), len(up.data))
        for up in wanted
    )
    lat, lon, _alt, accuracy = scan.point or (None, None, None, None)
    pending = Pending(instance_id, deprecated_id, fv_id, user.id if user is not None else None,
                      digest, xml, lon, lat, accuracy, tuple(scan.expected), files,
                      frozenset(dirs), draft is not None,
                      _editable(user) if deprecated_id else frozenset())
    # End this thread's transaction: the committer writes. A request that never used the ORM
    # (a device token's or a remembered Basic submission) has no session to make for that.
    if db.session.registry.has() and db.session().in_transaction():
        db.session.commit()
    outcome = _commit(pending)
    if outcome.created:
        NEW_SUBMISSION.set()
        if deprecated_id and draft is None:  # an edit, a returned one's correction: audited
            review.audit_edit(user, outcome.submission_id, deprecated_id)
    return IngestResult(outcome.status, outcome.message, outcome.submission_id,
                        list(outcome.stored))


def _editable(user: User | Any | None) -> frozenset[int] | None:
    """Whose submissions `user` may edit besides their own (review edits): a supervisor those
    of the people in their areas, an admin anyone's (None); a coordinator those of anyone who
    left and handed their work to them (辞职替补)."""
    if isinstance(user, User) and user.active:
        if user.role == Role.ADMIN.value:
            return None
        if user.role == Role.SUPERVISOR.value:
            return frozenset(db.session.scalars(scope.team(user)))
    user_id = getattr(user, "id", None)  # a User, or a device token's submitter
    if user_id is None:
        return frozenset()
    return frozenset(db.session.scalars(sa.select(User.id).where(User.successor_id == user_id)))


def _commit(pending: Pending) -> Outcome:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        if not app.config["INGEST_GROUP_COMMIT"]:
            (outcome,) = write_batch(db.engine, [pending])
        else:
            committer = committer_for(app, COMMITTER_KEY, lambda: _new_committer(app))
            outcome = committer.submit(pending, app.config["INGEST_COMMIT_TIMEOUT_S"])
    except (OperationalError, CommitTimeout) as err:
        raise _fault(err) or _busy() from err
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _parse(xml: bytes) -> Any:
    """The instance's root, within MAX_SUBMISSION_ELEMENTS and forms.instance.MAX_DEPTH."""
    limit = current_app.config["MAX_SUBMISSION_ELEMENTS"]
    try:
        return read_and_root(xml, max_elements=limit)
    except EncodingRefused as err:
        raise IngestError("The submission XML is encoded as {encoding}: submissions must be "
                          "UTF-8, as ODK Collect and the phone app send them.",
                          code="xml_encoding", encoding=err.encoding) from err
    except TooDeep as err:
        raise IngestError("The submission XML nests elements more than {limit} deep.",
                          code="too_deep", limit=MAX_DEPTH) from err
    except TooManyElements as err:
        raise IngestError("The submission XML has more than {limit} elements.", status=413,
                          code="too_many_elements", limit=limit) from err
    except InstanceError as err:
        raise IngestError("The submission is not well-formed XML: {reason}",
                          reason=str(err)) from err


def _new_committer(app: Any) -> GroupCommitter:
    with app.app_context():
        conn = CommitterConnection(db.engine)
    return GroupCommitter(app, lambda items: write_batch(conn, items),
                          max_batch=app.config["INGEST_MAX_BATCH"],
                          name="doorstep-ingest", on_idle=conn.close)
