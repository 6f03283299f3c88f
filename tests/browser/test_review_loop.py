"""The review loop end to end in Chromium against a real server (issue 10, item 5): a household
sent from the phone app, rejected on the supervisor's page with a reason, seen on the phone with
that reason, opened, corrected and sent again; the supervisor then sees one corrected
submission beside the original, and the building counts again."""

from __future__ import annotations

import sqlite3
import time

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import ARTIFACTS, PHONE
from tests.support.household_web_form import fill_household
from tests.support.phone import last_submission

pytestmark = pytest.mark.browser
COORDINATOR, SUPERVISOR = "xieguan01", "zhuren"
DESKTOP = {"width": 1280, "height": 900}


def _query(instance, sql: str, *args):
    con = sqlite3.connect(instance / "doorstep.sqlite3")
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _first_unvisited(instance) -> tuple[int, str, dict]:
    """(id, code, a geolocation on it) of the coordinator's first building not yet visited in
    the current round (the demo's visits cover part of the streets)."""
    ((bid, code, lon, lat),) = _query(
        instance,
        "SELECT b.id, b.code, b.lon, b.lat FROM buildings b"
        " JOIN assignments a ON a.area_id = b.street_id JOIN users u ON u.id = a.user_id"
        " WHERE u.username = ? AND b.id NOT IN (SELECT building_id FROM building_coverage"
        " WHERE round_id = (SELECT max(id) FROM rounds)) ORDER BY b.code LIMIT 1", COORDINATOR)
    return bid, code, {"latitude": lat, "longitude": lon, "accuracy": 4}


def _state(instance, building_id: int) -> str:
    rows = _query(instance, "SELECT state FROM building_coverage WHERE building_id = ? AND"
                            " round_id = (SELECT max(id) FROM rounds)", building_id)
    return rows[0][0] if rows else "unvisited"


