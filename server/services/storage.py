"""Durable, content-addressed store for raw submissions and their attachments.

Two places, one key space. Submission XML lives in the database (table submission_blobs, key
`db:<sha256>`): it is written by the ingest committer in the same transaction as its row, so
the commit that makes the row durable makes the XML durable too (SQLite WAL with
synchronous=FULL, or PostgreSQL) and a crash can never separate them. Attachments (photos) and
XML stored by earlier versions are files under STORAGE_DIR (key `kind/ab/abcdef…`).

A file is written to a temporary name inside STORAGE_DIR/tmp, fsynced, renamed atomically to
its final name (derived from its sha256), and the directory is fsynced, so after a crash a
file either exists whole under its final name or not at all. Temporary leftovers live only
in tmp/ (never served) and are swept on start-up. Content addressing makes a repeated write of
the same bytes a no-op and makes concurrent writers of the same content harmless. Callers
that commit many files at once (the ingest committer) may defer the directory fsync: `put`
then records the directory in `pending_dirs`, and `sync_dirs` must run before any row that
names the file is committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from server.extensions import db
from server.models import SubmissionBlob
from server.services.errors import ServiceError

TMP = "tmp"
DB_PREFIX = "db:"


class StorageError(ServiceError):
    """A stored file is missing or does not match its checksum: the server's fault (500)."""

    status = 500
    code = "storage_damaged"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _root() -> Path:
    return Path(current_app.config["STORAGE_DIR"])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_dir(path: Path) -> None:
    """Create missing directories and make their entries durable in their parents."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
        _fsync_dir(directory.parent)


def key_for(kind: str, digest: str, suffix: str = "") -> str:
    """Storage key of a content: kind/ab/abcdef…[suffix]."""
    return f"{kind}/{digest[:2]}/{digest}{suffix}"


def db_key(digest: str) -> str:
    """Storage key of XML kept in the database table submission_blobs."""
    return f"{DB_PREFIX}{digest}"


def is_db_key(key: str) -> bool:
    return key.startswith(DB_PREFIX)


def path_of(key: str) -> Path:
    if is_db_key(key):
        raise StorageError("{key} is kept in the database, not in a file", key=key)
    if ".." in key.split("/") or key.startswith("/") or key.startswith(TMP + "/"):
        raise StorageError("invalid storage key {key!r}", key=key)
    return _root() / key


def put(kind: str, data: bytes, suffix: str = "",
        pending_dirs: set[Path] | None = None) -> tuple[str, str]:
    """Store bytes durably; returns (storage_key, sha256). Idempotent for the same content.

    With `pending_dirs`, the final directory's fsync is left to the caller (see sync_dirs);
    the directory is recorded even when the file already existed, since the writer that
    renamed it there may not have synced it yet.
    """
    digest = sha256(data)
    key = key_for(kind, digest, suffix)
    final = path_of(key)
    if final.exists() and final.stat().st_size == len(data):
        if pending_dirs is not None:
            pending_dirs.add(final.parent)
        return key, digest
    tmp_dir = _root() / TMP
    _ensure_dir(tmp_dir)
    _ensure_dir(final.parent)
    tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:  # a full disk (ENOSPC, EFBIG) leaves no .part behind
        tmp.unlink(missing_ok=True)
        raise
    if pending_dirs is None:
        _fsync_dir(final.parent)
    else:
        pending_dirs.add(final.parent)
    return key, digest


def sync_dirs(directories: set[Path]) -> None:
    """Make renames into these directories durable (the deferred half of put)."""
    for directory in sorted(directories):
        _fsync_dir(directory)


def _blob(key: str) -> bytes | None:

    return db.session.scalar(
        sa.select(SubmissionBlob.xml).where(SubmissionBlob.sha256 == key[len(DB_PREFIX):])
    )


def get(key: str, expected_sha256: str | None = None, read: bytes | None = None) -> bytes:
    """Read a stored XML or file, checking its checksum when one is given; `read` is the XML
    when the caller already fetched it from the database (still checked)."""
    if is_db_key(key):
        data = _blob(key) if read is None else read
        if data is None:
            raise StorageError("stored XML {key} is missing", key=key)
        data = bytes(data)
    else:
        try:
            data = path_of(key).read_bytes()
        except FileNotFoundError as err:
            raise StorageError("stored file {key} is missing", key=key) from err
    if expected_sha256 is not None and sha256(data) != expected_sha256:
        raise StorageError("stored file {key} does not match its checksum", key=key)
    return data


def get_many(keys: list[tuple[str, str | None]]) -> dict[str, bytes]:
    """Several stored XMLs at once, key -> bytes, each checked like `get` (one query for those
    in the database instead of one each: a page of a feed or an export reads hundreds)."""
    digests = [k[len(DB_PREFIX):] for k, _ in keys if is_db_key(k)]
    found: dict[str, bytes] = {}
    for start in range(0, len(digests), 500):
        rows = db.session.execute(sa.select(SubmissionBlob.sha256, SubmissionBlob.xml).where(
            SubmissionBlob.sha256.in_(digests[start:start + 500])))
        found.update((DB_PREFIX + digest, bytes(xml)) for digest, xml in rows)
    out = {}
    for key, expected in keys:
        data = found.get(key)
        if data is None or (expected is not None and sha256(data) != expected):
            data = get(key, expected)  # a file, or the same refusal `get` gives
        out[key] = data
    return out


def exists(key: str) -> bool:
    if is_db_key(key):
        return _blob(key) is not None
    return path_of(key).is_file()


#: At start-up no write of this server is under way, but a command run beside it (an import,
#: a backup) may be writing one: a leftover a minute old is no write in progress.
STARTUP_SWEEP_AGE_S = 60.0


def sweep_temporary(older_than_s: float = 3600.0) -> int:
    """Remove leftovers of writes interrupted by a crash; returns how many were removed.

    Only old leftovers go: another worker process may be writing a fresh one right now. (A
    write that fails, such as on a full disk, removes its own.)
    """
    tmp_dir = _root() / TMP
    if not tmp_dir.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_s
    for leftover in tmp_dir.iterdir():
        try:
            if leftover.stat().st_mtime <= cutoff:
                leftover.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
