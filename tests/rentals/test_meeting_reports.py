"""Must show (issue 11, item 3 with item 5): the meeting reports' flags list the rental
violations of the report's area — village T01's weekly report its own, T02's its own, the
township's ten-day report both — on the page, in the XLSX and in the PDF; a violation put right
and its rectification closed after re-inspection leaves the open list and is listed as closed.

The scenario of tests/rentals/conftest.py (see test_scenario.py's table), then today:

- U4 (T02) re-inspected: still partitioned, and one safety item missing → a new violation
  found today (in the period);
- U2 (T01): a rectification of `basement` ordered, the re-inspection finds the basement
  emptied and 30 m² for 3 tenants (10.0 m², at the standard) → area and basement put right,
  safety put right too (all five items), the contract still unfiled; the rectification closed.

By hand, in the period holding today:

| area | open (unit: rules) | units | found in period | closed |
| --- | --- | --- | --- | --- |
| T01 weekly | U2 contract_unfiled; U3 kitchen | 2 | 1 (U3) | U2 basement |
| T02 weekly | U4 partitioned, safety | 1 | 1 (U4 safety) | — |
| T ten-day | the four above | 3 | 2 | U2 basement |

U2's and U4's first inspection was on 2016-10-20 (their violations date from then); U3's kitchen
comes from its household form, sent today. Before the rectification, T01 had 5 open: U2's four
and U3's kitchen (U1 is compliant, H5 is owner-occupied).
"""

from __future__ import annotations

import io
import re
import subprocess
from datetime import timedelta

import openpyxl
import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import ArchivedReport, Role
from server.services.coverage import rederive, round_plans
from server.services.rentals import rectifications
from server.services.reports import meeting, periods
from tests.support.app import PASSWORD
from tests.support.rentals import LI_ID, LI_PHONE, WANG_PHONE, inspection

OPEN_T01 = [("U2", "contract_unfiled"), ("U3", "kitchen")]
OPEN_T02 = [("U4", "partitioned"), ("U4", "safety")]
CLOSED = [("U2", "basement")]
LABELS = {"U2": "B1 号 U2", "U3": "B2 号 U3", "U4": "B3 号 U4"}  # the units' labels


def _round_over_today() -> None:
    today = localtime.today()
    round_plans.create_round(None, {
        "name": "本期推进", "starts_on": (today - timedelta(days=30)).isoformat(),
        "ends_on": (today + timedelta(days=30)).isoformat(), "areas": ["T"]})
    rederive.run_pending()


def _listed(page: str, table: str) -> list[tuple[str, str]]:
    found = re.search(rf'<table id="{table}">(.*?)</table>', page, re.S)
    return re.findall(r'data-unit="(\w+)" data-rule="(\w+)"', found.group(1)) if found else []


def _counts(page: str) -> dict[str, str]:
    flag = re.search(r'<li data-flag="rentals">(.*?)</li>', page, re.S).group(1)
    return dict(re.findall(r'data-count="(\w+)">(\d+)<', flag))


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return " ".join(out.split())


def _build(kind: str, code: str):
    period = periods.containing(localtime.today(), kind)
    return meeting.build(None, kind, period, meeting.area_for(None, code, kind))


def _today_s_inspections(scenario, supervisor) -> None:
    send, c1, c2 = scenario["send"], scenario["c1"], scenario["c2"]
    today = localtime.today()
    send(c2, "rental_inspection", inspection(
        "U4", "B3", "T02-01", day=today.isoformat(), floor_area="20", tenants="1",
        partitioned="yes", safety="extinguisher smoke_alarm escape_route wiring",
        number="BA-2016-002", landlord=("王房东", "", WANG_PHONE)))
    rect = rectifications.order(supervisor, "U2", "basement", today + timedelta(days=14))
    send(c1, "rental_inspection", inspection(
        "U2", "B1", "T01-01", day=today.isoformat(), floor_area="30", tenants="3",
        rooms="bedroom", filed="no", landlord=("李房东", LI_ID, LI_PHONE)))
    rectifications.close(supervisor, rect.id, "已整改")


