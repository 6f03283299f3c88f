"""Rounds in Chromium against a real server: planned on the page from an empty database, a
coordinator's submission on the supervisor's map, statistics and walk list within seconds,
moved outside every round and back by editing the round's dates; the demo's current round on
the map; the phone map's round picker."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.support.browser import ARTIFACTS, PAINTED, PHONE, wait_until
from tests.support.coverage_scenario import instance_xml
from tests.support.liveserver import post

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 860}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _township(instance) -> dict:
    """Areas, nine buildings, a supervisor over the township, a coordinator on T01-01, the
    township's forms: nothing else (no round, no visit)."""
    import sqlalchemy as sa

    from server import create_app
    from server.extensions import db
    from server.models import Building, Form, FormVersion
    from server.services import device_links, users
    from server.services.forms import lifecycle
    from tests.support.rounds import build_township

    app = create_app({"INSTANCE_PATH": str(instance)})
    with app.app_context():
        build_township()
        users.create_user("zhuren", "supervisor", area_codes=["T"], password=PASSWORD)
        coordinator, _ = users.create_user("xieguan", "coordinator", area_codes=["T01-01"],
                                           password=PASSWORD)
        lifecycle.publish_township()
        token = device_links.create(coordinator, device_links.COLLECT)
        db.session.commit()
        version = db.session.scalar(
            sa.select(FormVersion.version).join(Form).where(Form.xml_form_id == "household",
                                                            FormVersion.state == "published"))
        b = db.session.scalar(sa.select(Building).where(Building.code == "A1"))
        out = {"token": token, "version": version, "lon": b.lon,
               "lat": b.lat}
        db.session.remove()
        db.engine.dispose()
    return out


def _log_in(page: Page, url: str, username: str, next_url: str) -> None:
    page.goto(f"{url}/login?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def _wait_until_derived(page: Page) -> None:
    """The round page polls its job and reloads when it is done."""
    expect(page.locator("#round-job[data-state=done]")).to_be_visible(timeout=30000)


def _set_dates(page: Page, first: str, last: str) -> None:
    page.fill("form.round-form input[name=starts_on]", first)
    page.fill("form.round-form input[name=ends_on]", last)
    page.locator("form.round-form button[type=submit]").click()
    _wait_until_derived(page)


def _visited(page: Page, url: str) -> int:
    """Buildings the map counts as visited or complete."""
    page.goto(url)
    return sum(int(page.locator(f"#coverage-legend [data-count={state}]").inner_text())
               for state in ("visited", "complete"))


def test_a_round_made_on_the_page_counts_a_visit_sent_now(empty_server, browser) -> None:
    srv = empty_server
    setup = _township(srv.instance)
    srv.start()
    today = datetime.now(SHANGHAI).date()
    ctx = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        _log_in(page, srv.url, "zhuren", "/rounds/")
        expect(page.get_by_text("尚无轮次")).to_be_visible()
        page.fill("input[name=name]", "本月走访")
        page.fill("input[name=starts_on]", (today - timedelta(days=3)).isoformat())
        page.fill("input[name=ends_on]", (today + timedelta(days=10)).isoformat())
        page.locator("input[name=areas][value=T]").check()  # the township
        page.get_by_role("button", name="创建轮次").click()
        page.wait_for_url("**/rounds/1")
        _wait_until_derived(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "round-page-phone.png"), full_page=True)
        round_page = page.url

        # The coordinator sends a household for A1 (its one unit: complete) through the
        # phone's OpenRosa URL, as the phone app or ODK Collect would.
        now = datetime.now(SHANGHAI).replace(microsecond=0)
        xml = instance_xml("household", setup["version"], f"uuid:{uuid.uuid4()}",
                           building="A1", location=(setup["lon"], setup["lat"], 5.0),
                           start=now.isoformat())
        sent = time.monotonic()
        with requests.Session() as s:
            assert post(s, f"{srv.url}/o/{setup['token']}", xml).status_code == 201
        map_url = f"{srv.url}/coverage/"
        while _visited(page, map_url) < 1:
            assert time.monotonic() - sent < 10, "the map did not show the visit within 10 s"
            page.wait_for_timeout(300)
        seconds = time.monotonic() - sent
        assert seconds < 10
        page.goto(f"{srv.url}/coverage/stats")
        row = page.locator("#stats-areas tr[data-area='T01-01'] td")
        expect(row.nth(3)).to_have_text("1")  # the "complete" column
        page.goto(f"{srv.url}/coverage/walklist?street=T01-01")
        expect(page.locator("tr[data-code]")).to_have_count(2)  # A2, A3 left to visit
        page.goto(f"{srv.url}/coverage/walklist?street=T01-01&all=1")
        expect(page.locator("tr[data-code=A1]")).to_contain_text("已完成")
        expect(page.locator("#outside-rounds")).to_have_count(0)

        # The round moved to start tomorrow: the visit falls outside every round.
        page.goto(round_page)
        _set_dates(page, (today + timedelta(days=1)).isoformat(),
                   (today + timedelta(days=10)).isoformat())
        assert _visited(page, map_url) == 0
        notice = page.locator("#outside-rounds")
        expect(notice).to_contain_text("有 1 条走访不在任何轮次内")
        page.screenshot(path=str(ARTIFACTS / "round-outside-notice-phone.png"), full_page=True)
        page.goto(f"{srv.url}/coverage/stats")
        expect(page.locator("#outside-rounds")).to_be_visible()

        # Back: the visit counts again and the notice goes.
        page.goto(round_page)
        _set_dates(page, (today - timedelta(days=3)).isoformat(),
                   (today + timedelta(days=10)).isoformat())
        assert _visited(page, map_url) == 1
        expect(page.locator("#outside-rounds")).to_have_count(0)
        assert not errors, errors
        print(f"visit on the map {seconds:.1f} s after it was sent")
    finally:
        ctx.close()


