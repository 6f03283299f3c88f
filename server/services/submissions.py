"""Submission ingest: the raw record is made durable and committed before anyone hears "201".

Order of work for one POST: parse safely -> find the form version -> write XML and attachments
to the durable store (server.services.storage) -> insert/update the row and commit. A crash
between the file writes and the commit leaves only unreferenced content-addressed files, never
a row without its files. Processing (entities, visits …) runs later (server.services.processing).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from forms.instance import InstanceError, InstanceSchema, instance_schema, read_instance
from forms.xform_info import JR, parse_xform, primary_instance_root
from server.extensions import db
from server.models import Form, FormVersion, Submission, SubmissionAttachment, User
from server.services import storage

# Signalled after each new submission so the background worker wakes up at once.
NEW_SUBMISSION = threading.Event()


class IngestError(Exception):
    """A submission that cannot be accepted; status is the HTTP answer, message says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Upload:
    name: str
    content_type: str
    data: bytes


@dataclass
class IngestResult:
    status: int
    message: str
    submission: Submission
    stored_attachments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FormShape:
    """What ingest and exports need to know about a form version's instance layout."""

    schema: InstanceSchema
    binary_paths: frozenset[str]
    repeat_paths: tuple[str, ...]


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
    return FormShape(instance_schema(xform), binary, tuple(repeats))


def form_shape(form_version: FormVersion) -> FormShape:
    return _shape(form_version.id, form_version.md5, form_version.xform)


def expected_attachments(xml: bytes, shape: FormShape) -> list[str]:
    """File names the instance references through binary (image/audio/file) questions."""
    root = read_and_root(xml)
    names: list[str] = []

    def walk(el: Any, path: str) -> None:
        for child in el:
            child_path = f"{path}/{_local(child.tag)}"
            text = (child.text or "").strip()
            if child_path in shape.binary_paths and text and text not in names:
                names.append(text)
            walk(child, child_path)

    walk(root, "/" + _local(root.tag))
    return names


def read_and_root(xml: bytes) -> Any:
    from forms.instance import parse_instance

    return parse_instance(xml)


def _accepts(fv: FormVersion, user: User | None) -> bool:
    """Published and superseded versions accept; drafts only as server.services.forms says."""
    try:
        from server.services.forms import accepts_submissions
    except ImportError:
        return fv.state in ("published", "superseded")
    return accepts_submissions(fv, user)


def find_form_version(form_id: str, version: str | None, user: User | None = None) -> FormVersion:
    """The version a submission names; 404 names what is unknown, 409 when it cannot be used."""
    form = db.session.scalar(sa.select(Form).where(Form.xml_form_id == form_id))
    if form is None:
        raise IngestError(404, f"Form {form_id!r} does not exist on this server.")
    if form.state == "closed":
        raise IngestError(409, f"Form {form_id!r} is closed and accepts no new submissions.")
    fv = db.session.scalar(
        sa.select(FormVersion).where(
            FormVersion.form_id == form.id, FormVersion.version == (version or "")
        )
    )
    if fv is None:
        raise IngestError(404, f"Version {version or ''!r} of form {form_id!r} does not exist.")
    if not _accepts(fv, user):
        raise IngestError(409, f"Version {version!r} of form {form_id!r} is a draft, "
                               "not published: publish it before sending submissions.")
    return fv


def ingest(user: User | None, xml: bytes, uploads: list[Upload]) -> IngestResult:
    """Accept one POST (the XML plus zero or more attachments); raise IngestError otherwise."""
    limit = current_app.config.get("MAX_SUBMISSION_XML_BYTES", 10 * 1024 * 1024)
    if len(xml) > limit:
        raise IngestError(413, f"The submission XML is larger than {limit} bytes.")
    try:
        info = read_instance(xml)
    except InstanceError as err:
        raise IngestError(400, f"The submission is not well-formed XML: {err}") from err
    if not info.form_id:
        raise IngestError(400, "The submission's root element has no form id attribute.")
    if not info.instance_id:
        raise IngestError(400, "The submission has no meta/instanceID.")
    if len(info.instance_id) > 128 or len(info.deprecated_id or "") > 128:
        raise IngestError(400, "The instanceID is longer than 128 characters.")
    fv = find_form_version(info.form_id, info.version, user)
    shape = form_shape(fv)
    info = read_instance(xml, shape.schema)  # again, now with geo paths known
    expected = expected_attachments(xml, shape)
    digest = storage.sha256(xml)
    existing = _by_instance_id(info.instance_id)
    if existing is not None and existing.xml_sha256 != digest:
        raise _conflict(existing)
    # Files first, outside any database transaction: content-addressed, so harmless if unused.
    xml_key, _ = storage.put("xml", xml, ".xml")
    files = [
        StoredFile(up.name, (up.content_type or "application/octet-stream")[:128],
                   *storage.put("att", up.data), len(up.data))
        for up in _dedupe(uploads)
        if up.name in expected
    ]
    for _attempt in range(3):
        existing = _by_instance_id(info.instance_id)
        if existing is not None:
            return _resubmission(existing, digest, files)
        try:
            return _create(user, fv, info, xml_key, len(xml), digest, expected, files)
        except IntegrityError:
            db.session.rollback()  # a concurrent POST of the same instance or edit won: re-check
    raise IngestError(409, "The submission conflicts with another one sent at the same time.")


