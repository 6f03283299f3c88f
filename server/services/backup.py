"""Backup and restore: the database plus the submission store, in one checked archive.

A backup is a .tar.gz holding `database.sqlite3` (SQLite's online backup API: a consistent copy
while the server runs) or `database.pgdump` (`pg_dump --format=custom`), the files of
STORAGE_DIR (attachments), and `manifest.json` with the sha256 of every member and the schema
revision. It is written under a temporary name, fsynced and renamed, so a crash never leaves a
half archive under the final name. Restore checks every checksum before it touches anything and
refuses to overwrite a database that already holds data unless asked to.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from server.extensions import db
from server.services.errors import ServiceError

FORMAT = "doorstep-backup/1"
STORAGE_PREFIX = "storage/"


class BackupError(ServiceError):
    """A backup or restore that cannot be done; the message says why (the CLI shows it)."""

    code = "backup_refused"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _schema_revision() -> str | None:
    with db.engine.connect() as conn:
        try:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except sa.exc.DBAPIError:
            return None


def _libpq_url() -> str:
    return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _dump_database(workdir: Path) -> Path:
    if db.engine.dialect.name == "sqlite":
        target = workdir / "database.sqlite3"
        source = sqlite3.connect(db.engine.url.database)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        return target
    if db.engine.dialect.name == "postgresql":
        target = workdir / "database.pgdump"
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq_url()])
        return target
    raise BackupError("backups of {dialect} databases are not supported",
                      dialect=db.engine.dialect.name)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError("{tool} is not installed (PostgreSQL client tools are needed)",
                          status=500, tool=command[0])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError("{tool} failed: {reason}", status=500, tool=command[0],
                          reason=done.stderr.strip().splitlines()[-1])


def create_backup(destination: Path) -> Path:
    """Write a backup archive into the folder `destination`; return its path."""
    destination.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    final = destination / f"doorstep-backup-{stamp}.tar.gz"
    storage = Path(current_app.config["STORAGE_DIR"])
    with tempfile.TemporaryDirectory(dir=destination) as work:
        dump = _dump_database(Path(work))
        members: dict[str, Path] = {dump.name: dump}
        if storage.is_dir():
            for path in sorted(storage.rglob("*")):
                relative = path.relative_to(storage)
                if path.is_file() and relative.parts[0] != "tmp":
                    members[STORAGE_PREFIX + relative.as_posix()] = path
        manifest = {
            "format": FORMAT,
            "created": stamp,
            "dialect": db.engine.dialect.name,
            "schema_revision": _schema_revision(),
            "files": {name: _sha256_file(path) for name, path in members.items()},
        }
        partial = Path(work) / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            for name, path in members.items():
                archive.add(path, arcname=name)
        os.chmod(partial, 0o600)  # the whole database: password hashes, personal data
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, final)
    fd = os.open(destination, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return final


def _database_has_data() -> bool:
    inspector = sa.inspect(db.engine)
    if "submissions" not in inspector.get_table_names():
        return False
    with db.engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT 1 FROM users LIMIT 1")).first())


def restore_backup(archive_path: Path, *, force: bool = False) -> dict:
    """Check the archive, then replace the database and the submission store with it."""
    try:
        archive = tarfile.open(archive_path, "r:gz")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as err:
        raise BackupError("{archive} is not a Doorstep backup ({reason})", archive=archive_path,
                          reason=err) from err
    with archive, tempfile.TemporaryDirectory() as work:
        try:
            manifest = json.load(archive.extractfile("manifest.json"))
        except (KeyError, ValueError) as err:
            raise BackupError("{archive} has no readable manifest.json",
                              archive=archive_path) from err
        if manifest.get("format") != FORMAT:
            raise BackupError("{archive} is not a {format} archive", archive=archive_path,
                              format=FORMAT)
        if manifest["dialect"] != db.engine.dialect.name:
            raise BackupError(
                "the backup holds a {theirs} database; this server uses {ours}",
                theirs=manifest["dialect"], ours=db.engine.dialect.name,
            )
        archive.extractall(work, filter="data")
        for name, digest in manifest["files"].items():
            path = Path(work) / name
            if not path.is_file() or _sha256_file(path) != digest:
                raise BackupError("{member} in {archive} is missing or damaged", member=name,
                                  archive=archive_path)
        if _database_has_data() and not force:
            raise BackupError("the database already holds data; use --force to replace it",
                              status=409)
        db.session.remove()
        db.engine.dispose()
        _restore_database(Path(work))
        storage = Path(current_app.config["STORAGE_DIR"])
        for name in manifest["files"]:
            if name.startswith(STORAGE_PREFIX):
                target = storage / name.removeprefix(STORAGE_PREFIX)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(work) / name, target)
    return manifest


def _restore_database(work: Path) -> None:
    if db.engine.dialect.name == "sqlite":
        source = sqlite3.connect(work / "database.sqlite3")
        target = sqlite3.connect(db.engine.url.database)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner",
          f"--dbname={_libpq_url()}", str(work / "database.pgdump")])


