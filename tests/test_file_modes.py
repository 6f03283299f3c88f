"""The instance's secrets and data are the owner's alone (issue 14, finding 14): a new instance
folder is 0700, the SQLite database with its WAL and shared-memory files, the secret key and
backup archives 0600, and a database file made readable by others is tightened on connect."""

from __future__ import annotations

import os
import stat

import sqlalchemy as sa

from server import create_app
from server.extensions import db
from tests.support.app import upgrade


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_instance_is_owner_only(tmp_path):
    old = os.umask(0o022)  # a usual umask: files 0644, folders 0755 unless we say otherwise
    try:
        instance = tmp_path / "fresh" / "instance"
        app = create_app({"INSTANCE_PATH": str(instance), "PROCESS_IN_BACKGROUND": False})
        upgrade(app)
        with app.app_context():
            db.session.execute(sa.text("SELECT 1"))  # WAL and shm exist while connected
            files = {p.name: _mode(p) for p in instance.iterdir() if p.is_file()}
            db.engine.dispose()
    finally:
        os.umask(old)
    assert _mode(instance) == 0o700
    assert files["secret_key"] == 0o600
    assert {files[n] for n in files if n.startswith("doorstep.sqlite3")} == {0o600}, files
    assert {"doorstep.sqlite3", "doorstep.sqlite3-wal", "doorstep.sqlite3-shm"} <= set(files)


def test_a_readable_database_is_tightened_on_connect(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "PROCESS_IN_BACKGROUND": False})
    upgrade(app)
    database = tmp_path / "instance" / "doorstep.sqlite3"
    os.chmod(database, 0o644)
    with app.app_context():
        db.engine.dispose()
        db.session.execute(sa.text("SELECT 1"))
        db.engine.dispose()
    assert _mode(database) == 0o600


def test_backup_archives_are_owner_only(app, tmp_path):
    from server.services.backup import create_backup

    old = os.umask(0o022)
    try:
        archive = create_backup(tmp_path / "backups")
    finally:
        os.umask(old)
    assert _mode(archive) == 0o600
