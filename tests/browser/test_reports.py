"""The ten-day report and the plan's metrics in Chromium at a 360 px phone: the hand-worked
township (tests/support/reports.py) on a real server, nothing wider than the screen, no CSP
violation, a report generated and archived from the page; screenshots in test-artifacts/."""

from __future__ import annotations

import pytest

from server.extensions import db
from server.services import users
from tests.support.app import PASSWORD, make_app
from tests.support.browser import ARTIFACTS
from tests.support.reports import Scenario

pytestmark = pytest.mark.browser
PHONE_360 = {"width": 360, "height": 780}
WIDTH = "() => document.documentElement.scrollWidth"


def _scenario(instance) -> None:
    app = make_app(instance.parent,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance / 'doorstep.sqlite3'}")
    with app.app_context():

        def make_user(role, username=None, areas=()):
            user, _ = users.create_user(username, role, area_codes=list(areas),
                                        password=PASSWORD)
            db.session.commit()
            return user

        Scenario(make_user).run()
        db.session.remove()
        db.engine.dispose()


def test_the_ten_day_report_on_a_phone(empty_server, browser):
    srv = empty_server
    _scenario(srv.instance)
    srv.start()
    context = browser.new_context(viewport=PHONE_360, locale="zh-CN")
    page = context.new_page()
    violations = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.goto(f"{srv.url}/login?next=/reports/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/reports/")

    page.goto(f"{srv.url}/reports/meeting?kind=xun&area=T&period=2016-10-2")
    assert page.inner_text('#progress tr[data-metric="update_rate"] td.value') == "87.5%"
    assert page.locator(".report-map img").evaluate("img => img.naturalWidth") > 0
    assert page.evaluate(WIDTH) <= PHONE_360["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-xun-360.png"), full_page=True)

    page.click("#generate button")  # generate and archive
    page.wait_for_url("**/reports/archive/*")
    assert "报告已生成并归档" in page.inner_text("main")
    assert page.inner_text('#changes tr[data-metric="accuracy"] td.value') == "66.7%"
    assert page.evaluate(WIDTH) <= PHONE_360["width"]
    with page.expect_download() as download:
        page.click("p.report-actions a:text('PDF')")
    assert download.value.suggested_filename == "report-xun-2016-10-2-T.pdf"

    page.goto(f"{srv.url}/reports/?kind=xun&period=2016-10-2")
    assert page.inner_text('#metrics-areas tr[data-code="T"] td[data-metric="update_rate"]') \
        == "87.5%"
    assert page.evaluate(WIDTH) <= PHONE_360["width"]
    page.screenshot(path=str(ARTIFACTS / "report-metrics-360.png"), full_page=True)
    page.goto(f"{srv.url}/reports/assessment?kind=xun&period=2016-10-1&sort=name&desc=0")
    assert page.locator("#assessment tbody tr").count() == 2
    assert page.evaluate(WIDTH) <= PHONE_360["width"]
    assert violations == []
