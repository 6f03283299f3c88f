"""Backup and restore round trips on a real SQLite file and on PostgreSQL."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Building, User
from server.services import storage
from tests.support.app import make_app, upgrade


def _archive(output: str) -> Path:
    return Path(output.split("backup written: ")[1].split(" (")[0])


def _seed(make_user, make_building, area_tree) -> tuple[str, bytes]:
    make_user("supervisor", username="zhuren")
    make_building("B1", area_tree["T01-01"])
    photo = b"\xff\xd8 a door photo"
    key, _ = storage.put("att", photo)
    return key, photo


def test_sqlite_round_trip(app, runner, tmp_path, make_user, make_building, area_tree):
    key, photo = _seed(make_user, make_building, area_tree)
    result = runner.invoke(args=["backup", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    archive = _archive(result.output)
    assert archive.exists() and not list((tmp_path / "backups").glob("tmp*"))

    # Lose data: a user, a building and the stored photo.
    db.session.execute(sa.delete(Building))
    db.session.execute(sa.delete(User))
    db.session.commit()
    (Path(app.config["STORAGE_DIR"]) / key).unlink()

    assert "already holds data" not in runner.invoke(args=["restore", str(archive)]).output
    db.session.remove()
    assert db.session.scalar(sa.select(User.username)) == "zhuren"
    assert db.session.scalar(sa.select(Building.code)) == "B1"
    assert storage.get(key) == photo


def test_restore_refuses_to_overwrite_data(app, runner, tmp_path, make_user, make_building,
                                           area_tree):
    _seed(make_user, make_building, area_tree)
    archive = _archive(runner.invoke(args=["backup", str(tmp_path)]).output)
    result = runner.invoke(args=["restore", str(archive)])
    assert result.exit_code != 0 and "already holds data; use --force" in result.output
    assert runner.invoke(args=["restore", "--force", str(archive)]).exit_code == 0


def _tamper(archive: Path, target: Path) -> None:
    """Copy the archive with one storage member's bytes changed (manifest untouched)."""
    with tarfile.open(archive) as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.startswith("storage/"):
                data = data[:-1] + b"!"
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (lambda archive, bad: bad.write_bytes(b"not a tarball"), "is not a Doorstep backup"),
        (_tamper, "is missing or damaged"),
    ],
)
def test_bad_archives_change_nothing(app, runner, tmp_path, make_user, make_building, area_tree,
                                     make_bad, message):
    _seed(make_user, make_building, area_tree)
    archive = _archive(runner.invoke(args=["backup", str(tmp_path / "b")]).output)
    bad = tmp_path / "bad.tar.gz"
    make_bad(archive, bad)
    db.session.execute(sa.delete(Building))
    db.session.commit()
    result = runner.invoke(args=["restore", "--force", str(bad)])
    assert result.exit_code != 0 and message in result.output
    assert db.session.scalar(sa.select(sa.func.count(Building.id))) == 0  # untouched


def test_manifest_names_schema_and_checksums(app, runner, tmp_path, make_user, make_building,
                                             area_tree):
    _seed(make_user, make_building, area_tree)
    archive = _archive(runner.invoke(args=["backup", str(tmp_path)]).output)
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["dialect"] == "sqlite"
    assert manifest["schema_revision"] is not None
    assert "database.sqlite3" in manifest["files"]
    assert any(name.startswith("storage/att/") for name in manifest["files"])


@pytest.mark.postgres
def test_postgres_round_trip(tmp_path, postgres_url):
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=postgres_url)
    upgrade(app)
    runner = app.test_cli_runner()
    with app.app_context():
        from server.services import users

        users.create_user("zhuren", "supervisor")
        db.session.commit()
        result = runner.invoke(args=["backup", str(tmp_path / "b")])
        assert result.exit_code == 0, result.output
        db.session.execute(sa.delete(User))
        db.session.commit()
        result = runner.invoke(args=["restore", str(_archive(result.output))])
        assert result.exit_code == 0, result.output
        db.session.remove()
        assert db.session.scalar(sa.select(User.username)) == "zhuren"
        db.session.remove()
        db.engine.dispose()
