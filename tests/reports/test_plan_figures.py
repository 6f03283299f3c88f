"""Every figure of the plan, worked out by hand from the township of tests/support/reports.py,
equals what the service counts, what the pages show, what the XLSX holds and what the PDF prints.

The sums, from the module docstring's table (P1 = 2016-10 上旬, P2 = 中旬):

- P1: buildings visited A1 A2 C1 C2 = 4 (C3's visit was rejected); at P1's end 4 of 9 not
  unvisited, 3 complete (C2 only suspect). Households registered H1 H2 H3 H4 H6 = 5; persons
  p1 p2 p3 p4 p5 p7 = 6. On the register at 10-10: those 6 and p8 p9 (registered 09-20) = 8,
  confirmed in the round 6 → 75.0 %. Reviewed s1 s2 s3 s3c s8 = 5, approved s1 s2 s3c = 3 →
  60.0 %; returned s3 s8 = 2, corrected s3 = 1 (30 h after its return). Visits to a building 5
  (s3's visit went with its correction), suspect 1 (s4).
- P2: buildings visited A3 B1 C3 = 3; households registered H5 H7 = 2, updated H0 = 1; persons
  registered p6, updated p8, departed p2 = 1 each; reviewed s5 s6 s7 = 3, approved 2 → 66.7 %;
  returned s7 = 1, corrected 0; one registration held (s9: p3's ID number, p3 lives in T01).
  At 10-20: 7 of 9 visited, 6 complete (66.7 %); on the register 8 (p2 departed, p6 arrived),
  confirmed 7 (all but p9) → 87.5 % (target 90 %: not met); the round's accuracy 5 / 8 = 62.5 %.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import ArchivedReport, AuditEvent
from server.services import scope
from server.services.reports import builder, facts, meeting, metrics, periods
from server.services.reports.metrics import Counts
from tests.support.app import PASSWORD
from tests.support.browser import ARTIFACTS
from tests.support.reports import rows_by, tables

P1 = (date(2016, 10, 1), date(2016, 10, 10))
P2 = (date(2016, 10, 11), date(2016, 10, 20))
FIRST = date(2016, 10, 1)
FLOWS = ("buildings_visited", "households_registered", "households_updated",
         "persons_registered", "persons_updated", "persons_departed", "reviewed", "approved",
         "returned", "corrected", "visits", "suspect_visits", "held")
STOCKS = ("buildings", "visited", "complete", "on_register", "confirmed")


def _sum(per: dict, streets) -> Counts:
    return sum((per.get(s, Counts()) for s in streets), Counts())


def _log_in(client, username="boss"):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302


#: (area, window) -> counts in FLOWS order, stocks at the window's end in STOCKS order.
BY_HAND = [
    ("T", P1, (4, 5, 0, 6, 0, 0, 5, 3, 2, 1, 5, 1, 0), (9, 4, 3, 8, 6)),
    ("T", P2, (3, 2, 1, 1, 1, 1, 3, 2, 1, 0, 3, 0, 1), (9, 7, 6, 8, 7)),
    ("T/T01", P1, (2, 2, 0, 3, 0, 0, 2, 2, 0, 0, 2, 0, 0), (6, 2, 2, 5, 3)),
    ("T/T01", P2, (2, 1, 1, 1, 1, 1, 3, 2, 1, 0, 2, 0, 1), (6, 4, 4, 5, 4)),
    ("T/T02", P1, (2, 3, 0, 3, 0, 0, 3, 1, 2, 1, 3, 1, 0), (3, 2, 1, 3, 3)),
    ("T/T02", P2, (1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0), (3, 3, 2, 3, 3)),
]


def test_figures_per_area_and_period_by_hand(plan):
    f = facts.load(plan.round)
    for path, window, flows, stocks in BY_HAND:
        c = _sum(metrics.tally(f, *window), set(scope.streets_under_paths([path])))
        assert tuple(getattr(c, name) for name in FLOWS) == flows, (path, window)
        assert tuple(getattr(c, name) for name in STOCKS) == stocks, (path, window)


def test_rates_to_date_and_coordinators_by_hand(plan):
    f = facts.load(plan.round)
    p1 = sum(metrics.tally(f, FIRST, P1[1]).values(), Counts())
    p2 = sum(metrics.tally(f, FIRST, P2[1]).values(), Counts())
    assert (p1.update_rate, p1.accuracy, p1.complete_rate) == (0.75, 0.6, 3 / 9)
    assert (p2.update_rate, p2.accuracy, p2.complete_rate) == (0.875, 0.625, 6 / 9)
    assert (p2.returned, p2.corrected, p2.correction_hours) == (3, 1, [30.0])
    per = metrics.tally(f, *P1, by="coordinator")
    c1, c2 = per[plan.c1.id], per[plan.c2.id]
    # (buildings, households, persons, reviewed, approved, returned, corrected, visits, suspect)
    assert (c1.buildings_visited, c1.households_touched, c1.persons_touched, c1.reviewed,
            c1.approved, c1.returned, c1.corrected, c1.visits, c1.suspect_visits) == (
        2, 2, 3, 2, 2, 0, 0, 2, 0)
    assert (c2.buildings_visited, c2.households_touched, c2.persons_touched, c2.reviewed,
            c2.approved, c2.returned, c2.corrected, c2.visits, c2.suspect_visits) == (
        2, 3, 3, 3, 1, 2, 1, 3, 1)
    assert c2.correction_median_hours == 30.0
    assert metrics.targets(plan.round).update_rate == 0.9


def test_the_metrics_page_shows_the_hand_figures(plan, client):
    _log_in(client)
    page = client.get(f"/reports/?round={plan.round.id}&kind=xun&period=2016-10-2").text
    areas = rows_by(page, "metrics-areas", "data-code")
    # this period: visited, households reg/upd, persons reg/upd/dep, accuracy;
    # the round so far: complete, update rate, accuracy, corrected / returned
    assert areas["T"][1:] == ["3", "2", "1", "1", "1", "1", "66.7%", "66.7%", "87.5%", "62.5%",
                              "1 / 3"]
    assert areas["T01"][1:] == ["2", "1", "1", "1", "1", "1", "66.7%", "66.7%", "80.0%",
                                "80.0%", "0 / 1"]
    assert areas["T02"][1:] == ["1", "1", "0", "0", "0", "0", "—", "66.7%", "100.0%", "33.3%",
                                "1 / 2"]
    assert set(areas) == {"T", "T01", "T02"}  # one level down; a village opens its streets
    trend = rows_by(page, "metrics-trend", "data-period")
    assert trend["2016-10-1"][1:] == ["4", "6", "0", "0", "60.0%", "75.0%", "33.3%"]
    assert trend["2016-10-2"][1:] == ["3", "1", "1", "1", "66.7%", "87.5%", "66.7%"]
    assert "area=T01" in page
    village_page = client.get(f"/reports/?round={plan.round.id}&kind=xun&period=2016-10-2"
                              "&area=T01").text
    village = rows_by(village_page, "metrics-areas", "data-code")
    assert set(village) == {"T01", "T01-01", "T01-02"} and village["T01"] == areas["T01"]
    assert rows_by(village_page, "metrics-trend", "data-period")["2016-10-2"][1] == "2"
    assert client.get("/reports/?area=NOPE").status_code == 404
    people = rows_by(page, "metrics-coordinators", "data-user")
    assert people["c1"][1:] == ["2", "2", "3", "3", "66.7%", "1", "0", "0 / 2"]
    assert people["c2"][1:] == ["1", "1", "0", "0", "—", "0", "0", "0 / 1"]
    assert "信息录入更新率" in page and "登记或确认" in page  # the definition, in Chinese


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_the_ten_day_report_page_xlsx_and_pdf_agree_with_the_hand_figures(plan, client,
                                                                          tmp_path):
    _log_in(client)
    response = client.post("/reports/meeting", data={"kind": "xun", "area": "T",
                                                     "period": "2016-10-2"})
    assert response.status_code == 302
    row = db.session.scalar(sa.select(ArchivedReport))
    page = client.get(response.headers["Location"]).text
    assert "2016年10月中旬" in page and "旬报" in page

    progress = rows_by(page, "progress", "data-metric")
    assert progress["update_rate"][1:] == ["≥ 90.0%", "87.5%", "否"]
    assert progress["accuracy"][1:] == ["≥ 100.0%", "62.5%", "否"]
    assert progress["complete_rate"][2] == "66.7% (6 / 9)"
    assert progress["register"][2] == "7 / 8"
    changes = rows_by(page, "changes", "data-metric")
    expected_changes = {
        "buildings_visited": ["4", "3", "−1"], "households_registered": ["5", "2", "−3"],
        "households_updated": ["0", "1", "+1"], "persons_registered": ["6", "1", "−5"],
        "persons_updated": ["0", "1", "+1"], "persons_departed": ["0", "1", "+1"],
        "reviewed": ["5", "3", "−2"], "accuracy": ["60.0%", "66.7%", "+6.7 pt"],
        "returned": ["2", "1", "−1"], "corrected": ["1", "0", "−1"],
        "suspect_visits": ["1", "0", "−1"], "held": ["0", "1", "+1"],
        "update_rate": ["75.0%", "87.5%", "+12.5 pt"],
        "complete_rate": ["33.3%", "66.7%", "+33.3 pt"],
        "visited_rate": ["44.4%", "77.8%", "+33.3 pt"],
    }
    assert {k: v[1:] for k, v in changes.items()} == expected_changes
    areas = rows_by(page, "areas", "data-code")
    # buildings, visited, complete %, register, confirmed, update rate, reviewed, accuracy,
    # returned, corrected, suspect visits — the round so far
    assert areas["T"][1:] == ["9", "7", "66.7%", "8", "7", "87.5%", "8", "62.5%", "3", "1", "1"]
    assert areas["T01"][1:] == ["6", "4", "66.7%", "5", "4", "80.0%", "5", "80.0%", "1", "0",
                                "0"]
    assert areas["T02"][1:] == ["3", "3", "66.7%", "3", "3", "100.0%", "3", "33.3%", "2", "1",
                                "1"]
    assert set(areas) == {"T", "T01", "T02"}  # the township's meeting: its village stations
    village = rows_by(client.get("/reports/meeting?kind=xun&area=T01&period=2016-10-2").text,
                      "areas", "data-code")
    assert set(village) == {"T01", "T01-01", "T01-02"}  # a station's report: its streets
    assert village["T01-02"][1:4] == ["3", "1", "33.3%"]
    trend = rows_by(page, "trend", "data-period")
    assert trend["2016-10-1"][1:] == ["4", "6", "0", "0", "60.0%", "75.0%", "33.3%"]
    assert trend["2016-10-2"][1:] == ["3", "1", "1", "1", "66.7%", "87.5%", "66.7%"]
    assert "尚未走访的建筑: 2" in page.replace("：", ": ")
    assert [cells for _a, cells in tables(page)["unvisited"][1:]] == [["T01-02区 T01-02", "2",
                                                                       "B2、B3"]]
    assert re.search(r'data-flag="held">[^<]*: 1 ', page)  # one held registration open
    assessment = rows_by(page, "assessment", "data-user")
    # default weights 2,1,2,3,1,1,1: c1 (2+1+2+3·⅔+1+0)/10 = 80.0; c2 (2·½+½+0+1)/6 = 41.7
    assert assessment["c1"][1:] == ["2", "2", "3", "1", "0", "66.7%", "0.0%", "—", "80.0"]
    assert assessment["c2"][1:] == ["1", "1", "0", "0", "0", "—", "0.0%", "—", "41.7"]
    assert 'src="data:image/png;base64,' in page

    book = openpyxl.load_workbook(io.BytesIO(client.get(
        f"/reports/archive/{row.id}.xlsx").data))
    summary = list(book["概况"].iter_rows(values_only=True))
    assert summary[4][:4] == ("信息录入更新率", 0.9, 0.875, "否")
    assert summary[5][:4] == ("准确率", 1.0, 0.625, "否")
    by_label = {r[0]: r[1:4] for r in summary[8:] if r and r[0]}
    assert by_label["走访建筑数"] == (4, 3, "−1")
    assert by_label["准确率"][:2] == (0.6, 2 / 3)
    assert by_label["信息录入更新率"][:2] == (0.75, 0.875)
    areas_sheet = {r[1]: r for r in book["按区域"].iter_rows(min_row=2, values_only=True)}
    assert areas_sheet["T"][2:] == (9, 7, 6, 6 / 9, 8, 7, 0.875, 8, 0.625, 3, 1, 1)
    assert areas_sheet["T02"][2:] == (3, 3, 2, 2 / 3, 3, 3, 1.0, 3, 1 / 3, 2, 1, 1)
    trend_sheet = list(book["趋势"].iter_rows(min_row=2, values_only=True))
    assert trend_sheet[1][1:] == (3, 1, 1, 1, 2 / 3, 0.875, 6 / 9)
    scores = {r[0]: r for r in book["考核"].iter_rows(min_row=3, values_only=True)}
    assert scores["协管员甲"][1:] == (2, 2, 3, 1, 0, 2 / 3, 0, None, 80.0)
    assert scores["协管员乙"][9] == 41.7
    assert [r[:2] for r in book["未走访"].iter_rows(min_row=2, values_only=True)] == [
        ("T01-02区 T01-02", 2)]

    pdf = client.get(f"/reports/archive/{row.id}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text = " ".join(_pdf_text(pdf.data, tmp_path).split())
    for shown in ("旬报", "2016年10月中旬", "信息录入更新率 ≥ 90.0% 87.5% 否",
                  "准确率 ≥ 100.0% 62.5% 否", "T02区 T02 3 3 66.7% 3 3 100.0% 3 33.3% 2 1 1",
                  "2016年10月上旬 4 6 0 0 60.0% 75.0% 33.3%", "B2、B3", "协管员甲 2 2 3 1 0 66.7%",
                  "80.0", "41.7", "考核"):
        assert shown in text, shown
    fonts = subprocess.run(["pdffonts", str(tmp_path / "report.pdf")], capture_output=True,
                           text=True, check=True).stdout
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk and all(" yes yes " in line for line in cjk)  # embedded, subset
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "report.pdf"), str(tmp_path / "page1")], check=True)
    from PIL import Image

    with Image.open(tmp_path / "page1.png") as image:
        assert image.width > image.height  # A4 landscape
        assert len(image.convert("L").getcolors(maxcolors=1 << 16) or ()) > 8  # not blank
    shutil.copy(tmp_path / "page1.png", ARTIFACTS / "report-xun-pdf-page1.png")


def test_the_weekly_report_of_a_village_by_hand(plan):
    """W41 (10-10 … 10-16) for T01: s5 departure, s6 A3 confirming p8, s7 B1 with p6; W40
    (10-03 … 10-09): s2 at A2."""
    report = meeting.build(None, "week", periods.parse("2016-W41"),
                           meeting.area_for(None, "T01", "week"))
    now, before, so_far = report.now, report.before, report.to_date
    assert (now.buildings_visited, now.households_registered, now.households_updated,
            now.persons_registered, now.persons_updated, now.persons_departed) == (
        2, 1, 1, 1, 1, 1)
    assert (now.reviewed, now.approved) == (3, 2)
    assert (before.buildings_visited, before.persons_registered, before.accuracy) == (1, 1, 1.0)
    assert (so_far.visited, so_far.complete, so_far.on_register, so_far.confirmed) == (4, 4, 5, 4)
    assert (so_far.update_rate, so_far.accuracy) == (0.8, 0.8)
    assert [t.period.key for t in report.trend] == ["2016-W39", "2016-W40", "2016-W41"]
    assert [r.user.username for r in report.assessment] == ["c1"]  # T01's coordinator only
    first = meeting.build(None, "xun", periods.parse("2016-10-1"),
                          meeting.area_for(None, "T", "xun"))
    assert first.suspects == [("C2", "2016-10-06", "协管员乙")]  # s4, 150 m away
    assert first.before is None and [t.period.key for t in first.trend] == ["2016-10-1"]
    assert [(street, n) for street, n, _codes in first.unvisited] == [
        ("T01-01区 T01-01", 1), ("T01-02区 T01-02", 3), ("T02-01区 T02-01", 1)]


def test_an_archived_report_stays_as_it_was_until_regenerated(plan, client):
    _log_in(client)
    form = {"kind": "xun", "area": "T", "period": "2016-10-2"}
    first = client.post("/reports/meeting", data=form).headers["Location"]
    plan.review("s7", "approved")  # P2's accuracy: 2 / 3 → 3 / 3
    assert rows_by(client.get(first).text, "changes", "data-metric")["accuracy"][2] == "66.7%"
    live = client.get("/reports/meeting?kind=xun&area=T&period=2016-10-2").text
    assert rows_by(live, "changes", "data-metric")["accuracy"][2] == "100.0%"
    again = client.post("/reports/meeting", data=form, follow_redirects=True).text
    assert "已归档" in again and rows_by(again, "changes", "data-metric")["accuracy"][2] == "66.7%"
    client.post("/reports/meeting", data={**form, "regenerate": "1"})
    assert rows_by(client.get(first).text, "changes", "data-metric")["accuracy"][2] == "100.0%"
    assert db.session.scalar(sa.select(sa.func.count(ArchivedReport.id))) == 1
    actions = db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.action.like("report.%")).order_by(AuditEvent.id)).all()
    assert actions == ["report.generate", "report.regenerate"]
    listed = rows_by(client.get("/reports/meeting").text, "archived", "data-report")
    assert list(listed) == [first.rsplit("/", 1)[1]]


def test_doorstep_reports_build(plan, runner, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(args=["reports", "build", "--period", "2016-10-2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("generated #1  T区 旬报 · 2016年10月中旬")
    assert (out / "report-xun-2016-10-2-T.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "report-xun-2016-10-2-T.xlsx").read_bytes().startswith(b"PK")
    again = runner.invoke(args=["reports", "build", "--period", "2016-10-2"])
    assert again.output.startswith("kept #1")
    weekly = runner.invoke(args=["reports", "build", "--kind", "week", "--period", "2016-W41"])
    assert weekly.exit_code == 0, weekly.output
    assert [line.split()[1] for line in weekly.output.splitlines()] == ["#2", "#3"]
    bad = runner.invoke(args=["reports", "build", "--period", "2016-10-4"])
    assert bad.exit_code == 1 and "is not a period: write 2016-10-1" in bad.output
    early = runner.invoke(args=["reports", "build", "--period", "2016-08-1"])
    assert early.exit_code == 1 and "No round covers T区" in early.output


def test_reports_follow_the_readers_areas(plan, client, make_user):
    make_user("supervisor", username="boss1", areas=["T01"])
    make_user("admin", username="root")
    _log_in(client, "root")
    client.post("/reports/meeting", data={"kind": "xun", "area": "T", "period": "2016-10-2"})
    township = db.session.scalar(sa.select(ArchivedReport.id))
    client.post("/logout")
    _log_in(client, "boss1")
    assert client.get("/reports/meeting?kind=xun&area=T&period=2016-10-2").status_code == 404
    assert client.get(f"/reports/archive/{township}").status_code == 404
    assert client.get(f"/reports/archive/{township}.pdf").status_code == 404
    page = client.get("/reports/meeting?kind=week&period=2016-W41").text  # their village
    assert 'data-area="T01"' in page and "周报" in page
    assert "data-report=" not in page  # the township's archived report is not theirs
    areas = rows_by(client.get("/reports/?kind=xun&period=2016-10-2").text, "metrics-areas",
                    "data-code")
    assert set(areas) == {"T01", "T01-01", "T01-02"}
    assert client.get("/reports/meeting?kind=month").status_code == 400
    assert "不是有效的期间" in client.get("/reports/meeting?kind=xun&period=2016-13-1").text
    client.post("/logout")
    _log_in(client, "c1")
    for url in ("/reports/", "/reports/meeting", f"/reports/archive/{township}"):
        assert client.get(url).status_code == 403


def test_doorstep_reports_build_on_the_commands_own_app(plan, app, tmp_path):
    """`doorstep` gives its commands the app without its web side (create_app(web=False)): the
    report still renders, without the pages' template globals."""
    from server import create_app
    from server.extensions import db

    settings = {k: app.config[k] for k in ("TESTING", "SQLALCHEMY_DATABASE_URI", "SECRET_KEY",
                                           "PROCESS_IN_BACKGROUND")}
    command_app = create_app({**settings, "INSTANCE_PATH": app.instance_path}, web=False)
    assert command_app.blueprints == {}
    with command_app.app_context():
        result = command_app.test_cli_runner().invoke(
            args=["reports", "build", "--period", "2016-10-2", "--out", str(tmp_path / "out")])
        db.engine.dispose()
    assert result.exit_code == 0, result.output
    assert result.output.startswith("generated #1  T区 旬报 · 2016年10月中旬")
    assert (tmp_path / "out" / "report-xun-2016-10-2-T.pdf").read_bytes().startswith(b"%PDF")


