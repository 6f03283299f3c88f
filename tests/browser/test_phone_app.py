"""The phone app end to end: a household entered with no network reaches the register once."""

from __future__ import annotations

import sqlite3
import time

import pytest
from playwright.sync_api import Page, expect

from gis.states import BY_KEY, TABLE
from tests.support.browser import ARTIFACTS, PHONE, wait_until
from tests.support.household_web_form import PERSONS, fill_household
from tests.support.phone import last_submission

pytestmark = pytest.mark.browser
#: The smallest phone the project supports (issue 12: every page fits 360 × 740).
SMALL_PHONE = {"width": 360, "height": 740}
# Beside the demo township's first building (XY01-01-001, 夕阳一街1号).
WHERE = {"latitude": 24.60178, "longitude": 102.59635, "accuracy": 4}


def rgb(key: str) -> str:
    return "rgb({}, {}, {})".format(*BY_KEY[key].rgb)


def phone(browser, viewport: dict[str, int] = PHONE):
    ctx = browser.new_context(
        viewport=viewport,
        geolocation=WHERE,
        permissions=["geolocation"],
        locale="zh-CN",
        is_mobile=True,
        has_touch=True,
    )
    return ctx, ctx.new_page()


def log_in(page: Page, url: str, passwords: dict[str, str]) -> None:
    page.goto(f"{url}/login?next=/app/")
    page.fill("input[name=username]", "xieguan01")
    page.fill("input[name=password]", passwords["xieguan01"])
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", timeout=60000)
    # The service worker must control the page before the network goes away.
    wait_until(page, "navigator.serviceWorker.controller !== null", timeout=30)
    expect(page.get_by_role("link", name="住户及人员登记")).to_be_visible()


def open_household(page: Page) -> None:
    page.get_by_role("link", name="住户及人员登记").click()
    page.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)


def fill_and_send(page: Page, shot: str) -> None:
    fill_household(page, "夕阳一街", "夕阳彝族乡夕阳一街1号")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}-form.png"))
    page.get_by_role("button", name="提交").click()
    page.wait_for_url("**/app/#/queue")
    expect(page.locator("li.q[data-state=waiting]")).to_have_count(1)
    # a waiting item wears the map's 'queued' colour (a CSS variable set from the shell's table)
    waiting = page.locator("li.q[data-state=waiting]")
    expect(waiting).to_have_css("border-left-color", rgb("queued"))


def register(instance, before: int) -> tuple[int, list[str]]:
    """(submissions sent from phones since `before`, the test's persons in the register): the
    demo's own visits and households are left out."""
    con = sqlite3.connect(instance / "doorstep.sqlite3")
    try:
        subs = con.execute(
            "SELECT count(*) FROM submissions s JOIN form_versions v ON v.id = s.form_version_id"
            " JOIN forms f ON f.id = v.form_id WHERE f.xml_form_id != 'demo_visit'"
            " AND s.id > ?", (before,)
        ).fetchone()[0]
        people = [
            r[0]
            for r in con.execute(
                "SELECT label FROM entities WHERE dataset = 'persons' AND label IN (?, ?)"
                " ORDER BY label", [n for n, _ in PERSONS]
            )
        ]
    finally:
        con.close()
    return subs, people


def wait_for_register(instance, before: int, timeout: float = 30) -> tuple[int, list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        subs, people = register(instance, before)
        if len(people) >= len(PERSONS) or time.monotonic() > deadline:
            return subs, people
        time.sleep(0.3)


def test_household_entered_offline_is_sent_once_when_back_online(server, browser):
    srv, passwords = server
    before = last_submission(srv.instance)  # the demo's households are there already
    ctx, page = phone(browser, SMALL_PHONE)  # the form and queue screenshots at 360 × 740
    log_in(page, srv.url, passwords)
    open_household(page)
    ctx.set_offline(True)
    fill_and_send(page, "offline")
    page.reload()  # still offline: the shell comes from the service worker, the queue from IDB
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    expect(page.locator("li.q[data-state=waiting]")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "offline-queue.png"))
    assert register(srv.instance, before) == (0, [])
    ctx.set_offline(False)  # the `online` event sends the queue
    expect(page.locator("li.q[data-state=sent]")).to_have_count(1, timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "offline-queue-sent.png"))
    assert wait_for_register(srv.instance, before) == (1, sorted(n for n, _ in PERSONS))
    ctx.close()


