"""Durable, content-addressed file store for raw submissions and their attachments.

A file is written to a temporary name inside STORAGE_DIR/tmp, fsynced, renamed atomically to
its final name (derived from its sha256), and the directory is fsynced, so after a crash a
file either exists whole under its final name or not at all. Temporary leftovers live only
in tmp/ (never served) and are swept on start-up. Content addressing makes a repeated write of
the same bytes a no-op and makes concurrent writers of the same content harmless.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from pathlib import Path

from flask import current_app

TMP = "tmp"


class StorageError(RuntimeError):
    """A stored file is missing or does not match its checksum."""


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


def path_of(key: str) -> Path:
    if ".." in key.split("/") or key.startswith("/") or key.startswith(TMP + "/"):
        raise StorageError(f"invalid storage key {key!r}")
    return _root() / key


def put(kind: str, data: bytes, suffix: str = "") -> tuple[str, str]:
    """Store bytes durably; returns (storage_key, sha256). Idempotent for the same content."""
    digest = sha256(data)
    key = key_for(kind, digest, suffix)
    final = path_of(key)
    if final.exists() and final.stat().st_size == len(data):
        return key, digest
    tmp_dir = _root() / TMP
    _ensure_dir(tmp_dir)
    _ensure_dir(final.parent)
    tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, final)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)
    return key, digest


def get(key: str, expected_sha256: str | None = None) -> bytes:
    """Read a stored file, checking its checksum when one is given."""
    try:
        data = path_of(key).read_bytes()
    except FileNotFoundError as err:
        raise StorageError(f"stored file {key} is missing") from err
    if expected_sha256 is not None and sha256(data) != expected_sha256:
        raise StorageError(f"stored file {key} does not match its checksum")
    return data


def exists(key: str) -> bool:
    return path_of(key).is_file()


def sweep_temporary(older_than_s: float = 3600.0) -> int:
    """Remove leftovers of writes interrupted by a crash; returns how many were removed.

    Only old leftovers go: another worker process may be writing a fresh one right now.
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