def test_report_tables_come_a_page_at_a_time(plan, client, monkeypatch):
    """A city's township has a thousand villages and two thousand coordinators: the metrics
    and assessment pages show them PAGE rows at a time, every other parameter kept."""
    from server.web import reports as report_pages

    monkeypatch.setattr(report_pages, "PAGE", 2)
    _log_in(client)
    url = f"/reports/?round={plan.round.id}&kind=xun&period=2016-10-2"
    first = client.get(url).text
    assert list(rows_by(first, "metrics-areas", "data-code")) == ["T", "T01"]
    assert 'data-pager="page"' in first and "共 3 行" in first
    assert "page=2" in first and "period=2016-10-2" in first
    second = client.get(url + "&page=2").text
    assert list(rows_by(second, "metrics-areas", "data-code")) == ["T02"]
    assert rows_by(client.get(url + "&page=99").text, "metrics-areas", "data-code") == \
        rows_by(second, "metrics-areas", "data-code")  # past the last: the last
    assert client.get(url + "&page=x").status_code == 400
    monkeypatch.setattr(report_pages, "PAGE", 1)
    people = client.get(url + "&cpage=2").text  # by score: c1, then c2
    assert list(rows_by(people, "metrics-coordinators", "data-user")) == ["c2"]
    assert 'data-pager="cpage"' in people
    ranked = client.get("/reports/assessment?kind=xun&period=2016-10-1&sort=name&desc=0")
    assert list(rows_by(ranked.text, "assessment", "data-user")) == ["c2"]  # 乙 before 甲
    then = client.get("/reports/assessment?kind=xun&period=2016-10-1&sort=name&desc=0&page=2")
    assert list(rows_by(then.text, "assessment", "data-user")) == ["c1"]


