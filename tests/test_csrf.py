"""State-changing requests sent by a browser from another site are refused."""

from __future__ import annotations

import pytest

from server.models import Role
from tests.support.app import PASSWORD


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Referer": "https://evil.example/page.html"}, 403),
        ({"Origin": "http://localhost.evil.example"}, 403),
        ({"Origin": "http://localhost"}, 303),  # our own page
        ({"Origin": "https://localhost"}, 303),  # behind a TLS-terminating proxy
        ({"Origin": "null"}, 403),  # a sandboxed frame, with our session cookie
        ({"Referer": "http://localhost/admin/users"}, 303),
        ({}, 303),  # a program, not a browser page
    ],
)
def test_cross_site_posts_are_refused(client, login, make_user, headers, status):
    login(Role.ADMIN)
    target = make_user(Role.COORDINATOR)
    response = client.post(f"/admin/users/{target.id}", data={"action": "reset-password"},
                           headers=headers)
    assert response.status_code == status


def test_cross_site_login_is_refused(client, make_user):
    user = make_user(Role.SUPERVISOR)
    form = {"username": user.username, "password": PASSWORD}
    assert client.post("/login", data=form, headers={"Origin": "https://evil.example"}
                       ).status_code == 403
    assert client.post("/login", data=form, headers={"Origin": "http://localhost"}
                       ).status_code == 302


def test_reads_are_not_affected(client, login):
    login(Role.ADMIN)
    assert client.get("/admin/users", headers={"Referer": "https://search.example/"}
                      ).status_code == 200
