"""Admins manage accounts in the browser; every change is audited; passwords show once."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, Role, User


def _user(username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


@pytest.mark.parametrize("typed", ["T01-01，T01-02", "T01-01, T01-02", " T01-01 ,T01-02,T01-01"])
def test_create_user_shows_password_once_and_audits(client, login, area_tree, typed):
    admin = login(Role.ADMIN)
    response = client.post(
        "/admin/users?lang=en",
        data={"username": "wang", "display_name": "王", "role": "coordinator",
              "areas": typed},  # as the placeholder shows them, or with a Chinese comma
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    password = re.search(r"Password \(shown once\): (\w+)", page).group(1)
    wang = _user("wang")
    assert wang.check_password(password)
    assert sorted(a.area.code for a in wang.assignments) == ["T01-01", "T01-02"]
    assert wang.device_links == []  # the coordinator links each phone (token shown once)
    assert password not in client.get("/admin/users").get_data(as_text=True)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.create"))
    assert event.user_id == admin.id and event.detail["username"] == "wang"
    assert password not in str(event.detail)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "x", "role": "boss"}, "unknown role"),
        ({"username": "x", "role": "coordinator", "areas": "NOPE"}, "unknown area code"),
        ({"username": "", "role": "coordinator"}, "username must be"),
    ],
)
def test_create_user_errors_leave_nothing(client, login, area_tree, form, message):
    login(Role.ADMIN)
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    response = client.post("/admin/users?lang=en", data=form)  # the reasons in English
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before


def test_change_areas_reset_password_and_deactivate(client, login, make_user, area_tree):
    login(Role.ADMIN)
    worker = make_user(Role.COORDINATOR, username="li", areas=["T01-01"])
    url = f"/admin/users/{worker.id}"

    assert client.post(url, data={"action": "areas", "areas": "T01-02"}).status_code == 303
    db.session.expire_all()
    assert [a.area.code for a in _user("li").assignments] == ["T01-02"]

    bad = client.post(url, data={"action": "areas", "areas": "T01-01, NOPE"},
                      follow_redirects=True)
    assert "NOPE" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert [a.area.code for a in _user("li").assignments] == ["T01-02"]  # unchanged

    page = client.post(url + "?lang=en", data={"action": "reset-password"},
                       follow_redirects=True).get_data(as_text=True)
    new_password = re.search(r"\(shown once\): (\w+)", page).group(1)
    db.session.expire_all()
    assert _user("li").check_password(new_password)

    client.post(url, data={"action": "deactivate"})
    db.session.expire_all()
    li = _user("li")
    assert li.active is False and li.device_links == []
    actions = set(db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_id == str(worker.id))
    ))
    assert {"user.areas", "user.reset_password", "user.deactivate"} <= actions


def test_admin_cannot_deactivate_self(client, login):
    admin = login(Role.ADMIN)
    assert client.post(f"/admin/users/{admin.id}", data={"action": "deactivate"}).status_code == 400
    assert client.post("/admin/users/999999", data={"action": "activate"}).status_code == 404


def test_audit_log_filters(client, login, make_user):
    login(Role.ADMIN)
    target = make_user(Role.SUPERVISOR, username="zhao")
    client.post(f"/admin/users/{target.id}", data={"action": "reset-password"})
    page = client.get("/admin/audit?action=user.").get_data(as_text=True)
    assert "user.reset_password" in page
    assert "<code>login</code>" not in page
    assert "<code>login</code>" in client.get("/admin/audit?action=login").get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.DESIGNER, Role.COORDINATOR])
def test_only_admins(client, login, role):
    login(role)
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    assert client.post("/admin/users", data={"username": "x", "role": "admin"}).status_code == 403
