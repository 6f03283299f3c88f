"""The phone app end to end: a household entered with no network reaches the register once."""

from __future__ import annotations

import sqlite3
import time

import pytest
from household import PERSONS, fill_household
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, PHONE

pytestmark = pytest.mark.browser
WHERE = {"latitude": 26.0, "longitude": 101.0, "accuracy": 4}


def phone(browser):
    ctx = browser.new_context(
        viewport=PHONE,
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
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30000)
    expect(page.get_by_role("link", name="住户及人员登记")).to_be_visible()


def open_household(page: Page) -> None:
    page.get_by_role("link", name="住户及人员登记").click()
    page.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)


def fill_and_send(page: Page, shot: str) -> None:
    fill_household(page, "夕阳一街", "夕阳彝族乡夕阳一街1号")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}-form.png"))
    page.get_by_role("button", name="Send").click()
    page.wait_for_url("**/app/#/queue")
    expect(page.locator("li.q[data-state=waiting]")).to_have_count(1)


def register(instance) -> tuple[int, list[str]]:
    con = sqlite3.connect(instance / "doorstep.sqlite3")
    try:
        subs = con.execute("SELECT count(*) FROM submissions").fetchone()[0]
        people = [
            r[0]
            for r in con.execute(
                "SELECT label FROM entities WHERE dataset = 'persons' ORDER BY label"
            )
        ]
    finally:
        con.close()
    return subs, people


def wait_for_register(instance, timeout: float = 30) -> tuple[int, list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        subs, people = register(instance)
        if len(people) >= len(PERSONS) or time.monotonic() > deadline:
            return subs, people
        time.sleep(0.3)


def test_household_entered_offline_is_sent_once_when_back_online(server, browser):
    srv, passwords = server
    ctx, page = phone(browser)
    log_in(page, srv.url, passwords)
    open_household(page)
    ctx.set_offline(True)
    fill_and_send(page, "offline")
    page.reload()  # still offline: the shell comes from the service worker, the queue from IDB
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    expect(page.locator("li.q[data-state=waiting]")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "offline-queue.png"))
    assert register(srv.instance) == (0, [])
    ctx.set_offline(False)  # the `online` event sends the queue
    expect(page.locator("li.q[data-state=sent]")).to_have_count(1, timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "offline-queue-sent.png"))
    assert wait_for_register(srv.instance) == (1, sorted(n for n, _ in PERSONS))
    ctx.close()


def test_household_entered_while_server_down_is_sent_once_it_returns(server, browser):
    srv, passwords = server
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
    assert wait_for_register(srv.instance) == (1, sorted(n for n, _ in PERSONS))
    # Sending again is harmless: the server answers the same instanceID idempotently.
    page.get_by_role("button", name="立即发送").click()
    assert register(srv.instance)[0] == 1
    ctx.close()