def _demo_log_in(page: Page, url: str, user: str, passwords: dict, next_url: str) -> None:
    page.goto(f"{url}/login?next={next_url}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", passwords[user])
    page.click("button[type=submit]")



@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_demo_map_shows_the_current_round_partly_covered(server, browser, viewport):
    srv, passwords = server
    ctx = browser.new_context(viewport=viewport, locale="zh-CN")
    page = ctx.new_page()
    try:
        _demo_log_in(page, srv.url, "zhuren", passwords, "/coverage/")
        page.wait_for_url("**/coverage/")
        chosen = page.locator("select[name=round] option:checked")
        expect(chosen).to_contain_text("第2轮")
        expect(chosen).to_contain_text("进行中")
        total = int(page.locator("#coverage-legend [data-count=total]").inner_text())
        unvisited = int(page.locator("#coverage-legend [data-count=unvisited]").inner_text())
        assert total == 60 and 0 < unvisited < total
        for state in ("suspect", "revisit", "complete"):
            assert int(page.locator(f"#coverage-legend [data-count={state}]").inner_text()) >= 0
        wait_until(page, f"() => ({PAINTED})() > 0", timeout=30)
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(exist_ok=True)
        name = "desktop" if viewport is DESKTOP else "phone"
        page.screenshot(path=str(ARTIFACTS / f"demo-current-round-{name}.png"), full_page=True)
        # the last round, picked instead: more covered
        page.select_option("select[name=round]", label=page.locator(
            "select[name=round] option", has_text="第1轮").inner_text())
        expect(page.locator("#coverage-legend [data-count=unvisited]")).not_to_have_text(
            str(unvisited), timeout=10000)
        assert int(page.locator("#coverage-legend [data-count=unvisited]").inner_text()) < \
            unvisited
    finally:
        ctx.close()


def test_the_phone_map_shows_the_current_round_and_picks_another(server, browser):
    srv, passwords = server
    ctx = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = ctx.new_page()
    try:
        _demo_log_in(page, srv.url, "xieguan01", passwords, "/app/")
        page.wait_for_selector("body[data-ready='1']", timeout=60000)
        page.goto(f"{srv.url}/app/#/map")
        picker = page.locator("select#round")
        expect(picker.locator("option:checked")).to_contain_text("本轮", timeout=30000)
        expect(picker.locator("option:checked")).to_contain_text("第2轮")
        now = page.evaluate("async () => (await (await fetch("
                            "'/api/v1/coverage/buildings.geojson?mine=1')).json()).round")
        last = picker.locator("option", has_text="第1轮").get_attribute("value")
        picker.select_option(last)
        expect(page).to_have_url(re.compile(rf"/app/#/map\?round={last}$"))
        expect(page.locator("select#round option:checked")).to_contain_text("第1轮")
        expect(page.locator("#mapinfo")).to_contain_text("状态更新于")
        assert str(now) != last
        page.screenshot(path=str(ARTIFACTS / "phone-map-last-round.png"))
    finally:
        ctx.close()
