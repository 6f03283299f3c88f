"""The review loop (issue 10, item 5): a reason to send a submission back, the coordinator's
returned list through the device link, opening one (audited), the correction (an edit) replacing
it, and the supervisor's page showing both; ODK Collect's returned.csv."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, ReviewDecision, Submission
from server.services import handover
from server.services.submissions import review
from server.services.submissions.exports import set_review_state
from tests.support.app import PASSWORD
from tests.support.household_form import household_instance
from tests.support.township import township_file

OR = {"X-OpenRosa-Version": "1.0"}


@pytest.fixture
def sent(app, form, post, coordinator) -> Submission:
    assert post(household_instance("uuid:o1", head="Li"), {"door.jpg": b"\xff\xd8door"}
                ).status_code == 201
    return db.session.scalar(sa.select(Submission).where(Submission.instance_id == "uuid:o1"))


@pytest.fixture
def supervisor(make_user, area_tree):
    return make_user("supervisor", areas=["T01"])


def _audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


def _as(client, user) -> None:
    client.post("/logout")
    assert client.post("/login", data={"username": user.username,
                                       "password": PASSWORD}).status_code == 302


def _returned(client, user, lang: str = "") -> list[dict]:
    r = client.get(f"/o/{user.device_token}/returned{lang}")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    return r.get_json()["items"]


@pytest.mark.parametrize("state, reason, comment, refusal", [
    ("rejected", None, "", "needs a reason"),
    ("has_issues", "", "the door", "needs a reason"),
    ("rejected", "wrong_colour", "", "unknown reason 'wrong_colour'"),
    ("has_issues", "other", "  ", "when the reason is Other"),
    ("rejected", "incomplete", "x" * 1001, "longer than 1000 characters"),
    ("lost", None, "", "unknown review state 'lost'"),
])
def test_sending_back_needs_a_reason_and_a_refusal_changes_nothing(
        sent, supervisor, state, reason, comment, refusal):
    with pytest.raises(review.ReviewStateError, match=refusal):
        set_review_state(supervisor, sent, state, reason, comment)
    db.session.rollback()
    assert db.session.get(Submission, sent.id).review_state == "received"
    assert db.session.scalars(sa.select(ReviewDecision)).all() == []
    assert _audits("submission.review") == []


@pytest.mark.parametrize("state, reason, comment, kept", [
    ("rejected", "address_mismatch", " 门牌号错了 ", ("address_mismatch", "门牌号错了")),
    ("has_issues", "other", "照片是别家的", ("other", "照片是别家的")),
    ("approved", "incomplete", "ignored", (None, "")),  # only a return keeps a reason
])
def test_a_decision_is_kept_with_its_reason_and_audited(sent, supervisor, state, reason,
                                                        comment, kept):
    set_review_state(supervisor, sent, state, reason, comment)
    (decision,) = db.session.scalars(sa.select(ReviewDecision)).all()
    assert (decision.state, decision.reason, decision.comment) == (state, *kept)
    assert decision.decided_by_id == supervisor.id
    (event,) = _audits("submission.review")
    assert event.user_id == supervisor.id and event.object_id == str(sent.id)
    assert event.detail == {"old": "received", "new": state, "reason": kept[0],
                            "comment": kept[1]}


def test_review_page_and_api_take_the_reason(client, sent, supervisor):
    _as(client, supervisor)
    r = client.post(f"/submissions/{sent.id}/review", data={"review_state": "rejected"})
    assert r.status_code == 303  # back to the page, the reason required said above it
    assert "退回上报记录必须选择原因" in client.get(f"/submissions/{sent.id}").data.decode()
    r = client.post(f"/submissions/{sent.id}/review", data={
        "review_state": "rejected", "reason": "id_number_wrong", "comment": "第二人身份证号"})
    assert r.status_code == 302
    page = client.get(f"/submissions/{sent.id}").data.decode()
    assert "已退回: 身份证号有误" in page and "第二人身份证号" in page
    r = client.post(f"/api/v1/submissions/{sent.id}/review?lang=en",
                    json={"review_state": "has_issues"})
    assert r.status_code == 400 and r.get_json()["error"] == "reason_required"
    assert "needs a reason" in r.get_json()["message"]
    r = client.post(f"/api/v1/submissions/{sent.id}/review",
                    json={"review_state": "has_issues", "reason": "photo_unclear"})
    assert r.get_json()["reason"] == "photo_unclear" and r.get_json()["review_state"] == \
        "has_issues"
    detail = client.get(f"/api/v1/submissions/{sent.id}?lang=zh_CN").get_json()
    assert detail["review"] == {"reason": "photo_unclear", "reason_label": "照片不清",
                                "comment": ""}


def test_the_coordinator_sees_the_returned_one_and_no_one_else_does(
        client, sent, supervisor, coordinator, make_user):
    assert _returned(client, coordinator) == []
    set_review_state(supervisor, sent, "rejected", "address_mismatch", "不是这栋楼")
    (item,) = _returned(client, coordinator)
    assert {k: item[k] for k in ("id", "instance_id", "form_id", "state", "state_label",
                                 "reason", "reason_label", "comment")} == {
        "id": sent.id, "instance_id": "uuid:o1", "form_id": "hh", "state": "rejected",
        "state_label": "已退回", "reason": "address_mismatch", "reason_label": "地址不符",
        "comment": "不是这栋楼"}
    assert item["returned_by"] == supervisor.display_name and item["returned_at"]
    (english,) = _returned(client, coordinator, "?lang=en")
    assert english["reason_label"] == "Address does not match"
    # Another coordinator, in the same street or another, sees nothing and opens nothing.
    for other in (make_user("coordinator", areas=["T01-01"]),
                  make_user("coordinator", areas=["T01-02"])):
        assert _returned(client, other) == []
        r = client.get(f"/o/{other.device_token}/returned/{sent.id}", headers=OR)
        assert r.status_code == 404
        r = client.get(f"/o/{other.device_token}/returned/{sent.id}/attachments/door.jpg")
        assert r.status_code == 404
    assert _audits("submission.returned_open") == []
    # With HTTP Basic (ODK Collect's other way in) the same list; a bad link gets 403.
    basic = client.get("/o/returned", auth=(coordinator.username, PASSWORD))
    assert [i["id"] for i in basic.get_json()["items"]] == [sent.id]
    assert client.get("/o/not-a-token/returned").status_code == 403


def test_opening_is_audited_and_the_correction_replaces_it(
        client, sent, supervisor, coordinator, post):
    set_review_state(supervisor, sent, "has_issues", "incomplete", "少了一位家庭成员")
    opened = client.get(f"/o/{coordinator.device_token}/returned/{sent.id}").get_json()
    assert opened["instance_id"] == "uuid:o1" and opened["form_id"] == "hh"
    assert "<head>Li</head>" in opened["xml"] and opened["attachments"] == ["door.jpg"]
    photo = client.get(f"/o/{coordinator.device_token}/returned/{sent.id}/attachments/door.jpg")
    assert photo.data == b"\xff\xd8door"
    (event,) = _audits("submission.returned_open")
    assert event.user_id == coordinator.id and event.object_id == str(sent.id)
    assert event.detail["unmasked"] is True

    fixed = household_instance("uuid:o2", head="Li", persons=2, deprecated_id="uuid:o1")
    assert post(fixed, {"door.jpg": b"\xff\xd8door"}).status_code == 201
    db.session.expire_all()
    correction = db.session.scalar(sa.select(Submission).where(
        Submission.instance_id == "uuid:o2"))
    assert correction.review_state == "received" and db.session.get(Submission,
                                                                     sent.id).superseded
    (event,) = _audits("submission.correction")
    assert event.user_id == coordinator.id and event.object_id == str(correction.id)
    assert event.detail == {"replaces": "uuid:o1", "replaces_id": sent.id,
                            "replaced_state": "has_issues"}
    assert _returned(client, coordinator) == []  # it left the list
    assert client.get(f"/o/{coordinator.device_token}/returned/{sent.id}").status_code == 404

    # The supervisor: one line in the list (the correction), both pages linked, the change shown.
    _as(client, supervisor)
    listed = client.get("/api/v1/submissions").get_json()
    assert [i["instance_id"] for i in listed["items"]] == ["uuid:o2"]
    both = client.get("/api/v1/submissions?replaced=1").get_json()
    assert [i["instance_id"] for i in both["items"]] == ["uuid:o2", "uuid:o1"]
    page = client.get(f"/submissions/{correction.id}").data.decode()
    assert f'href="/submissions/{sent.id}"' in page and "有问题: 信息不全" in page
    assert "person[2]/pname" in page and "P1" in page  # the added person, in the changes
    original = client.get(f"/submissions/{sent.id}").data.decode()
    assert f'href="/submissions/{correction.id}"' in original
    assert 'id="review-form"' not in original  # a replaced version is not reviewed again
    with pytest.raises(review.ReviewStateError, match="replaced by an edit"):
        set_review_state(supervisor, db.session.get(Submission, sent.id), "approved")


def test_a_plain_edit_is_audited_as_an_edit(sent, post):
    assert post(household_instance("uuid:o3", deprecated_id="uuid:o1")).status_code == 201
    (event,) = _audits("submission.edit")
    assert event.detail["replaced_state"] == "received"
    assert _audits("submission.correction") == []


def test_the_successor_gets_the_returned_list_after_a_handover(
        client, sent, supervisor, coordinator, make_user):
    set_review_state(supervisor, sent, "rejected", "not_visited", "")
    successor = make_user("coordinator", areas=["T01-02"])
    handover.handover(coordinator.username, successor.username, by=supervisor)
    db.session.commit()
    (item,) = _returned(client, successor)
    assert item["id"] == sent.id and item["submitter"] == coordinator.display_name


def test_odk_collect_reads_the_returned_list_as_form_media(
        client, sent, supervisor, coordinator, make_user):
    from server.services.forms import lifecycle

    result = lifecycle.upload(township_file("returned").read_bytes(), "returned.xlsx", None)
    assert result.warnings == []  # returned.csv is the server's to make, never uploaded
    lifecycle.publish(result.version)
    db.session.commit()
    set_review_state(supervisor, sent, "rejected", "photo_unclear", "门牌照片模糊")
    base = f"/o/{coordinator.device_token}"
    listed = client.get(f"{base}/formList", headers=OR).data.decode()
    assert "<formID>returned</formID>" in listed and "退回的提交" in listed
    manifest = client.get(f"{base}/forms/returned/manifest", headers=OR).data.decode()
    assert "<filename>returned.csv</filename>" in manifest
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"{base}/forms/returned/media/returned.csv", headers=OR).data.decode())))
    assert [(r["name"], r["state"], r["reason"], r["comment"]) for r in rows] == [
        ("uuid:o1", "已退回", "照片不清", "门牌照片模糊")]
    other = make_user("coordinator", areas=["T01-01"])
    theirs = client.get(f"/o/{other.device_token}/forms/returned/media/returned.csv",
                        headers=OR).data.decode()
    assert theirs.splitlines() == ["name,label,__version," + ",".join(review.RETURNED_COLUMNS)]
