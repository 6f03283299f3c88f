"""A full disk and a database out of reach are answered, never a 500 nor a 201 (issue 14,
findings 12 and 15): 507 or 503 in each surface's own format, the same everywhere the fault
surfaces — the session's user, the device token's lookup, a view, ingest."""

from __future__ import annotations

import errno
import html
import io
import os
import resource
import signal
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from defusedxml import ElementTree as DET
from sqlalchemy import exc as sa_exc

from server import serving
from server.extensions import db
from server.models import Role, Submission
from server.services import device_links, faults, scope, storage, users
from server.services.ingest import accept
from server.services.submissions import exports as sx
from tests.support.app import PASSWORD, make_app, upgrade
from tests.support.household_form import add_household_form, household_instance

RESPONSE = "{http://openrosa.org/http/response}"
OR = {"X-OpenRosa-Version": "1.0"}


def _sqlalchemy(driver_error: Exception, **kwargs) -> sa_exc.DBAPIError:
    """What SQLAlchemy raises around a driver's error."""
    return sa_exc.OperationalError("INSERT INTO submissions …", {}, driver_error, **kwargs)


#: name: (the error, the status it deserves)
FAULTS: dict[str, tuple[Callable[[], Exception], int]] = {
    "ENOSPC": (lambda: OSError(errno.ENOSPC, "No space left on device"), 507),
    "EDQUOT": (lambda: OSError(errno.EDQUOT, "Disk quota exceeded"), 507),
    "EFBIG (RLIMIT_FSIZE)": (lambda: OSError(errno.EFBIG, "File too large"), 507),
    "SQLite full": (lambda: _sqlalchemy(sqlite3.OperationalError("database or disk is full")),
                    507),
    "PostgreSQL disk full": (lambda: _sqlalchemy(psycopg.errors.DiskFull("could not extend "
                                                                         "file")), 507),
    "PostgreSQL gone": (lambda: _sqlalchemy(psycopg.OperationalError(
        "connection failed: Connection refused")), 503),
    "connection lost": (lambda: _sqlalchemy(sqlite3.OperationalError("closed"),
                                            connection_invalidated=True), 503),
    "SQLite cannot open": (lambda: _sqlalchemy(sqlite3.OperationalError(
        "unable to open database file")), 503),
    "SQLite locked": (lambda: _sqlalchemy(sqlite3.OperationalError("database is locked")), 503),
    "pool exhausted": (lambda: sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 "
                                                   "reached"), 503),
}

NOT_FAULTS = {
    "ENOENT": FileNotFoundError(errno.ENOENT, "No such file or directory"),
    "SQLite bug": _sqlalchemy(sqlite3.OperationalError("no such column: nope")),
    "ValueError": ValueError("a bug"),
}


@pytest.mark.parametrize("name", FAULTS)
def test_each_fault_is_classified(name):
    make, status = FAULTS[name]
    answer = faults.as_service_error(make())
    assert answer is not None and answer.status == status
    assert faults.transient(make())


@pytest.mark.parametrize("name", NOT_FAULTS)
def test_other_errors_are_not_machine_faults(name):
    assert faults.as_service_error(NOT_FAULTS[name]) is None
    assert not faults.transient(NOT_FAULTS[name])


def test_the_cause_is_found_through_the_chain():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as err:
            raise RuntimeError("writing the photo failed") from err
    except RuntimeError as wrapped:
        assert faults.disk_full(wrapped)


# --- every surface answers in its own format ---------------------------------------------


@dataclass(frozen=True)
class Surface:
    patch: Callable[[], tuple[object, str]]  # (module, attribute) the fault is raised from
    url: str
    method: str = "GET"
    role: Role | None = Role.SUPERVISOR


SURFACES = {
    "openrosa": Surface(lambda: (accept, "_ingest"), "/o/{token}/submission", "POST", None),
    "api": Surface(lambda: (sx, "query"), "/api/v1/submissions"),
    "page": Surface(lambda: (scope, "street_ids"), "/"),
}


def _call(client, surface: Surface, token: str, lang: str):
    url = surface.url.format(token=token) + f"?lang={lang}"
    if surface.method == "POST":
        data = {"xml_submission_file": (io.BytesIO(household_instance()), "s.xml", "text/xml")}
        return client.post(url, data=data, headers=OR, content_type="multipart/form-data")
    return client.get(url)


def _message(response, surface: str) -> str:
    if surface == "openrosa":
        message = DET.fromstring(response.data).find(f"{RESPONSE}message")
        assert message.get("nature") == "error"
        return message.text
    if surface == "api":
        assert response.mimetype == "application/json"
        assert set(response.json) == {"error", "message", "status"}
        return response.json["message"]
    assert response.mimetype == "text/html"
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("where", SURFACES)
def test_a_fault_is_answered_in_the_surface_format(app, client, login, make_user, monkeypatch,
                                                   where, fault):
    add_household_form()
    surface = SURFACES[where]
    token = make_user(Role.COORDINATOR).device_token
    if surface.role is not None:
        login(surface.role)
    make, status = FAULTS[fault]

    def fail(*args, **kwargs):
        raise make()

    monkeypatch.setattr(*surface.patch(), fail)
    english = _call(client, surface, token, "en")
    assert english.status_code == status, english.data
    chinese = _call(client, surface, token, "zh_CN")
    assert chinese.status_code == status
    if status == 503:
        assert english.headers["Retry-After"] == "5"
    en, zh = _message(english, where), _message(chinese, where)
    if status == 507:
        assert "disk is full: nothing was stored" in en and "磁盘已满" in zh
    elif where != "openrosa" or fault == "pool exhausted":  # ingest: "busy" for the database
        assert "database cannot be reached" in en and "无法连接数据库" in zh
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


