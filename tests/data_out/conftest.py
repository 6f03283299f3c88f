"""Fixtures for data out: a small township registered through the real pipeline (the township
forms published, households posted by coordinators over OpenRosa and processed), users of each
role with an API token, and the app served over real HTTP."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from server.extensions import db
from server.models import Role
from server.services import api_tokens
from server.services.forms import lifecycle
from server.services.processing import pipeline
from tests.support.data_out import PEOPLE, household_values
from tests.support.threaded_server import serving
from tests.support.xforms import build_instance

OPENROSA = {"X-OpenRosa-Version": "1.0"}


@pytest.fixture
def township(app, client, two_villages, make_building, make_user) -> dict:
    """Village T01 (streets T01-01, T01-02) and village T02 (street T02-01); three households
    and four persons: three in T01-01, one in T02-01."""
    versions = {v.form.xml_form_id: v for v in lifecycle.publish_township()}
    db.session.commit()
    make_building("B1", two_villages["T01-01"], lon=102.60, lat=24.60)
    make_building("B2", two_villages["T02-01"],
                  lon=102.62, lat=24.62)
    c1 = make_user(Role.COORDINATOR, username="c1", areas=["T01-01"])
    c2 = make_user(Role.COORDINATOR, username="c2", areas=["T02-01"])
    xform = versions["household"].xform
    for coordinator, (hid, building, street, people, tenure) in (
        (c1, ("H1", "B1", "T01-01", PEOPLE[:2], "rented")),
        (c1, ("H2", "B1", "T01-01", PEOPLE[2:3], "owned")),
        (c2, ("H3", "B2", "T02-01", PEOPLE[3:], "rented")),
    ):
        xml = build_instance(xform, household_values(hid, building, street, people, tenure))
        data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
        response = client.post(f"/o/{coordinator.device_token}/submission", data=data,
                               headers=OPENROSA, content_type="multipart/form-data")
        assert response.status_code == 201, response.data
    counts = pipeline.process_pending()
    assert counts["error"] == 0, counts
    return {"c1": c1, "c2": c2}


@pytest.fixture
def token_of(make_user):
    """A user of a role (and areas) with a personal API token: (username, token)."""

    def make(role: Role, areas: list[str] = (), username: str | None = None
             ) -> tuple[str, str]:
        user = make_user(role, username=username, areas=list(areas))
        return user.username, api_tokens.create(user, "test")

    return make


@pytest.fixture
def live(app) -> Iterator[str]:
    """The test's app over real HTTP (waitress in a thread): its base URL."""
    with serving(app) as url:
        yield url
