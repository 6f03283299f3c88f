"""Only form designers and admins manage forms; nobody else can upload, publish or close."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Form, Role
from server.services.forms import lifecycle as service
from tests.support.http import multipart
from tests.support.township import township_file

FORM = township_file("departure")


def _requests():
    data = FORM.read_bytes()
    return [
        ("GET", "/forms/", {}),
        ("POST", "/forms/upload", multipart([("file", FORM.name, data)])),
        ("GET", "/forms/departure", {}),
        ("POST", "/forms/departure/versions/2024101501/publish", {}),
        ("GET", "/forms/departure/versions/2024101501/xform.xml", {}),
        ("GET", "/forms/departure/versions/2024101501/xlsform", {}),
        ("POST", "/forms/departure/close", {}),
        ("GET", "/api/v1/forms", {}),
        ("POST", "/api/v1/forms", multipart([("file", FORM.name, data)])),
        ("GET", "/api/v1/forms/departure", {}),
        ("POST", "/api/v1/forms/departure/publish", {}),
        ("GET", "/api/v1/forms/departure/versions/2024101501.xml", {}),
        ("POST", "/api/v1/forms/departure/close", {}),
    ]


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.COORDINATOR, None])
def test_others_are_refused_and_change_nothing(client, login, role):
    service.upload(FORM.read_bytes(), FORM.name, None)
    db.session.commit()
    if role is not None:
        login(role)
    for method, url, kwargs in _requests():
        status = client.open(url, method=method, **kwargs).status_code
        expected = (403,) if role is not None else ((401,) if "/api/" in url else (302,))
        assert status in expected, (method, url, status)
    form = db.session.scalar(sa.select(Form))
    assert form.state == "draft" and [v.state for v in form.versions] == ["draft"]


@pytest.mark.parametrize("role", [Role.DESIGNER, Role.ADMIN])
def test_designers_and_admins_may(client, login, role):
    login(role)
    for method, url, kwargs in _requests():
        status = client.open(url, method=method, **kwargs).status_code
        assert status in (200, 201, 302), (method, url, status)
    assert db.session.scalar(sa.select(Form)).state == "closed"
