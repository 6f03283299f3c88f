from __future__ import annotations

import pytest

from server.models import AuditEvent, Role
from tests.support.app import PASSWORD


def test_login_page_is_chinese_by_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in page
    assert "街不漏栋、栋不漏户、户不漏项" in page


def test_english_switch_is_remembered(client):
    page = client.get("/login?lang=en").get_data(as_text=True)
    assert 'lang="en"' in page and "no building missed on a street" in page
    assert 'lang="en"' in client.get("/login").get_data(as_text=True)


def test_wrong_password(client, make_user):
    user = make_user(Role.SUPERVISOR)
    response = client.post("/login", data={"username": user.username, "password": "nope"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_login_is_audited_and_redirects_to_next(client, make_user, app):
    from server.extensions import db

    user = make_user(Role.SUPERVISOR)
    response = client.post(
        "/login?next=/healthz", data={"username": user.username, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/healthz"
    assert db.session.query(AuditEvent).filter_by(action="login", user_id=user.id).count() == 1


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "/%09/evil.example", "/%0a/evil.example", "/%0d%0a/evil.example",
     "/%5C/evil.example", "/%5Cevil.example", "%09//evil.example", "https://evil.example/",
     "javascript:alert(1)", "/%20/evil.example", "/%7F/evil.example", "evil.example", ""],
)
def test_next_cannot_leave_the_site(client, make_user, target):
    user = make_user(Role.ADMIN)
    response = client.post(
        f"/login?next={target}", data={"username": user.username, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("target", "location"),
    [("/coverage/?round=2", "/coverage/?round=2"), ("/app/#queue", "/app/#queue"),
     ("/register/?q=%E5%BC%A0", "/register/?q=%E5%BC%A0")],
)
def test_next_keeps_a_same_site_path(client, make_user, target, location):
    user = make_user(Role.SUPERVISOR)
    response = client.post(
        "/login?next=" + target.replace("?", "%3F").replace("&", "%26").replace("#", "%23"),
        data={"username": user.username, "password": PASSWORD},
    )
    assert response.headers["Location"] == location


@pytest.mark.parametrize(
    ("role", "text"),
    [
        (Role.COORDINATOR, "走访所辖街巷的每一栋房屋"),
        (Role.SUPERVISOR, "哪些房屋已走访"),
        (Role.DESIGNER, "XLSForm"),
        (Role.ADMIN, "管理用户"),
    ],
)
def test_home_page_per_role(client, login, area_tree, role, text):
    login(role, areas=["T01-01"] if role is Role.COORDINATOR else [])
    page = client.get("/").get_data(as_text=True)
    assert text in page
    assert 'name="viewport"' in page
    if role is Role.COORDINATOR:
        assert "T01-01" in page


def test_inactive_user_cannot_log_in(client, make_user):
    from server.extensions import db

    user = make_user(Role.COORDINATOR)
    user.active = False
    db.session.commit()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 401


def test_logout(client, login):
    login(Role.ADMIN)
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302
