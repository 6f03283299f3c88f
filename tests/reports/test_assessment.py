"""Coordinators' assessment (考核) of the hand-worked township, with weights an admin sets.

With the weights buildings 1, households 1, persons 1, accuracy 2, suspect 1, corrections 1,
timeliness 1, in 2016-10 上旬 (the most: 2 buildings, 3 households, 3 persons):

- c1: 2/2, 2/3, 3/3, accuracy 2/2, no suspect visit, nothing returned (left out):
  100 × (1 + ⅔ + 1 + 2·1 + 1) / 6 = 94.4;
- c2: 2/2, 3/3, 3/3, accuracy 1/3, suspect 1 of 3, 1 of 2 returned corrected, 30 h:
  100 × (1 + 1 + 1 + 2·⅓ + ⅔ + ½ + (1 − 30/72)) / 8 = 67.7.
"""

from __future__ import annotations

import html
import io
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent
from server.services.reports import assessment, facts
from server.services.reports.assessment import WeightError
from tests.support.app import PASSWORD
from tests.support.reports import rows_by

WEIGHTS = {"buildings": "1", "households": "1", "persons": "1", "accuracy": "2", "suspect": "1",
           "corrections": "1", "timeliness": "1"}
P1 = "kind=xun&period=2016-10-1"
P1_DAYS = (date(2016, 10, 1), date(2016, 10, 10))


def _log_in(client, username):
    client.post("/logout")
    assert client.post("/login", data={"username": username,
                                       "password": PASSWORD}).status_code == 302


@pytest.fixture
def weighted(plan, client, make_user):
    make_user("admin", username="root")
    _log_in(client, "root")
    response = client.post("/reports/assessment/weights", data=WEIGHTS)
    assert response.status_code == 302
    return plan


def test_scores_by_hand_with_the_admins_weights(weighted, client):
    page = client.get(f"/reports/assessment?{P1}").text
    rows = rows_by(page, "assessment", "data-user")
    assert list(rows) == ["c1", "c2"]  # best first
    # buildings, households, persons, returned, corrected, accuracy, suspect, hours, score
    assert rows["c1"][1:] == ["2", "2", "3", "0", "0", "100.0%", "0.0%", "—", "94.4"]
    assert rows["c2"][1:] == ["2", "3", "3", "2", "1", "33.3%", "33.3%", "30.0", "67.7"]
    rows = assessment.assess(facts.load(weighted.round), *P1_DAYS, None)
    assert [round(r.score, 3) for r in rows] == [94.444, 67.708]
    assert rows[1].parts["timeliness"] == pytest.approx(1 - 30 / 72)
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "assessment.weights"))
    assert event.detail["new"]["accuracy"] == 2.0 and event.detail["old"]["accuracy"] == 3.0


@pytest.mark.parametrize(
    ("sort", "desc", "order"),
    [("score", "1", ["c1", "c2"]), ("score", "0", ["c2", "c1"]),
     ("households", "1", ["c2", "c1"]), ("hours", "1", ["c2", "c1"]),  # c1: none, last
     # names in code-point order: 协管员乙 (U+4E59) before 协管员甲 (U+7532)
     ("name", "0", ["c2", "c1"]), ("no-such-column", "1", ["c1", "c2"])],
)
def test_the_page_sorts_by_the_column_asked(weighted, client, sort, desc, order):
    page = client.get(f"/reports/assessment?{P1}&sort={sort}&desc={desc}").text
    assert list(rows_by(page, "assessment", "data-user")) == order


def test_the_export_holds_the_same_figures(weighted, client):
    response = client.get(f"/reports/assessment.xlsx?{P1}&sort=score&desc=1")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data))["考核"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "协管员" and rows[1][-1] == "得分"
    assert rows[2] == ("协管员甲", 2, 2, 3, 0, 0, 1.0, 0.0, None, 94.4)
    assert rows[3] == ("协管员乙", 2, 3, 3, 2, 1, 1 / 3, 1 / 3, 30.0, 67.7)


def test_who_sees_which_rows(weighted, client, make_user):
    make_user("supervisor", username="boss2", areas=["T02"])
    _log_in(client, "boss2")  # the station of village T02: its coordinator only
    assert list(rows_by(client.get(f"/reports/assessment?{P1}").text, "assessment",
                        "data-user")) == ["c2"]
    _log_in(client, "c1")  # a coordinator: their own row, scored against everyone
    page = client.get(f"/reports/assessment?{P1}").text
    rows = rows_by(page, "assessment", "data-user")
    assert list(rows) == ["c1"] and rows["c1"][-1] == "94.4"
    assert client.get("/reports/assessment/weights").status_code == 403
    assert client.post("/reports/assessment/weights", data=WEIGHTS).status_code == 403
    _log_in(client, "boss")
    assert client.get("/reports/assessment/weights").status_code == 403  # admins only


@pytest.mark.parametrize(
    ("change", "message"),
    [({"accuracy": "-1"}, "accuracy 的权重必须是 0 到 100 之间的数"),
     ({"persons": "abc"}, "persons 的权重必须是 0 到 100 之间的数，不能是 'abc'"),
     ({"timeliness": "101"}, "timeliness 的权重必须是 0 到 100"),
     ({k: "0" for k in WEIGHTS}, "至少要有一项权重大于 0")],
)
def test_bad_weights_are_refused_and_nothing_changes(client, make_user, change, message):
    make_user("admin", username="root")
    _log_in(client, "root")
    assert client.post("/reports/assessment/weights", data=WEIGHTS).status_code == 302
    response = client.post("/reports/assessment/weights", data={**WEIGHTS, **change})
    assert response.status_code == 400 and message in html.unescape(response.text)
    assert assessment.weights()["accuracy"] == 2.0
    page = client.get("/reports/assessment/weights").text
    assert 'name="accuracy" min="0" max="100" step="any" value="2"' in page


def test_weights_refused_in_english_on_the_service():
    with pytest.raises(WeightError, match="The weight of buildings must be a number"):
        assessment.set_weights(None, {"buildings": "x"})
