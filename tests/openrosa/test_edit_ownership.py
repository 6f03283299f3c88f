"""Edits belong to their submitter (issue 14, finding 5): a submission whose deprecatedID names
someone else's instance is refused (403, an OpenRosa answer) and changes nothing; a supervisor
or admin over the submitter may still send a review edit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from defusedxml import ElementTree as DET

from server.extensions import db
from server.models import Role, Round, Submission, Visit
from server.services.ingest import accept
from server.services.ingest.accept import IngestError
from server.services.processing import pipeline
from tests.support.household_form import household_instance

NS = {"or": "http://openrosa.org/http/response"}


@pytest.fixture
def field(form, area_tree, make_building, coordinator, make_user):
    """Coordinator A's visit of a building on T01-01 (processed), and coordinator B."""
    make_building("B1", area_tree["T01-01"], lon=102.59995, lat=24.59995)
    today = date.today()
    db.session.add(Round(name="now", starts_on=today - timedelta(days=1),
                         ends_on=today + timedelta(days=1)))
    db.session.commit()
    return {"b": make_user(Role.COORDINATOR, areas=["T01-02"])}


def _visits() -> list[tuple[int, int | None]]:
    return db.session.execute(sa.select(Visit.submission_id, Visit.building_id)).all()


def test_another_coordinators_edit_is_403_and_changes_nothing(client, post, field):
    assert post(household_instance("uuid:a1")).status_code == 201
    pipeline.process_pending()
    before = _visits()
    assert len(before) == 1 and before[0][1] is not None  # A's visit of B1

    edit = household_instance("uuid:b1", deprecated_id="uuid:a1", location="24.7 102.7 0 5")
    answer = post(edit, token=field["b"].device_token)
    assert answer.status_code == 403
    assert answer.headers["X-OpenRosa-Version"] == "1.0"
    message = DET.fromstring(answer.data).find("or:message", NS).text
    assert "由其他人发送" in message and "未作任何更改" in message  # Chinese by default
    pipeline.process_pending()
    db.session.expire_all()
    subs = db.session.scalars(sa.select(Submission)).all()
    assert [(s.instance_id, s.superseded) for s in subs] == [("uuid:a1", False)]
    assert _visits() == before

    # The same refusal comes before any word about the edit chain (no instanceID leaks).
    assert post(household_instance("uuid:a2", deprecated_id="uuid:a1")).status_code == 201
    again = post(household_instance("uuid:b2", deprecated_id="uuid:a1"),
                 token=field["b"].device_token)
    assert again.status_code == 403 and b"uuid:a2" not in again.data


def test_the_submitter_edits_their_own(post, field):
    assert post(household_instance("uuid:a1")).status_code == 201
    assert post(household_instance("uuid:a2", deprecated_id="uuid:a1")).status_code == 201
    assert db.session.scalar(sa.select(Submission.superseded).where(
        Submission.instance_id == "uuid:a1"))


@pytest.mark.parametrize(
    ("role", "areas", "status"),
    [
        (Role.COORDINATOR, ["T01-01"], 403),  # a colleague on the same street: not theirs
        (Role.COORDINATOR, ["T01-02"], 403),
        (Role.SUPERVISOR, ["T01"], 201),  # a review edit by the submitter's supervisor
        (Role.SUPERVISOR, ["T01-01"], 201),
        (Role.SUPERVISOR, ["T01-02"], 403),  # another area's supervisor
        (Role.SUPERVISOR, [], 403),
        (Role.ADMIN, [], 201),
        (Role.DESIGNER, [], 403),
    ],
)
def test_who_may_edit_a_coordinators_submission(post, field, make_user, role, areas, status):
    assert post(household_instance("uuid:a1")).status_code == 201
    editor = make_user(role, areas=areas)
    edit = household_instance("uuid:e1", deprecated_id="uuid:a1", head="Reviewed")
    if status == 201:
        assert accept.ingest(editor, edit, []).status == 201
    else:
        with pytest.raises(IngestError, match="sent by someone else") as caught:
            accept.ingest(editor, edit, [])
        assert caught.value.status == 403
    db.session.expire_all()
    superseded = db.session.scalar(sa.select(Submission.superseded).where(
        Submission.instance_id == "uuid:a1"))
    assert superseded is (status == 201)