def _wait_for(what, expected, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while (got := what()) != expected and time.monotonic() < deadline:
        time.sleep(0.3)
    return got


def _households(instance, after: int) -> list[tuple]:
    """The household submissions newer than `after` (the demo registers a few of its own)."""
    return _query(instance, "SELECT s.id, s.instance_id, s.deprecated_id, s.superseded,"
                            " s.review_state, s.processing_state FROM submissions s"
                            " JOIN form_versions v ON v.id = s.form_version_id JOIN forms f"
                            " ON f.id = v.form_id WHERE f.xml_form_id = 'household'"
                            " AND s.id > ? ORDER BY s.id", after)


def _log_in(page: Page, url: str, username: str, password: str, next_url: str) -> None:
    page.goto(f"{url}/login?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def _phone(browser, where: dict):
    ctx = browser.new_context(viewport=PHONE, geolocation=where, permissions=["geolocation"],
                              locale="zh-CN", is_mobile=True, has_touch=True)
    return ctx, ctx.new_page()


def _unit_box(page: Page):
    container = page.locator(".question-container").filter(
        has=page.locator("label", has_text="单元/房号")).first
    return container.locator("input, textarea").first


def test_rejected_with_a_reason_corrected_on_the_phone_and_counted_again(server, browser):
    srv, passwords = server
    building_id, code, there = _first_unvisited(srv.instance)
    before = last_submission(srv.instance)
    ((audited,),) = _query(srv.instance, "SELECT coalesce(max(id), 0) FROM audit_events")
    ARTIFACTS.mkdir(exist_ok=True)

    # The coordinator registers a household in that building from the phone app.
    ctx, phone = _phone(browser, there)
    _log_in(phone, srv.url, COORDINATOR, passwords[COORDINATOR], "/app/")
    phone.wait_for_selector("body[data-ready='1']", timeout=60000)
    expect(phone.locator("#returned-count")).to_have_text("0")
    phone.get_by_role("link", name="我的街巷").click()
    expect(phone.locator(".gps.good")).to_be_visible()
    phone.get_by_role("button", name="最近的未走访建筑").click()
    expect(phone.locator(".pick")).to_contain_text(code)
    phone.locator(".pick").get_by_role("link", name="住户及人员登记").click()
    phone.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)
    fill_household(phone, None, None)
    phone.get_by_role("button", name="提交").click()
    expect(phone.locator("li.q[data-state=sent]")).to_have_count(1, timeout=30000)
    assert _wait_for(lambda: _state(srv.instance, building_id) != "unvisited", True)
    ((original_id, original_iid, *_),) = _households(srv.instance, before)

    # The supervisor rejects it on its page, with a reason and a comment.
    desk = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    sup = desk.new_page()
    _log_in(sup, srv.url, SUPERVISOR, passwords[SUPERVISOR], f"/submissions/{original_id}")
    form = sup.locator("#review-form")
    form.locator("select[name=review_state]").select_option("rejected")
    form.locator("button[type=submit]").click()  # no reason: refused, nothing changes
    expect(sup.locator(".flash.error, .flash")).to_contain_text("退回上报记录必须选择原因")
    form.locator("select[name=review_state]").select_option("rejected")
    form.locator("select[name=reason]").select_option(label="地址不符")
    form.locator("textarea[name=comment]").fill("房号应为2单元302室")
    form.locator("button[type=submit]").click()
    expect(sup.locator("#review-reason")).to_contain_text("已退回: 地址不符")
    expect(sup.locator("#review-reason")).to_contain_text("房号应为2单元302室")
    sup.screenshot(path=str(ARTIFACTS / "review-rejected.png"), full_page=True)
    assert _state(srv.instance, building_id) == "unvisited"  # a rejected visit does not count

    # The coordinator sees it returned, with the reason, opens it and corrects the unit.
    phone.goto(f"{srv.url}/app/#/")
    expect(phone.locator("#returned-count")).to_have_text("1", timeout=15000)
    phone.get_by_role("link", name="退回的提交").click()
    item = phone.locator("li.r")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("已退回")
    expect(item.locator(".reason-label")).to_have_text("地址不符")
    expect(item).to_contain_text("房号应为2单元302室")
    expect(item).to_contain_text(code)
    phone.screenshot(path=str(ARTIFACTS / "review-returned-list.png"), full_page=True)
    item.get_by_role("link", name="打开并更正").click()
    phone.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)
    expect(phone.locator(".correcting")).to_contain_text("地址不符")
    unit = _unit_box(phone)
    expect(unit).to_have_value("2单元301室")  # the original's answers, loaded for editing
    unit.fill("2单元302室")
    unit.press("Tab")
    phone.screenshot(path=str(ARTIFACTS / "review-correcting.png"), full_page=True)
    phone.get_by_role("button", name="提交").click()
    phone.wait_for_url("**/app/#/queue")
    expect(phone.locator("li.q[data-state=sent]")).to_have_count(2, timeout=30000)

    # One corrected submission: the edit replaced the original, starts as received, counts.
    def settled():
        rows = _households(srv.instance, before)
        return [(r[2], r[3], r[4], r[5]) for r in rows]

    assert _wait_for(settled, [(None, 1, "rejected", "done"),
                               (original_iid, 0, "received", "done")]) == [
        (None, 1, "rejected", "done"), (original_iid, 0, "received", "done")]
    assert _wait_for(lambda: _state(srv.instance, building_id) != "unvisited", True)
    correction_id = _households(srv.instance, before)[1][0]
    phone.goto(f"{srv.url}/app/#/returned")
    expect(phone.locator("ul.returned")).to_contain_text("没有退回的提交")

    # The supervisor: one line for the household (the correction), linked to the original,
    # the changed answer shown.
    sup.goto(f"{srv.url}/submissions/?form=household")
    # (the demo's own households are listed too: only the correction stands for this one)
    rows = sup.locator(f"tbody tr:has(a[href='/submissions/{correction_id}'])")
    expect(rows).to_have_count(1)
    expect(sup.locator(f"tbody a[href='/submissions/{original_id}']")).to_have_count(0)
    expect(rows.first).to_contain_text("已接收")
    expect(rows.first.locator(".correction")).to_have_text("(更正)")
    rows.first.locator("a").first.click()
    expect(sup).to_have_url(f"{srv.url}/submissions/{correction_id}")
    expect(sup.locator("#correction-of")).to_contain_text("已退回: 地址不符")
    unit_row = sup.locator("#changes tr").filter(has=sup.get_by_role("rowheader",
                                                                     name="unit_label"))
    expect(unit_row.locator("td")).to_have_text(["2单元301室", "2单元302室"])
    sup.screenshot(path=str(ARTIFACTS / "review-correction.png"), full_page=True)
    sup.locator("#correction-of a").click()
    expect(sup.locator("#replaced-by a")).to_have_attribute("href",
                                                            f"/submissions/{correction_id}")
    # Every step is in the audit log.
    actions = [a for (a,) in _query(srv.instance, "SELECT action FROM audit_events WHERE action"
                                                  " LIKE 'submission.%' AND id > ? ORDER BY id",
                                    audited)]
    assert [a for a in actions if a != "submission.view_personal"] == [
        "submission.review", "submission.returned_open", "submission.correction"]
    ctx.close()
    desk.close()