def test_the_reports_flag_each_area_s_rental_violations(scenario, make_user):
    _round_over_today()
    before = _build("week", "T01").rentals
    assert [(f.uuid, f.code) for f in before.open] == [
        ("U2", "area_per_tenant"), ("U2", "basement"), ("U2", "safety"),
        ("U2", "contract_unfiled"), ("U3", "kitchen")]
    assert (before.units, before.found, before.closed) == (2, 1, [])
    assert [(f.uuid, f.code) for f in _build("week", "T02").rentals.open] == [
        ("U4", "partitioned")]

    _today_s_inspections(scenario, make_user(Role.SUPERVISOR, areas=["T"]))
    t01, t02, town = (_build("week", "T01").rentals, _build("week", "T02").rentals,
                      _build("xun", "T").rentals)
    assert [(f.uuid, f.code) for f in t01.open] == OPEN_T01
    assert [(f.uuid, f.code) for f in t01.closed] == CLOSED
    assert (t01.units, t01.found) == (2, 1)
    assert [(f.uuid, f.code) for f in t02.open] == OPEN_T02
    assert (t02.units, t02.found, t02.closed) == (1, 1, [])
    assert [(f.uuid, f.code) for f in town.open] == OPEN_T01 + OPEN_T02
    assert (town.units, town.found, [(f.uuid, f.code) for f in town.closed]) == (3, 2, CLOSED)
    closed = t01.closed[0]
    today = localtime.today().isoformat()
    assert (closed.reinspected_on, closed.closed_on, closed.stage) == (today, today, "closed")
    # A past period's report does not list what was found after it.
    past = meeting.build(None, "week", periods.containing(
        localtime.today() - timedelta(days=7), "week"), meeting.area_for(None, "T02", "week"))
    assert [(f.uuid, f.code) for f in past.rentals.open] == [("U4", "partitioned")]
    assert past.rentals.closed == []


def test_the_page_xlsx_and_pdf_list_the_violations(scenario, client, make_user, tmp_path):
    _round_over_today()
    boss = make_user(Role.SUPERVISOR, username="boss", areas=["T"])
    _today_s_inspections(scenario, boss)
    assert client.post("/login", data={"username": "boss", "password": PASSWORD}
                       ).status_code == 302
    week = periods.containing(localtime.today(), "week").key
    xun = periods.containing(localtime.today(), "xun").key
    expected = {"T01": ("week", week, OPEN_T01, CLOSED, {"open": "2", "units": "2",
                                                        "found": "1", "closed": "1"}),
                "T02": ("week", week, OPEN_T02, [], {"open": "2", "units": "1",
                                                     "found": "1", "closed": "0"}),
                "T": ("xun", xun, OPEN_T01 + OPEN_T02, CLOSED,
                      {"open": "4", "units": "3", "found": "2", "closed": "1"})}
    for code, (kind, period, listed, closed, counts) in expected.items():
        response = client.post("/reports/meeting", data={"kind": kind, "area": code,
                                                         "period": period})
        assert response.status_code == 302, code
        page = client.get(response.headers["Location"]).text
        assert _listed(page, "rental-violations") == listed, code
        assert _listed(page, "rental-closed") == closed, code
        assert _counts(page) == counts, code
        assert "出租房屋违规" in page and "本期整改销号" in page
        row = db.session.scalar(sa.select(ArchivedReport).where(
            ArchivedReport.area.has(code=code)))

        book = openpyxl.load_workbook(io.BytesIO(client.get(
            f"/reports/archive/{row.id}.xlsx").data))
        sheet = list(book["出租房屋违规"].iter_rows(values_only=True))
        assert sheet[0] == ("村", "街道/村民小组", "出租房屋", "违规情况", "发现日期", "期限",
                            "整改")
        assert [(r[2], r[3]) for r in sheet[1:]] == [(LABELS[unit], _words(rule))
                                                      for unit, rule in listed], code
        shut = list(book["本期整改销号"].iter_rows(min_row=2, values_only=True))
        assert [(r[2], r[3]) for r in shut] == [(LABELS[unit], _words(rule))
                                                for unit, rule in closed]

        text = _pdf_text(client.get(f"/reports/archive/{row.id}.pdf").data, tmp_path)
        assert (f"出租房屋违规: {counts['open']} 待处理 (涉及房屋: {counts['units']}), "
                f"{counts['found']} 本期新发现; 本期整改销号: {counts['closed']}"
                ) in text.replace("：", ": ").replace("（", "(").replace("）", ")"), code
        for unit, rule in listed + closed:
            assert f"{LABELS[unit]} {_words(rule)}" in text, (code, unit, rule)
    t01 = client.get("/reports/meeting?kind=week&area=T01&period=" + week).text
    assert "厨房出租居住" in t01 and "安全检查不合格" not in t01  # U4's safety is in T02
    assert LABELS["U4"] not in t01


def _words(rule: str) -> str:
    """A rule as the reports print it in Chinese (details left out where there are none)."""
    return {"contract_unfiled": "租赁合同未备案", "kitchen": "厨房出租居住",
            "partitioned": "出租单位小于原设计房间（隔断出租）",
            "safety": "安全检查不合格（1 项不合格）",
            "basement": "地下室、储藏室出租居住"}[rule]
