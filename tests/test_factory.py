from __future__ import annotations

import os
import stat

import pytest

from server import StartupError, create_app
from tests.support.app import make_app


def test_testing_flag(tmp_path):
    assert not create_app({"INSTANCE_PATH": str(tmp_path / "i")}).testing
    assert make_app(tmp_path).testing


def test_defaults_to_sqlite_in_instance_folder(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    expected = f"sqlite:///{tmp_path / 'inst' / 'doorstep.sqlite3'}"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected


def test_secret_key_generated_once_and_private(tmp_path):
    first = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    second = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    key_file = tmp_path / "inst" / "secret_key"
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = create_app({"INSTANCE_PATH": str(tmp_path / "other")})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_environment_overrides_instance_file(tmp_path, monkeypatch):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "config.py").write_text("MATCH_DISTANCE_M = 50.0\nGPS_ACCURACY_M = 40.0\n")
    monkeypatch.setenv("DOORSTEP_INSTANCE_PATH", str(inst))
    monkeypatch.setenv("DOORSTEP_GPS_ACCURACY_M", "15.0")
    monkeypatch.setenv("DOORSTEP_DATABASE_URL", "postgresql+psycopg://u@db.example/doorstep")
    monkeypatch.setenv("DOORSTEP_SECRET_KEY", "from-env")
    app = create_app()
    assert app.config["MATCH_DISTANCE_M"] == 50.0  # instance file
    assert app.config["GPS_ACCURACY_M"] == 15.0  # environment beats the file
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://u@db.example")
    assert app.config["SECRET_KEY"] == "from-env"
    assert not (inst / "secret_key").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_instance_folder_nonroot(tmp_path):
    inst = tmp_path / "ro"
    inst.mkdir()
    inst.chmod(0o500)
    with pytest.raises(StartupError, match="not writable"):
        create_app({"INSTANCE_PATH": str(inst)})


def test_instance_folder_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StartupError, match=r"instance folder .* is not writable"):
        create_app({"INSTANCE_PATH": str(blocker / "inst")})


def test_sqlite_pragmas(app):
    from server.extensions import db

    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_health(client):
    assert client.get("/healthz").json == {"status": "ok"}
