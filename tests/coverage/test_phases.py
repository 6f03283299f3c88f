"""Phases (阶段) through the page, the JSON API and the CLI: created and edited by supervisors
and admins, a kind giving the plan's default targets (push 90 % / 100 %, steady 100 % / 100 %),
rounds starting from their phase's targets and keeping their own."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, Phase, Role, Round
from tests.support.rounds import build_township

MARCH = {"name": "三月", "starts_on": "2026-03-01", "ends_on": "2026-03-31", "areas": ["T01"]}
PRESETS = [("推进阶段 (push)", 0.9, 1.0), ("常态管理阶段 (steady state)", 1.0, 1.0)]


@pytest.fixture
def town(app):
    build_township()


def _phases() -> list[tuple[str, float, float]]:
    db.session.expire_all()
    return [(p.name, p.update_rate_target, p.accuracy_target)
            for p in db.session.scalars(sa.select(Phase).order_by(Phase.id))]


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.data[:500]
    return response.get_data(as_text=True)


def _phase_id(name: str) -> int:
    return db.session.scalar(sa.select(Phase.id).where(Phase.name == name))


def test_a_supervisor_creates_phases_on_the_rounds_page(client, login, town):
    login(Role.SUPERVISOR, areas=["T01"])
    page = _page(client, "/rounds/")
    assert 'id="phase-list"' in page and 'action="/rounds/phases"' in page
    assert _phases() == PRESETS  # the plan's two, kept from the first visit on
    response = client.post("/rounds/phases", data={"name": "巩固", "kind": "steady"})
    assert response.status_code == 302 and response.location.endswith("/rounds/#phases")
    client.post("/rounds/phases", data={"name": "冲刺", "kind": "push",
                                        "update_rate_target": "95"})
    assert _phases()[2:] == [("巩固", 1.0, 1.0), ("冲刺", 0.95, 1.0)]
    page = _page(client, "/rounds/")
    assert "已创建阶段「冲刺」。" in page
    row = re.search(r'<tr data-phase="3">(.*?)</tr>', page, re.S).group(1)
    assert "巩固" in row and "常态管理阶段" in row and "100% / 100%" in row
    row = re.search(r'<tr data-phase="4">(.*?)</tr>', page, re.S).group(1)
    assert "自定目标" in row and "95% / 100%" in row
    assert '<option value="4" >冲刺' in page  # the round form offers it
    # a round in the new phase starts from its targets
    assert client.post("/rounds/", data={**MARCH, "phase": "4"}).status_code == 302
    r = db.session.scalar(sa.select(Round))
    assert (r.phase.name, r.update_rate_target, r.accuracy_target) == ("冲刺", 0.95, 1.0)
    assert "targets 95% / 100%" in _page(client, "/rounds/?lang=en")
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "phase.create")
                              .order_by(AuditEvent.id.desc()))
    assert event.detail["name"] == "冲刺" and event.detail["update_rate_target"] == 0.95


def test_editing_a_phase_on_its_page(client, login, town):
    login(Role.ADMIN)
    client.post("/rounds/phases", data={"name": "巩固", "kind": "steady"})
    phase_id = _phase_id("巩固")
    client.post("/rounds/", data={**MARCH, "phase": str(phase_id)})
    page = _page(client, f"/rounds/phases/{phase_id}")
    assert "<h1>巩固 <small>常态管理阶段</small></h1>" in page
    assert '<tr data-round="1">' in page and "1 个轮次" in page
    # a new name, the kind left at "keep the targets": only the name changes
    response = client.post(f"/rounds/phases/{phase_id}", data={"name": "巩固期", "kind": ""})
    assert response.status_code == 302
    assert _phases()[2] == ("巩固期", 1.0, 1.0)
    assert "已保存阶段「巩固期」。" in _page(client, f"/rounds/phases/{phase_id}")
    # a kind resets the targets not typed in; typed ones win
    client.post(f"/rounds/phases/{phase_id}", data={"name": "巩固期", "kind": "push",
                                                    "accuracy_target": "98"})
    assert _phases()[2] == ("巩固期", 0.9, 0.98)
    r = db.session.scalar(sa.select(Round))
    assert (r.update_rate_target, r.accuracy_target) == (1.0, 1.0)  # the round keeps its own
    before, after = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "phase.edit")
        .order_by(AuditEvent.id)).all()[-1]["before"], _phases()[2]
    assert (before["update_rate_target"], after[1]) == (1.0, 0.9)
    assert client.get("/rounds/phases/99").status_code == 404


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "", "kind": "push"}, "阶段需要名称"),
        ({"name": "推进阶段 (push)", "kind": "push"}, "已有名为「推进阶段 (push)」的阶段"),
        ({"name": "x", "kind": "sprint"}, "没有 sprint 这种阶段类型"),
        ({"name": "x", "kind": "", "update_rate_target": "90"}, "阶段需要类型（推进或常态）"),
        ({"name": "x", "kind": "push", "update_rate_target": "abc"}, "不是百分比"),
        ({"name": "x", "kind": "push", "accuracy_target": "0"}, "必须大于 0%"),
        ({"name": "x" * 129, "kind": "push"}, "名称超过 128 个字符"),
    ],
)
def test_page_refusals_are_clear_and_in_chinese(client, login, town, form, message):
    login(Role.SUPERVISOR, areas=["T01"])
    response = client.post("/rounds/phases", data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert f'value="{form["name"]}"' in page  # what was typed is shown again
    assert _phases() == PRESETS


def test_who_may_plan_phases(client, login, make_user, town):
    admin = make_user(Role.ADMIN)
    from server.services.coverage import phases, round_plans

    phase = phases.create_phase(admin, {"name": "二村", "kind": "push"})
    round_plans.create_round(admin, {**MARCH, "areas": ["T02"], "phase": str(phase.id)})
    login(Role.SUPERVISOR, areas=["T01"])
    response = client.post(f"/rounds/phases/{phase.id}", data={"name": "改名"})
    assert response.status_code == 400
    assert "阶段「二村」包含不在您负责区域内的轮次「三月」：请管理员修改" in response.get_data(
        as_text=True)
    assert _phases()[2][0] == "二村"
    # cross-site posts are refused like every other form (server/csrf.py)
    refused = client.post("/rounds/phases", data={"name": "y", "kind": "push"},
                          headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    client.get("/logout")
    login(Role.COORDINATOR, areas=["T01-01"])
    assert client.get("/rounds/phases/1").status_code == 403
    assert client.post("/rounds/phases", data={"name": "y", "kind": "push"}).status_code == 403
    assert client.post("/api/v1/phases", json={"name": "y", "kind": "push"}).status_code == 403
    with pytest.raises(round_plans.RoundError, match="Only supervisors and admins plan phases"):
        phases.create_phase(make_user(Role.DESIGNER), {"name": "y", "kind": "push"})
    assert len(_phases()) == 3


def test_the_api_lists_creates_and_edits_phases(client, login, town):
    login(Role.SUPERVISOR, areas=["T"])
    listed = client.get("/api/v1/phases").json["phases"]
    assert [(p["name"], p["kind"], p["rounds"]) for p in listed] == [
        ("推进阶段 (push)", "push", 0), ("常态管理阶段 (steady state)", "steady", 0)]
    created = client.post("/api/v1/phases", json={"name": "巩固", "kind": "常态"})
    assert created.status_code == 201, created.json
    assert created.json == {"id": 3, "name": "巩固", "kind": "steady", "update_rate_target": 1.0,
                            "accuracy_target": 1.0, "rounds": 0}
    assert client.post("/api/v1/rounds", json={**MARCH, "phase": "巩固"}).status_code == 201
    edited = client.patch("/api/v1/phases/3", json={"update_rate_target": 0.92})
    assert edited.status_code == 200
    assert (edited.json["update_rate_target"], edited.json["kind"], edited.json["rounds"]) == (
        0.92, None, 1)
    refused = client.post("/api/v1/phases?lang=en", json={"name": "巩固", "kind": "push"})
    assert refused.status_code == 400
    assert refused.json["message"] == "A phase named «巩固» already exists"
    unknown = client.patch("/api/v1/phases/99?lang=en", json={"name": "z"})
    assert unknown.status_code == 404 and unknown.json["message"] == "No phase with id 99"
    field = client.post("/api/v1/phases?lang=en", json={"name": "z", "colour": "red"})
    assert field.status_code == 400 and "Unknown field colour" in field.json["message"]
    assert client.post("/api/v1/phases", data="not json").status_code == 400
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/phases"])
    assert "patch" in paths["/api/v1/phases/{phase_id}"]


def test_the_cli_lists_creates_and_edits_phases(runner, town):
    listing = runner.invoke(args=["phases", "list"])
    assert listing.exit_code == 0, listing.output
    assert listing.output.splitlines() == [
        "   1  推进阶段 (push)  push  targets 90% / 100%  0 rounds",
        "   2  常态管理阶段 (steady state)  steady  targets 100% / 100%  0 rounds"]
    result = runner.invoke(args=["phases", "create", "巩固", "--kind", "steady"])
    assert result.exit_code == 0, result.output
    assert result.output == "   3  巩固  steady  targets 100% / 100%  0 rounds\n"
    result = runner.invoke(args=["rounds", "create", "三月", "--from", "2026-03-01",
                                 "--to", "2026-03-31", "--area", "T01", "--phase", "巩固"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["phases", "edit", "3", "--name", "巩固期", "--kind", "push",
                                 "--accuracy-target", "99"])
    assert result.exit_code == 0, result.output
    assert result.output == "   3  巩固期  own targets  targets 90% / 99%  1 rounds\n"
    r = db.session.scalar(sa.select(Round))
    assert (r.update_rate_target, r.accuracy_target) == (1.0, 1.0)
    for args, message in [
        (["phases", "create", "巩固期", "--kind", "push"], "A phase named «巩固期» already exists"),
        (["phases", "create", "x"], "A phase needs a kind (push or steady) or both targets"),
        (["phases", "create", "x", "--kind", "sprint"], "No phase kind sprint"),
        (["phases", "edit", "9", "--name", "y"], "No phase with id 9"),
    ]:
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and f"Error: {message}" in result.output, result.output
    assert [name for name, *_ in _phases()] == [p[0] for p in PRESETS] + ["巩固期"]


@pytest.mark.postgres
def test_the_phases_a_page_offers_keep_their_ids_on_postgresql(postgres_app):
    """PostgreSQL never hands out a rolled-back id again: the plan's two phases, created on
    the first visit, are committed so the next request finds the ids the page offered."""
    from server.services import users
    from tests.support.app import PASSWORD

    build_township()
    users.create_user("boss", "admin", password=PASSWORD)
    db.session.commit()
    client = postgres_app.test_client()
    client.post("/login", data={"username": "boss", "password": PASSWORD})
    offered = re.findall(r'<tr data-phase="(\d+)">', _page(client, "/rounds/"))
    # what the end of a request does when it has no app context of its own (the test's is
    # shared): what was not committed is rolled back
    db.session.remove()
    assert re.findall(r'<tr data-phase="(\d+)">', _page(client, "/rounds/")) == offered
    db.session.remove()
    response = client.post(f"/rounds/phases/{offered[1]}", data={"name": "常态"})
    assert response.status_code == 302
    assert client.post("/rounds/", data={**MARCH, "phase": offered[1]}).status_code == 302
    assert db.session.scalar(sa.select(Round)).phase.name == "常态"