@dataclass(frozen=True)
class StoredFile:
    name: str
    content_type: str
    key: str
    sha256: str
    size: int


def _dedupe(uploads: list[Upload]) -> list[Upload]:
    seen: dict[str, Upload] = {}
    for up in uploads:
        seen.setdefault(up.name, up)
    return list(seen.values())


def _by_instance_id(instance_id: str) -> Submission | None:
    return db.session.scalar(sa.select(Submission).where(Submission.instance_id == instance_id))


def _conflict(existing: Submission) -> IngestError:
    return IngestError(
        409,
        f"A different submission with instanceID {existing.instance_id} was already "
        "received: resubmissions must be identical (edits need a new instanceID "
        "with meta/deprecatedID).",
    )


def _resubmission(existing: Submission, digest: str, files: list[StoredFile]) -> IngestResult:
    if existing.xml_sha256 != digest:
        raise _conflict(existing)
    stored = _attach(existing, files)
    db.session.commit()
    message = "Submission already received; attachments completed." if stored else (
        "Submission already received.")
    return IngestResult(201, message, existing, stored)


def _create(user, fv, info, xml_key, xml_size, digest, expected, files) -> IngestResult:
    if info.deprecated_id:
        old = _by_instance_id(info.deprecated_id)
        replaced_by = db.session.scalar(
            sa.select(Submission.instance_id).where(
                Submission.deprecated_id == info.deprecated_id
            )
        )
        if (old is not None and old.superseded) or replaced_by is not None:
            raise IngestError(
                409,
                f"Submission {info.deprecated_id} was already replaced by an edit "
                f"({replaced_by or 'another instance'}): edit the newest version instead.",
            )
        if old is not None:
            old.superseded = True
    lat = lon = accuracy = None
    for tag in info.geotags:
        point = tag.point()
        if point is not None:
            lat, lon, _alt, accuracy = point
            break
    sub = Submission(
        instance_id=info.instance_id,
        form_version_id=fv.id,
        submitter_id=user.id if user is not None else None,
        xml_sha256=digest,
        xml_size=xml_size,
        storage_key=xml_key,
        deprecated_id=info.deprecated_id,
        attachments_expected=len(expected),
        attachments_present=0,
        lon=lon,
        lat=lat,
        gps_accuracy=accuracy,
    )
    for name in expected:
        sub.attachments.append(SubmissionAttachment(name=name))
    stored = _attach(sub, files)
    db.session.add(sub)
    db.session.commit()
    NEW_SUBMISSION.set()
    return IngestResult(201, "Submission received.", sub, stored)


def _attach(sub: Submission, files: list[StoredFile]) -> list[str]:
    """Point the expected attachments still missing at their stored files.

    Files the instance does not reference are ignored (as ODK Central does); the first copy
    of an attachment wins, since stored records are append-only.
    """
    by_name = {a.name: a for a in sub.attachments}
    stored: list[str] = []
    for f in files:
        row = by_name.get(f.name)
        if row is None or row.storage_key is not None:
            continue
        row.storage_key, row.sha256, row.size = f.key, f.sha256, f.size
        row.content_type = f.content_type
        stored.append(f.name)
    sub.attachments_present = sum(1 for a in sub.attachments if a.storage_key is not None)
    return stored


def submission_xml(sub: Submission) -> bytes:
    """The raw XML, checked against its checksum."""
    return storage.get(sub.storage_key, sub.xml_sha256)
