"""Device tokens are stored hashed and shown once; each phone has its own link; tokens never
reach the logs (issue 14, finding 14)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from server.extensions import db
from server.models import AuditEvent, DeviceLink, Role
from server.redaction import REDACTED, redact
from server.services import device_links, users
from tests.support.app import PASSWORD, make_app

OR = {"X-OpenRosa-Version": "1.0"}


def _login(client, user) -> None:
    assert client.post("/login", data={"username": user.username, "password": PASSWORD}) \
        .status_code == 302


def test_the_database_holds_only_a_hash(app, tmp_path, coordinator):
    token = coordinator.device_token
    link = db.session.scalar(sa.select(DeviceLink).where(DeviceLink.user_id == coordinator.id))
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    db.session.remove()
    db.engine.dispose()  # the WAL checkpointed into the file
    raw = (tmp_path / "doorstep.sqlite3").read_bytes()
    assert token.encode() not in raw and link.token_hash.encode() in raw


def test_the_phone_app_links_itself_once_per_call(client, coordinator, form):
    _login(client, coordinator)
    me = client.get("/api/v1/me").get_json()
    assert "openrosa_url" not in me and me["device_links"] == 1
    made = client.post("/api/v1/me/device-links", json={})
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    url = made.get_json()["openrosa_url"]
    assert client.get(f"{url}formList", headers=OR).status_code == 200
    assert client.get(f"/o/{coordinator.device_token}/formList").status_code == 200  # Collect's
    assert client.get("/api/v1/me").get_json()["device_links"] == 2
    assert url not in client.get("/api/v1/me").text and url not in client.get("/me/device").text
    events = db.session.scalars(sa.select(AuditEvent.detail)
                                .where(AuditEvent.action == "device_link.create")).all()
    assert events == [{"label": "phone app"}]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.DESIGNER, Role.SUPERVISOR])
def test_only_coordinators_link_phones(client, login, role):
    login(role)
    assert client.post("/api/v1/me/device-links", json={}).status_code == 403


def test_too_many_links_is_409(client, coordinator):
    _login(client, coordinator)
    for _ in range(device_links.MAX_LINKS - 1):
        assert client.post("/api/v1/me/device-links", json={}).status_code == 201
    refused = client.post("/api/v1/me/device-links", json={})
    assert refused.status_code == 409 and "revoke" in refused.get_json()["message"]
    page = client.post("/me/device?lang=en", data={"action": "create"})  # replaces Collect's
    assert page.status_code == 200


def test_a_new_collect_link_leaves_the_phone_apps_working(client, coordinator, form):
    _login(client, coordinator)
    app_url = client.post("/api/v1/me/device-links", json={}).get_json()["openrosa_url"]
    client.post("/me/device", data={"action": "create"})
    assert client.get(f"/o/{coordinator.device_token}/formList").status_code == 403
    assert client.get(f"{app_url}formList").status_code == 200


def test_revoking_one_link_leaves_the_others(client, coordinator, form):
    _login(client, coordinator)
    app_url = client.post("/api/v1/me/device-links", json={}).get_json()["openrosa_url"]
    collect = db.session.scalar(sa.select(DeviceLink).where(DeviceLink.label == "ODK Collect"))
    page = client.get("/me/device?lang=en").text
    assert "ODK Collect" in page and "phone app" in page
    chinese = client.get("/me/device?lang=zh_CN").text
    assert "已连接的手机" in chinese and "手机应用" in chinese and "作废" in chinese
    client.post("/me/device", data={"action": "revoke", "link": collect.id})
    assert client.get(f"/o/{coordinator.device_token}/formList").status_code == 403
    assert client.get(f"{app_url}formList").status_code == 200


def test_deactivation_revokes_every_link(client, coordinator, form):
    token = coordinator.device_token
    device_links.create(coordinator, device_links.PHONE_APP)
    users.set_active(coordinator, False)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(DeviceLink.id))) == 0
    assert client.get(f"/o/{token}/formList").status_code == 403


def test_migration_hashes_existing_tokens(tmp_path):
    """Phones set up before 0006 keep working with the token they have; the column is gone."""
    app = make_app(tmp_path)
    token = "pre-0006-token-abcdefghijklmnopqrstuv"
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"], revision="0005")
        db.engine.dispose()
    con = sqlite3.connect(tmp_path / "doorstep.sqlite3")
    con.execute("INSERT INTO users (id, username, display_name, role, password_hash, "
                "device_token, active, created_at) VALUES (7, 'old', 'old', 'coordinator', 'x', "
                "?, 1, '2026-01-01 00:00:00')", (token,))
    con.execute("INSERT INTO areas (id, code, name_zh, name_en, level, path) "
                "VALUES (1, 'S', 'S', 'S', 'street', 'S')")
    con.execute("INSERT INTO assignments (user_id, area_id) VALUES (7, 1)")
    con.execute("INSERT INTO audit_events (at, user_id, action, object_type, object_id, detail, "
                "remote_addr) VALUES ('2026-01-01', 7, 'login', '', '', '{}', '')")
    con.commit()
    con.close()
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        from tests.support.household_form import add_household_form

        add_household_form()
        assert app.test_client().get(f"/o/{token}/formList", headers=OR).status_code == 200
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("users")}
        assert "device_token" not in columns
        # Rebuilding users cascaded into nothing: the references are as they were.
        assert db.session.execute(sa.text("SELECT user_id FROM assignments")).all() == [(7,)]
        assert db.session.execute(sa.text("SELECT user_id FROM audit_events")).all() == [(7,)]
        assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        db.session.remove()
        db.engine.dispose()
    assert token.encode() not in (tmp_path / "doorstep.sqlite3").read_bytes()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Exception on /o/AbCdEf0123456789_-xyzAbCdEf0123456/submission [POST]",
         f"Exception on /o/{REDACTED}/submission [POST]"),
        ("GET /o/draft/Zz9_-Zz9_-Zz9_-Zz9_-Zz9_-Zz9_-Zz9_/formList",
         f"GET /o/draft/{REDACTED}/formList"),
        ("/o/formList and /o/forms/hh/form.xml and /o/submission",
         "/o/formList and /o/forms/hh/form.xml and /o/submission"),
        ("http://h/o/forms-looking-token-123/manifest", f"http://h/o/{REDACTED}/manifest"),
    ],
)
def test_tokens_in_paths_are_redacted(text, expected):
    assert redact(text) == expected


def test_log_records_are_redacted_whichever_logger(app, caplog):
    """create_app installs the record factory: messages, arguments and tracebacks."""
    token = secrets.token_urlsafe(24)  # not in this file's source, which tracebacks quote
    try:
        raise RuntimeError(f"failed on /o/{token}/submission")
    except RuntimeError:
        logging.getLogger("waitress").exception("Exception while serving %s",
                                                f"/o/{token}/submission")
    logging.getLogger("server").error("Exception on /o/%s/formList [GET]", token)
    assert token not in caplog.text
    assert caplog.text.count(REDACTED) >= 3


@pytest.mark.parametrize(("host", "warned"), [
    ("127.0.0.1:5000", True), ("localhost", True), ("[::1]:5000", True),
    ("192.168.1.10:5000", False), ("doorstep.example.org", False),
])
def test_the_device_page_says_when_no_phone_can_reach_its_address(client, coordinator, host,
                                                                  warned):
    """Opened at the computer's own address, the page's QR code would point phones at
    themselves: it says so, and how to start the server for the network (issue 12, item 7)."""
    _login(client, coordinator)
    page = client.get("/me/device", base_url=f"http://{host}").text
    assert ('id="loopback"' in page) is warned
    if warned:
        assert f"{host}" in page and "--host 0.0.0.0" in page