@pytest.mark.parametrize("name", NOT_FAULTS)
def test_anything_else_stays_a_500(app, client, login, monkeypatch, name):
    """Only machine faults are explained away; a bug is still a bug (logged, 500)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    login(Role.SUPERVISOR)

    def fail(*args, **kwargs):
        raise NOT_FAULTS[name]

    monkeypatch.setattr(scope, "street_ids", fail)
    assert client.get("/").status_code == 500


# --- the real thing: the database file out of reach, then back ----------------------------


@pytest.fixture
def movable(tmp_path: Path):
    """An app whose SQLite file sits in a folder of its own, which a test can move away. No
    app context stays pushed: each request has its own, as when serving."""
    folder = tmp_path / "db"
    folder.mkdir()
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'doorstep.sqlite3'}")
    upgrade(app)
    yield app, folder
    with app.app_context():
        db.engine.dispose()


def test_an_unreachable_database_is_503_everywhere_then_recovers(movable, tmp_path):
    """SQLite's "unable to open database file" on the session's user (page, API) and on the
    device token's lookup before ingest (OpenRosa): 503, and the same requests succeed once
    the file is back, without a restart."""
    app, folder = movable
    with app.app_context():
        add_household_form()
        users.create_user("sup", "supervisor", password=PASSWORD)
        coordinator, _ = users.create_user("col", "coordinator", password=PASSWORD)
        token = device_links.create(coordinator, device_links.COLLECT)
        db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": "sup", "password": PASSWORD}).status_code == 302

    def ask() -> dict[str, object]:
        data = {"xml_submission_file": (io.BytesIO(household_instance("uuid:down-1")), "s.xml",
                                        "text/xml")}
        return {
            "page": client.get("/?lang=en"),
            "api": client.get("/api/v1/me?lang=en"),
            "openrosa": client.post(f"/o/{token}/submission?lang=en", data=data, headers=OR,
                                    content_type="multipart/form-data"),
        }

    def close_connections() -> None:
        with app.app_context():
            db.engine.dispose()

    close_connections()
    folder.rename(tmp_path / "db-away")
    try:
        down = ask()
    finally:
        close_connections()
        (tmp_path / "db-away").rename(folder)
    assert {k: r.status_code for k, r in down.items()} == {"page": 503, "api": 503,
                                                           "openrosa": 503}
    assert b"database cannot be reached" in down["page"].data
    assert down["api"].json["error"] == "database_unavailable"
    assert DET.fromstring(down["openrosa"].data).find(f"{RESPONSE}message").get("nature") == "error"
    up = ask()
    assert {k: r.status_code for k, r in up.items()} == {"page": 200, "api": 200, "openrosa": 201}


# --- a write that fails leaves nothing behind; leftovers of crashes swept at start --------


def _parts(app) -> list[Path]:
    tmp = Path(app.config["STORAGE_DIR"]) / storage.TMP
    return sorted(tmp.glob("*.part")) if tmp.is_dir() else []


@pytest.fixture
def file_size_limit():
    """RLIMIT_FSIZE for this process while the test writes (SIGXFSZ ignored, so a write past
    it fails with EFBIG instead of killing the process): a full disk without a disk."""
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def limit(size: int) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, old_limit[1]))

    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


def test_a_write_that_does_not_fit_leaves_no_part_file(app, file_size_limit):
    data = os.urandom(256 * 1024)
    file_size_limit(64 * 1024)
    with pytest.raises(OSError) as raised:
        storage.put("att", data)
    file_size_limit(resource.RLIM_INFINITY)
    assert raised.value.errno == errno.EFBIG
    assert _parts(app) == []
    key, _ = storage.put("att", data)  # space back: the same write succeeds
    assert storage.get(key) == data


def test_a_photo_that_does_not_fit_is_507_and_then_201(app, client, make_user, file_size_limit):
    """The phone's answer while the disk is full (a file-size limit here), then the same
    submission once there is room: no restart, no leftover."""
    add_household_form()
    token = make_user(Role.COORDINATOR).device_token
    xml, photo = household_instance("uuid:full-1"), os.urandom(400 * 1024)  # kept in memory

    def send():
        data = {"xml_submission_file": (io.BytesIO(xml), "s.xml", "text/xml"),
                "door.jpg": (io.BytesIO(photo), "door.jpg", "image/jpeg")}
        return client.post(f"/o/{token}/submission?lang=en", data=data, headers=OR,
                           content_type="multipart/form-data")

    file_size_limit(128 * 1024)
    try:
        full = send()
    finally:
        file_size_limit(resource.RLIM_INFINITY)
    assert full.status_code == 507, full.data
    assert b"disk is full" in full.data
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0
    assert _parts(app) == []
    assert send().status_code == 201


def test_leftovers_are_swept_when_serving_starts(app):
    """Old `.part` files (a crash mid-write) go at start; a fresh one, perhaps a command's
    write in progress beside the server, stays."""
    tmp = Path(app.config["STORAGE_DIR"]) / storage.TMP
    tmp.mkdir(parents=True)
    old = time.time() - 2 * storage.STARTUP_SWEEP_AGE_S
    for n in range(300):
        leftover = tmp / f"{n:032x}.part"
        leftover.write_bytes(b"x")
        os.utime(leftover, (old, old))
    (tmp / "fresh.part").write_bytes(b"y")
    said: list[str] = []
    assert serving.sweep_at_start(app, said.append) == 300
    assert [p.name for p in _parts(app)] == ["fresh.part"]
    assert said == ["Removed 300 leftover temporary files of interrupted writes"]
