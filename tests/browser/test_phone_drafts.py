"""Drafts survive (issue 12, item 2): every answer is kept on the phone as it is entered; after a
reload or a closed browser the coordinator is offered "继续填写" and gets every answer back
(repeats, geotag), or discards it; a sent draft leaves no trace and is a new submission, never
an edit of another."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import ARTIFACTS, wait_until
from tests.support.household_web_form import PERSONS, fill_household
from tests.support.phone import (
    SMALL,
    WHERE,
    answers,
    expect_sent,
    form_ready,
    households,
    last_submission,
    log_in,
    open_form,
    query,
    stored_drafts,
)

pytestmark = pytest.mark.browser
NAMES = [n for n, _ in PERSONS]


def _wait_for_draft(page: Page, *needles: str, timeout: float = 15) -> dict:
    """The one stored draft once its XML holds every needle (it is saved as it is entered)."""
    deadline = time.monotonic() + timeout
    while True:
        kept = stored_drafts(page)
        if len(kept["drafts"]) == 1 and all(n in kept["drafts"][0]["xml"] for n in needles):
            return kept["drafts"][0]
        assert time.monotonic() < deadline, kept
        page.wait_for_timeout(200)


def _expect_every_answer(page: Page) -> None:
    form_ready(page)
    expect(page.locator(".draft-note.restored")).to_be_visible()
    expect(page.locator(".question-container").filter(
        has=page.locator("label", has_text="姓名")).first.locator("input")).to_have_value(NAMES[0])
    assert answers(page, "单元/房号") == ["2单元301室"]
    assert answers(page, "姓名") == NAMES  # both persons of the repeat
    assert answers(page, "户籍地") == ["四川省成都市"] * 2


def draft_instance(draft: dict) -> str:
    return re.search(r"<instanceID>([^<]+)</instanceID>", draft["xml"]).group(1)


def test_a_draft_with_two_persons_and_a_geotag_survives_a_reload_and_a_closed_browser(
        server, phone_profile):
    srv, passwords = server
    before = last_submission(srv.instance)
    ARTIFACTS.mkdir(exist_ok=True)
    ctx = phone_profile(viewport=SMALL, geolocation=WHERE)
    page = ctx.new_page()
    log_in(page, srv.url, passwords["xieguan01"])
    wait_until(page, "navigator.serviceWorker.controller !== null", timeout=30)
    open_form(page)
    fill_household(page, "夕阳一街", "夕阳彝族乡夕阳一街1号")
    draft = _wait_for_draft(page, *NAMES, "<visit_location>24.60178 102.59635")
    assert draft["kind"] == "new" and "<deprecatedID" not in draft["xml"]
    page.screenshot(path=str(ARTIFACTS / "draft-form.png"))

    # A reload: the form's drafts are offered before a new form starts.
    page.reload()
    expect(page.locator(".offer li.d")).to_have_count(1, timeout=30000)
    expect(page.locator(".offer li.d")).to_contain_text("已登记")  # the outcome, in words
    page.screenshot(path=str(ARTIFACTS / "draft-offer.png"))
    page.get_by_role("link", name="继续填写").click()
    _expect_every_answer(page)
    ctx.close()

    # The browser closed (a dead battery) and opened again: the home screen offers the draft.
    ctx = phone_profile(viewport=SMALL, geolocation=WHERE)
    page = ctx.new_page()
    page.goto(f"{srv.url}/app/")
    page.wait_for_selector("body[data-ready='1']", timeout=60000)
    drafts = page.locator("#drafts li.d")
    expect(drafts).to_have_count(1)
    expect(drafts).to_contain_text("住户及人员登记")
    page.screenshot(path=str(ARTIFACTS / "draft-home.png"))
    drafts.get_by_role("link", name="继续填写").click()
    _expect_every_answer(page)
    assert households(srv.instance, before) == []

    # Sent once, as a new submission; the draft leaves no trace.
    page.get_by_role("button", name="提交").click()
    page.wait_for_url("**/app/#/queue")
    expect_sent(page, 1)
    expect(page.locator("li.q strong")).to_contain_text("已登记")  # not the stored "done"
    page.screenshot(path=str(ARTIFACTS / "draft-sent-queue.png"))
    ((instance_id, deprecated),) = households(srv.instance, before)
    assert deprecated is None  # not an edit of the draft's earlier instanceID
    assert stored_drafts(page) == {"drafts": [], "files": 0}
    deadline = time.monotonic() + 30
    while len(people := query(srv.instance, "SELECT label FROM entities WHERE dataset ="
                                            " 'persons' AND label IN (?, ?)", *NAMES)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert sorted(p for (p,) in people) == sorted(NAMES)  # both, once each
    ((lat, acc),) = query(srv.instance, "SELECT v.lat, v.gps_accuracy FROM visits v JOIN"
                                        " submissions s ON s.id = v.submission_id"
                                        " WHERE s.instance_id = ?", instance_id)
    assert round(lat, 5) == WHERE["latitude"] and acc == 4
    page.get_by_role("link", name="入户通").click()
    expect(page.locator("#drafts")).to_be_hidden()
    ctx.close()


def test_a_discarded_draft_is_gone_and_an_untouched_form_leaves_none(server, phone_profile):
    srv, passwords = server
    ctx = phone_profile(viewport=SMALL, geolocation=WHERE)
    page = ctx.new_page()
    log_in(page, srv.url, passwords["xieguan01"])
    open_form(page)
    page.get_by_role("link", name="入户通").click()  # opened and left: nothing entered
    page.wait_for_timeout(600)
    assert stored_drafts(page)["drafts"] == []
    open_form(page)
    box = page.locator(".question-container").filter(
        has=page.locator("label", has_text="单元/房号"))
    page.locator("label.value-option").filter(has=page.get_by_text("新住户", exact=True)).click()
    box.locator("input").fill("3单元502室")
    _wait_for_draft(page, "3单元502室")
    page.get_by_role("link", name="入户通").click()
    expect(page.locator("#drafts li.d")).to_have_count(1)
    page.once("dialog", lambda d: d.accept())
    page.locator("#drafts").get_by_role("button", name="丢弃").click()
    expect(page.locator("#drafts")).to_be_hidden()
    assert stored_drafts(page) == {"drafts": [], "files": 0}
    open_form(page)  # no offer: the form starts empty
    assert answers(page, "单元/房号") in ([], [""])
    ctx.close()


def test_a_correction_kept_as_a_draft_stays_the_edit_of_the_returned_submission(server, browser):
    srv, passwords = server
    before = last_submission(srv.instance)
    ctx = browser.new_context(viewport=SMALL, geolocation=WHERE, permissions=["geolocation"],
                              locale="zh-CN", is_mobile=True, has_touch=True)
    page = ctx.new_page()
    log_in(page, srv.url, passwords["xieguan01"])
    open_form(page)
    fill_household(page, "夕阳一街", "夕阳彝族乡夕阳一街1号")
    page.get_by_role("button", name="提交").click()
    expect_sent(page, 1)
    ((original, _),) = households(srv.instance, before)
    ((sub_id,),) = query(srv.instance, "SELECT id FROM submissions WHERE instance_id = ?",
                         original)

    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    sup = desk.new_page()
    sup.goto(f"{srv.url}/login?next=/submissions/{sub_id}")
    sup.fill("input[name=username]", "zhuren")
    sup.fill("input[name=password]", passwords["zhuren"])
    sup.click("button[type=submit]")
    form = sup.locator("#review-form")
    form.locator("select[name=review_state]").select_option("rejected")
    form.locator("select[name=reason]").select_option(label="地址不符")
    form.locator("textarea[name=comment]").fill("房号应为2单元302室")
    form.locator("button[type=submit]").click()
    expect(sup.locator("#review-reason")).to_contain_text("地址不符")
    desk.close()

    # The correction begins; what is changed is kept as a draft tagged as a correction.
    page.goto(f"{srv.url}/app/#/returned")
    page.get_by_role("link", name="打开并更正").click()
    form_ready(page)
    unit = page.locator(".question-container").filter(
        has=page.locator("label", has_text="单元/房号")).locator("input")
    unit.fill("2单元302室")
    unit.press("Tab")
    draft = _wait_for_draft(page, "2单元302室")
    assert draft["kind"] == "correction"
    page.reload()
    offered = page.locator(".offer li.d")
    expect(offered).to_have_count(1, timeout=30000)
    expect(offered.locator(".tag")).to_have_text("更正")
    ctx.set_offline(True)  # the draft's answers are on the phone: no network to continue
    offered.get_by_role("link", name="继续填写").click()
    form_ready(page)
    expect(page.locator(".correcting")).to_contain_text("地址不符")
    assert answers(page, "单元/房号") == ["2单元302室"]
    ctx.set_offline(False)
    page.get_by_role("button", name="提交").click()
    page.wait_for_url("**/app/#/queue")
    expect_sent(page, 2)
    # The edit of the returned submission, not of the instanceID the draft had before.
    rows = households(srv.instance, before)
    assert len(rows) == 2 and rows[1][1] == original and rows[1][0] != draft_instance(draft)
    assert stored_drafts(page) == {"drafts": [], "files": 0}
    ctx.close()