def test_household_entered_while_server_down_is_sent_once_it_returns(server, browser):
    srv, passwords = server
    before = last_submission(srv.instance)
    ctx, page = phone(browser)
    log_in(page, srv.url, passwords)
    open_household(page)
    srv.stop()
    fill_and_send(page, "server-down")
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    expect(page.locator("li.q[data-state=waiting]")).to_have_count(1)
    expect(page.locator("li.q .reason")).to_have_count(1, timeout=15000)  # the failed try shows
    page.screenshot(path=str(ARTIFACTS / "server-down-queue.png"))
    srv.start()
    page.get_by_role("button", name="立即发送").click()
    expect(page.locator("li.q[data-state=sent]")).to_have_count(1, timeout=30000)
    assert wait_for_register(srv.instance, before) == (1, sorted(n for n, _ in PERSONS))
    # Sending again is harmless: the server answers the same instanceID idempotently.
    page.get_by_role("button", name="立即发送").click()
    assert register(srv.instance, before)[0] == 1
    ctx.close()


def first_unvisited(instance) -> tuple[str, str, dict]:
    """(code, address, a geolocation on it) of xieguan01's first building still unvisited in the
    current round (the demo's visits cover part of the streets)."""
    con = sqlite3.connect(instance / "doorstep.sqlite3")
    try:
        code, address, lon, lat = con.execute(
            "SELECT b.code, b.address, b.lon, b.lat FROM buildings b"
            " JOIN assignments a ON a.area_id = b.street_id JOIN users u ON u.id = a.user_id"
            " WHERE u.username = 'xieguan01' AND b.id NOT IN (SELECT building_id FROM"
            " building_coverage WHERE round_id = (SELECT max(id) FROM rounds)) ORDER BY b.code"
        ).fetchone()
    finally:
        con.close()
    return code, address, {"latitude": lat, "longitude": lon, "accuracy": 4}


def test_my_streets_map_starts_the_household_form_with_the_nearest_building_chosen(server, browser):
    srv, passwords = server
    code, address, there = first_unvisited(srv.instance)
    ctx, page = phone(browser)
    ctx.set_geolocation(there)
    log_in(page, srv.url, passwords)
    page.get_by_role("link", name="我的街巷").click()
    expect(page.locator("#mapinfo")).to_contain_text("状态更新于")
    expect(page.locator(".gps.good")).to_be_visible()
    legend = page.evaluate("""() => [...document.querySelectorAll('.legend .sw')].map((e) =>
      [e.dataset.state, getComputedStyle(e).backgroundColor, e.nextSibling.textContent.trim()])""")
    assert legend == [[s.key, rgb(s.key), s.zh] for s in TABLE]  # gis/states.py, via the shell
    page.get_by_role("button", name="最近的未走访建筑").click()
    expect(page.locator(".pick")).to_contain_text(code)
    expect(page.locator(".pick")).to_contain_text(BY_KEY["unvisited"].zh)
    page.wait_for_timeout(500)  # the map's zoom animation
    page.screenshot(path=str(ARTIFACTS / "map.png"))
    page.locator(".pick").get_by_role("link", name="住户及人员登记").click()
    page.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)
    expect(page.locator(".chosen")).to_contain_text(code)
    building = page.locator(".question-container", has=page.get_by_text("建筑物", exact=True))
    expect(building.locator(".p-select-label")).to_have_text(address)
    page.screenshot(path=str(ARTIFACTS / "map-form-preselected.png"))
    # Offline, the map still opens from the last synced states.
    ctx.set_offline(True)
    page.goto(f"{srv.url}/app/#/map")
    expect(page.locator("#mapinfo")).to_contain_text("状态更新于")
    ctx.close()


def test_poor_gps_accuracy_is_flagged(server, browser):
    srv, passwords = server
    ctx, page = phone(browser)
    ctx.set_geolocation({**WHERE, "accuracy": 60})
    log_in(page, srv.url, passwords)
    open_household(page)
    expect(page.locator(".gps.poor")).to_contain_text("±60 米")
    page.screenshot(path=str(ARTIFACTS / "gps-poor.png"))
    ctx.close()


def test_engine_buttons_follow_the_language(server, browser):
    """Web Forms 0.22 draws its own buttons in English; the app shows them in Chinese by default
    and leaves them English for English users."""
    srv, passwords = server
    ctx, page = phone(browser)
    log_in(page, srv.url, passwords)
    open_household(page)
    expect(page.get_by_role("button", name="获取位置")).to_be_visible()
    expect(page.get_by_role("button", name="提交")).to_be_visible()
    assert page.get_by_role("button", name="Get location").count() == 0
    ctx.close()

    ctx, page = phone(browser)
    page.goto(f"{srv.url}/login?lang=en")
    log_in(page, srv.url, passwords)
    open_household(page)
    expect(page.get_by_role("button", name="Get location")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    ctx.close()

