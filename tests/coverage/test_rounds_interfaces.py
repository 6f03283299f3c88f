"""Rounds through the page, the JSON API and the CLI: the same rules, clear refusals, the work
left to the background job, and the round on every coverage page (picker, comparison, the
visits outside any round)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.i18n_tools import LOCALES, po_path, read_catalogue
from server.models import Role, Round, RoundJob
from server.services.coverage import rederive
from tests.support.paths import REPO
from tests.support.rounds import build_township, near, on

VISITS = [("A1", "2026-03-02"), ("A2", "2026-03-05"), ("B1", "2026-03-10"),
          ("C1", "2026-03-03"), ("A1", "2026-04-03"), ("A3", "2026-04-04")]  # fmt: skip
MARCH = {"name": "三月", "starts_on": "2026-03-01", "ends_on": "2026-03-31", "areas": ["T01"]}


@pytest.fixture
def town(app, submit, make_user):
    centres = build_township()
    coordinator = make_user(Role.COORDINATOR, areas=["T01-01", "T01-02"])
    for code, day in VISITS:
        submit("household", building=code, location=near(centres, code), start=on(day),
               submitter_id=coordinator.id)
    return centres


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.data[:500]
    return response.get_data(as_text=True)


def test_a_supervisor_plans_a_round_on_the_page(client, login, town):
    login(Role.SUPERVISOR, areas=["T01"])
    page = _page(client, "/rounds/")
    assert 'id="outside-rounds" role="status" data-outside="6"' in page  # all six, no round
    assert "有 6 条走访不在任何轮次内（2026-03-02 至 2026-04-04）" in page
    response = client.post("/rounds/", data={**MARCH, "phase": "1"})
    assert response.status_code == 302
    r = db.session.scalar(sa.select(Round))
    # the request only queued the work; the worker does it
    assert db.session.scalar(sa.select(RoundJob.state)) == "queued"
    page = _page(client, f"/rounds/{r.id}")
    assert 'data-state="queued"' in page and "正在更新走访与覆盖" in page
    rederive.run_pending()
    page = _page(client, f"/rounds/{r.id}")
    assert 'data-state="done"' in page and "（3 条走访变更了轮次）" in page
    assert re.search(r'data-count="complete">3<', page)
    assert 'data-outside="3"' in page
    english = _page(client, f"/rounds/{r.id}?lang=en")
    assert "Visits and coverage are up to date (3 visits changed round)." in english


def test_closing_on_the_page_freezes_the_round(client, login, town):
    login(Role.SUPERVISOR, areas=["T01"])
    client.post("/rounds/", data=MARCH)
    r = db.session.scalar(sa.select(Round))
    response = client.post(f"/rounds/{r.id}/close")
    assert response.status_code == 302
    page = _page(client, f"/rounds/{r.id}")
    assert "轮次「三月」已关闭。" in page and "<h1>三月 <small>已关闭</small></h1>" in page
    assert 'class="stack round-form"' not in page  # nothing left to edit
    client.post(f"/rounds/{r.id}/close")
    assert "轮次「三月」已关闭，不能再修改" in _page(client, f"/rounds/{r.id}")
    assert client.post("/rounds/999/close").status_code == 404


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({**MARCH, "areas": ["T02"]}, "T02 不在您负责的区域内"),
        ({**MARCH, "ends_on": "2026-02-01"}, "结束日期（2026-02-01）早于开始日期（2026-03-01）"),
        ({**MARCH, "name": ""}, "轮次需要名称"),
        ({**MARCH, "update_rate_target": "abc"}, "不是百分比"),
        ({**MARCH, "starts_on": "soon"}, "starts_on：&#39;soon&#39; 不是日期"),
    ],
)
def test_page_refusals_are_clear_and_in_chinese(client, login, town, form, message):
    login(Role.SUPERVISOR, areas=["T01"])
    response = client.post("/rounds/", data=form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Round.id))) == 0


def test_overlap_on_the_page_names_the_other_round(client, login, town):
    login(Role.ADMIN)
    assert client.post("/rounds/", data=MARCH).status_code == 302
    response = client.post("/rounds/", data={**MARCH, "name": "全乡", "areas": ["T"]})
    assert response.status_code == 400
    assert "与轮次「三月」（2026-03-01 至 2026-03-31）重叠" in response.get_data(as_text=True)


def test_coordinators_cannot_plan(client, login, town):
    login(Role.COORDINATOR, areas=["T01-01"])
    assert client.get("/rounds/").status_code == 403
    assert client.post("/api/v1/rounds", json=MARCH).status_code == 403
    assert client.get("/api/v1/rounds").status_code == 200  # the phone map lists them


def test_the_api_creates_edits_and_closes(client, login, town):
    login(Role.SUPERVISOR, areas=["T"])
    created = client.post("/api/v1/rounds", json={**MARCH, "update_rate_target": 0.95})
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["areas"], body["update_rate_target"], body["job"]["state"]) == (
        ["T01"], 0.95, "queued")
    rederive.run_pending()
    listed = client.get("/api/v1/rounds").json
    assert listed["rounds"][0]["job"]["moved"] == 3
    assert listed["outside"] == {"count": 3, "first": "2026-03-03", "last": "2026-04-04"}
    overlap = client.post("/api/v1/rounds?lang=en",
                          json={**MARCH, "name": "x", "areas": ["T01-02"]})
    assert overlap.status_code == 400
    assert "Overlaps round «三月»" in overlap.json["message"]
    assert client.post("/api/v1/rounds", data="not json").status_code == 400
    edited = client.patch(f"/api/v1/rounds/{body['id']}", json={"ends_on": "2026-04-30"})
    assert edited.status_code == 200 and edited.json["ends_on"] == "2026-04-30"
    rederive.run_pending()
    stats = client.get(f"/api/v1/coverage/stats?round={body['id']}").json
    assert stats["areas"]["T01"]["complete"] == 4  # A1, A2, B1, A3 (A1 twice)
    assert "T02" not in stats["areas"] and stats["outside"] == 1  # C1: village T02
    closed = client.post(f"/api/v1/rounds/{body['id']}/close")
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    again = client.patch(f"/api/v1/rounds/{body['id']}", json={"name": "y"})
    assert again.status_code == 400 and "is closed" in again.json["message"]
    assert client.get("/api/v1/rounds/999").status_code == 404
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/rounds"])
    assert {"get", "patch"} <= set(paths["/api/v1/rounds/{round_id}"])


def test_the_cli_creates_lists_edits_and_closes(runner, town):
    result = runner.invoke(args=["rounds", "create", "三月", "--from", "2026-03-01",
                                 "--to", "2026-03-31", "--area", "T01", "--update-target", "95"])
    assert result.exit_code == 0, result.output
    assert "三月  2026-03-01 – 2026-03-31" in result.output
    assert "3 visits changed round" in result.output  # the job ran before the command returned
    result = runner.invoke(args=["rounds", "create", "x", "--from", "2026-03-20",
                                 "--to", "2026-04-10", "--area", "T01-01"])
    assert result.exit_code != 0 and "Overlaps round «三月»" in result.output
    result = runner.invoke(args=["rounds", "edit", "1", "--to", "2026-04-30"])
    assert result.exit_code == 0 and "2 visits changed round" in result.output
    listing = runner.invoke(args=["rounds", "list"])
    assert "三月  2026-03-01 – 2026-04-30" in listing.output
    assert "1 visits fall outside any round (2026-03-03 – 2026-03-03)" in listing.output
    assert runner.invoke(args=["rounds", "close", "1"]).exit_code == 0
    result = runner.invoke(args=["rounds", "edit", "1", "--name", "y"])
    assert result.exit_code != 0 and "is closed" in result.output
    result = runner.invoke(args=["rounds", "create", "y", "--from", "2026-05-01"])
    assert result.exit_code != 0 and "a first day and a last day" in result.output


def test_every_coverage_page_has_the_round_picker_comparison_and_notice(client, login, town):
    login(Role.ADMIN)
    client.post("/rounds/", data=MARCH)
    client.post("/rounds/", data={**MARCH, "name": "四月", "starts_on": "2026-04-01",
                                  "ends_on": "2026-04-30"})
    rederive.run_pending()
    march, april = db.session.scalars(sa.select(Round).order_by(Round.id)).all()
    # visited in March, not yet in April: A2 and B1 (A1 and A3 have April visits)
    both = f"round={april.id}&compare={march.id}"
    stats = _page(client, f"/coverage/stats?{both}")
    assert re.search(r'data-compare="T01"><a [^>]+>2<', stats)
    assert "在「三月」中已走访、在「四月」中尚未走访的建筑" in stats
    walk = _page(client, f"/coverage/walklist?{both}")
    assert re.findall(r'<tr data-code="(\w+)">', walk) == ["A2", "B1"]
    map_page = _page(client, f"/coverage/?{both}")
    assert re.search(r'data-count="compare">2<', map_page)
    assert 'data-outside="1"' in map_page  # C1: village T02 has no round
    csv = client.get(f"/coverage/unvisited.csv?{both}").get_data(as_text=True)
    assert [line.split(",")[1] for line in csv.splitlines()[1:]] == ["A2", "B1"]
    geo = client.get(f"/api/v1/coverage/buildings.geojson?{both}").json
    assert sorted(f["properties"]["code"] for f in geo["features"]) == ["A2", "B1"]
    # April's own counts cover its areas only: six buildings of village T01
    assert re.search(r'data-count="total">6<', _page(client, f"/coverage/?round={april.id}"))
    assert client.get(f"/coverage/stats?round={april.id}&compare={april.id}").status_code == 404


TEMPLATES = ["rounds/index.html", "rounds/show.html", "rounds/_form.html",
             "rounds/phase.html", "coverage/_rounds.html"]


def test_every_round_text_has_a_chinese_translation():
    po = read_catalogue(po_path(LOCALES[0], "messages"))
    catalogue = {m.id: m.string for m in po if m.id and m.string and not m.fuzzy}
    texts = set()
    for name in TEMPLATES:
        source = (REPO / "server" / "templates" / name).read_text("utf-8")
        texts |= set(re.findall(r"""_\(['"]([^'"]+)['"]""", source))
    source = "".join(Path(REPO / "server" / "services" / "coverage" / name).read_text()
                     for name in ("round_plans.py", "phases.py"))
    for first, rest in re.findall(r'RoundError\(\s*"([^"]+)"(?:\s*"([^"]+)")?', source):
        texts.add(first + rest)
    missing = sorted(t for t in texts if t not in catalogue)
    assert missing == []