@pytest.mark.parametrize(("listed", "streets", "suspects", "more", "ranked"), [
    (3, ["T01-01区 T01-01", "T01-02区 T01-02", "T02-01区 T02-01"], ["C2"], [], ["c1", "c2"]),
    (1, ["T01-01区 T01-01"], ["C2"], ["……另有 2 条街路巷（4 栋建筑）见 Excel 工作簿。"],
     ["c1", "……排名居中的另 1 名协管员见 Excel 工作簿和考核页。"]),
    (0, [], [], ["……另有 3 条街路巷（5 栋建筑）见 Excel 工作簿。", "……另有 1 条见 Excel 工作簿。"],
     ["……排名居中的另 2 名协管员见 Excel 工作簿和考核页。"]),
])
def test_a_reports_long_lists_show_their_first_rows_and_the_workbook_all(
        plan, client, monkeypatch, listed, streets, suspects, more, ranked):
    """A city's report would list thousands of streets, suspect visits and coordinators: the
    page and the PDF show LISTED rows of each (the ranking's first and last), say how many
    more, and the workbook holds every one."""
    monkeypatch.setattr(builder, "LISTED", listed)
    _log_in(client)
    page = client.get("/reports/meeting?kind=xun&area=T&period=2016-10-1").text
    found = tables(page)
    assert [c[0] for a, c in found["unvisited"][1:] if a.get("class") != "more"] == streets
    assert [c[0] for a, c in found["suspects"][1:] if a.get("class") != "more"] == suspects
    assert [c[0] for name in ("unvisited", "suspects") for a, c in found.get(name, [])
            if a.get("class") == "more"] == more
    assert [a.get("data-user") or c[0] for a, c in found["assessment"][1:]] == ranked
    assert "尚未走访的建筑: 5" in page.replace("：", ": ")  # the counts stay whole
    assert re.search(r'data-flag="suspect">[^<]*: 1<', page)
    assert "所有建筑均已走访" not in page
    archived = client.post("/reports/meeting", data={"kind": "xun", "area": "T",
                                                      "period": "2016-10-1"})
    book = openpyxl.load_workbook(io.BytesIO(client.get(
        archived.headers["Location"] + ".xlsx").data))
    assert [r[0] for r in book["未走访"].iter_rows(min_row=2, values_only=True)] == [
        "T01-01区 T01-01", "T01-02区 T01-02", "T02-01区 T02-01"]
    assert [r[0] for r in book["存疑走访"].iter_rows(min_row=2, values_only=True)] == ["C2"]
    scores = [r[0] for r in book["考核"].iter_rows(min_row=3, values_only=True) if r[0]]
    assert len(scores) == 2  # every coordinator, whatever the page lists


@pytest.mark.parametrize(("size", "listed", "first", "between", "last"), [
    (5, 5, [0, 1, 2, 3, 4], 0, []),
    (5, 9, [0, 1, 2, 3, 4], 0, []),
    (5, 3, [0, 1], 2, [4]),
    (5, 2, [0], 3, [4]),
    (5, 1, [0], 4, []),
    (5, 0, [], 5, []),
    (0, 4, [], 0, []),
])
def test_a_long_ranking_shows_its_first_and_its_last(size, listed, first, between, last):
    assert builder.ends_of(list(range(size)), listed) == (first, between, last)
