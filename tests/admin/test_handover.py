"""Handover when a coordinator leaves (辞职替补): areas and open work move to the successor,
history keeps who did what, the leaver's device link stops working. Counts computed by hand."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import AuditEvent, Round, Submission, User
from server.services import device_links, handover, users
from server.services.coverage import rollups
from server.services.processing import pipeline
from tests.support.app import PASSWORD
from tests.support.household_form import add_household_form, household_instance

#: A geotag inside building A1 (the `make_building` default box at 102.6, 24.6).
AT_A1 = "24.60005 102.60005 0 5"


def _user(username: str) -> User:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.username == username))


def _submission(instance_id: str) -> Submission:
    return db.session.scalar(sa.select(Submission).where(Submission.instance_id == instance_id))


def _as(client, user: User) -> None:
    client.post("/logout")
    assert client.post("/login", data={"username": user.username,
                                       "password": PASSWORD}).status_code == 302


@pytest.fixture
def town(app, area_tree, make_building, make_user, client):
    """A1–A3 in T01-01 (the leaver's street), B1–B2 in T01-02 (the successor's); a round
    around today; the leaver `lao` sent four submissions at A1, the successor `xin` one."""
    for n, code in enumerate(("A1", "A2", "A3")):
        make_building(code, area_tree["T01-01"], lon=102.6 + n * 0.001)
    for n, code in enumerate(("B1", "B2")):
        make_building(code, area_tree["T01-02"], lon=102.6 + n * 0.001, lat=24.65)
    today = localtime.today()
    rnd = Round(name="now", starts_on=today - timedelta(days=5), ends_on=today + timedelta(days=5))
    db.session.add(rnd)
    add_household_form()
    lao = make_user("coordinator", username="lao", areas=["T01-01"])
    xin = make_user("coordinator", username="xin", areas=["T01-02"])
    subs = {}
    for name, who, state in [("s1", lao, "approved"), ("s2", lao, "has_issues"),
                             ("s3", lao, "rejected"), ("s4", lao, "received"),
                             ("s5", xin, "received")]:
        xml = household_instance(f"uuid:{name}", location=AT_A1)
        assert _send(client, who.device_token, xml) == 201
        sub = _submission(f"uuid:{name}")
        sub.review_state = state
        subs[name] = sub
    db.session.commit()
    pipeline.process_pending()
    return {"round": rnd, "lao": lao, "xin": xin, "subs": subs}


def _send(client, token: str, xml: bytes) -> int:
    data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    return client.post(f"/o/{token}/submission", data=data, content_type="multipart/form-data",
                       headers={"X-OpenRosa-Version": "1.0"}).status_code


def _visible(client, user: User) -> list[str]:
    _as(client, user)
    items = client.get("/api/v1/submissions").get_json()["items"]
    return sorted(i["instance_id"].removeprefix("uuid:") for i in items)


def test_handover_moves_areas_and_open_work_and_keeps_history(app, client, runner, town,
                                                              make_user):
    lao, xin, rnd = town["lao"], town["xin"], town["round"]
    old_token = lao.device_token
    supervisor = make_user("supervisor", username="zhuren", areas=["T01"])
    assert _visible(client, supervisor) == ["s1", "s2", "s3", "s4", "s5"]
    assert _visible(client, xin) == ["s5"]

    r = runner.invoke(args=["users", "handover", "lao", "xin"])
    assert r.exit_code == 0, r.output
    # By hand: T01-01 holds A1, A2, A3 and only A1 was visited -> 2 unvisited; lao's returned
    # submissions are s2 (has issues) and s3 (rejected) -> 2.
    assert ("lao handed over to xin: areas T01-01 (1 streets, 2 unvisited buildings), "
            "2 returned submissions to correct") in r.output

    lao, xin = _user("lao"), _user("xin")
    assert sorted(a.area.code for a in xin.assignments) == ["T01-01", "T01-02"]
    assert lao.assignments == [] and lao.active is False
    assert device_links.user_for(old_token) is None
    assert lao.successor_id == xin.id
    # The leaver's device link stops working.
    assert _send(client, old_token, household_instance("uuid:late", location=AT_A1)) == 403
    assert client.get(f"/o/{old_token}/formList",
                      headers={"X-OpenRosa-Version": "1.0"}).status_code == 403
    # History: submissions keep their submitter; the successor sees the open work only.
    submitters = dict(db.session.execute(
        sa.select(Submission.instance_id, Submission.submitter_id)).all())
    assert [submitters[f"uuid:s{n}"] for n in range(1, 6)] == [lao.id] * 4 + [xin.id]
    assert _visible(client, xin) == ["s2", "s3", "s5"]
    assert _visible(client, supervisor) == ["s1", "s2", "s3", "s4", "s5"]
    # The leaver's past visits keep counting: A1 stays visited, now in xin's roll-up of
    # 5 buildings (A1–A3, B1–B2), 1 visited and 4 unvisited.
    row = rollups.rollups(rnd.id)["coordinators"]
    assert "lao" not in row and (row["xin"]["total"], row["xin"]["visited"]) == (5, 1)
    assert row["xin"]["unvisited"] == 4
    # The walk list follows the areas: xin's unvisited buildings are A2, A3, B1, B2.
    r = runner.invoke(args=["coverage", "export", "--coordinator", "xin"])
    codes = sorted(row["code"] for row in csv.DictReader(io.StringIO(r.output)))
    assert codes == ["A2", "A3", "B1", "B2"]
    # One audit event says what moved.
    (event,) = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.handover"))
    assert event.object_id == str(lao.id)
    assert {k: event.detail[k] for k in ("successor", "areas", "unvisited_buildings",
                                         "returned_submissions")} == {
        "successor": "xin", "areas": ["T01-01"], "unvisited_buildings": 2,
        "returned_submissions": 2}


def test_the_successor_corrects_a_returned_submission(app, client, town):
    handover.handover("lao", "xin")
    db.session.commit()
    xin = _user("xin")
    edit = household_instance("uuid:s2-fixed", location=AT_A1, deprecated_id="uuid:s2")
    assert _send(client, xin.device_token, edit) == 201
    pipeline.process_pending()
    db.session.expire_all()
    fixed = _submission("uuid:s2-fixed")
    assert fixed.submitter_id == xin.id
    assert db.session.scalar(sa.select(Submission.superseded)
                             .where(Submission.instance_id == "uuid:s2")) is True
    # the replaced version leaves the list (issue 10, item 5): the correction stands for it
    assert _visible(client, xin) == ["s2-fixed", "s3", "s5"]


def test_a_second_handover_passes_the_earlier_leavers_work_on(app, client, town, make_user):
    """jiu left first (to lao), with one returned submission; when lao leaves too, xin gets
    both: 2 of lao's + 1 of jiu's = 3 returned submissions."""
    jiu = make_user("coordinator", username="jiu", areas=["T01-01"])
    assert _send(client, jiu.device_token, household_instance("uuid:j1", location=AT_A1)) == 201
    db.session.execute(sa.update(Submission).where(Submission.instance_id == "uuid:j1")
                       .values(review_state="has_issues"))
    first = handover.handover("jiu", "lao")
    assert (first.areas, first.returned) == (["T01-01"], 1)
    second = handover.handover("lao", "xin")
    db.session.commit()
    assert (second.returned, second.earlier) == (3, ["jiu"])
    assert _user("jiu").successor_id == _user("xin").id
    assert _visible(client, _user("xin")) == ["j1", "s2", "s3", "s5"]


@pytest.mark.parametrize(
    ("leaver", "successor", "message"),
    [
        ("lao", "lao", "two different users"),
        ("nobody", "xin", "no user 'nobody' \\(the leaver\\)"),
        ("lao", "nobody", "no user 'nobody' \\(the successor\\)"),
        ("lao", "boss", "boss is supervisor, lao is coordinator"),
        ("lao", "gone", "gone is deactivated"),
        ("root", "xin", "only coordinators' and supervisors' work"),
    ],
)
def test_refused_handovers_change_nothing(app, town, make_user, leaver, successor, message):
    make_user("supervisor", username="boss", areas=["T01"])
    users.set_active(make_user("coordinator", username="gone"), False)
    make_user("admin", username="root")
    db.session.commit()
    with pytest.raises(users.UserError, match=message):
        handover.handover(leaver, successor)
    db.session.rollback()
    lao = _user("lao")
    assert [a.area.code for a in lao.assignments] == ["T01-01"] and lao.active


def test_the_leavers_open_session_ends(app, client, town):
    """Flask-Login treats a deactivated user as logged out (a guard: the leaver's browser)."""
    _as(client, town["lao"])
    assert client.get("/submissions/").status_code == 200
    handover.handover("lao", "xin")
    db.session.commit()
    r = client.get("/submissions/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.get("/api/v1/submissions").status_code == 401


def test_a_leaver_is_handed_over_once(app, town):
    handover.handover("lao", "xin")
    db.session.commit()
    with pytest.raises(users.UserError, match="lao was already handed over to xin"):
        handover.handover("lao", "xin")


def test_admin_page_hands_over_and_refuses_clearly(app, client, town, make_user):
    _as(client, make_user("admin"))
    lao = town["lao"]
    page = client.get("/admin/users?lang=en").get_data(as_text=True)
    assert "Hand over (leaving)" in page and '<option value="xin">' in page
    bad = client.post(f"/admin/users/{lao.id}?lang=en",
                      data={"action": "handover", "successor": "nobody"})
    assert bad.status_code == 400
    assert "Not handed over: no user &#39;nobody&#39; (the successor)" in bad.get_data(
        as_text=True)
    assert _user("lao").active
    r = client.post(f"/admin/users/{lao.id}?lang=zh_CN",
                    data={"action": "handover", "successor": "xin"}, follow_redirects=True)
    text = r.get_data(as_text=True)
    assert ("lao 已交接给 xin：区域 T01-01（1 个街道/村民小组，2 栋未走访建筑物），"
            "2 份退回待更正的提交") in text
    assert "已交接给 xin" in text
    assert _user("lao").active is False
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))
                             .where(AuditEvent.action == "user.handover")) == 1
