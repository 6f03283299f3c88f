"""The form engine on the phone, in Chinese and with the app's one accuracy limit (issue 12,
items 3 and 4): Web Forms' image chooser, location dialog, validation and date picker speak
Chinese (dates YYYY-MM-DD); its location dialog gives the app's verdict against the same limit
as the app's banner; a poor point is saved only after a confirmation, and the visit is marked."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.support.browser import ARTIFACTS
from tests.support.household_web_form import fill_household
from tests.support.phone import (
    SMALL,
    WHERE,
    expect_sent,
    form_ready,
    last_submission,
    log_in,
    open_form,
    query,
)

pytestmark = pytest.mark.browser
# Latin-letter words a Chinese user may see on the form: building codes (XY01-01-001), the
# engine's version under ODK's logo.
ALLOWED = re.compile(r"^(XY|ODK|v)$")


def _phone(browser, accuracy: float):
    ctx = browser.new_context(viewport=SMALL, locale="zh-CN", is_mobile=True, has_touch=True,
                              geolocation={**WHERE, "accuracy": accuracy},
                              permissions=["geolocation"])
    return ctx, ctx.new_page()


def _latin_words(page) -> list[str]:
    text = page.evaluate("() => document.body.innerText")
    return sorted({w for w in re.findall(r"[A-Za-z]{2,}", text) if not ALLOWED.match(w)})


def test_a_poor_point_is_saved_only_when_confirmed_and_the_visit_is_marked(server, browser):
    srv, passwords = server
    before = last_submission(srv.instance)
    ARTIFACTS.mkdir(exist_ok=True)
    ctx, page = _phone(browser, 60)
    log_in(page, srv.url, passwords["xieguan01"])
    open_form(page)
    expect(page.locator(".gps.poor")).to_contain_text("±60 米，较差（超过 25 米）")
    page.get_by_role("button", name="获取位置").click()
    dialog = page.locator(".geo-dialog")
    expect(dialog.locator(".geo-quality")).to_have_text("±60 米：精度差，超过 25 米")
    expect(dialog).to_contain_text("正在定位")
    page.screenshot(path=str(ARTIFACTS / "gps-dialog-poor.png"))
    asked: list[str] = []

    def answer(d, accept: bool):
        asked.append(d.message)
        d.accept() if accept else d.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    dialog.get_by_role("button", name="保存位置").click()
    assert "±60 米" in asked[0] and "超过 25 米" in asked[0] and "定位精度差" in asked[0]
    expect(dialog).to_have_count(1)  # refused: not saved, the dialog stays
    dialog.get_by_role("button", name="取消").click()
    expect(page.get_by_role("button", name="获取位置")).to_be_visible()

    page.on("dialog", lambda d: answer(d, True))
    fill_household(page, "夕阳一街", "夕阳彝族乡夕阳一街1号")
    assert len(asked) == 2
    expect(page.locator(".geopoint-value-container .geo-quality")).to_have_text(
        "精度差：超过 25 米")
    expect(page.locator(".geopoint-value-container")).to_contain_text("精度 ±60 米")
    page.get_by_role("button", name="提交").click()
    page.wait_for_url("**/app/#/queue")
    expect_sent(page, 1)
    expect(page.locator("li.q .poor-gps")).to_have_text("定位精度差：±60 米（限 25 米）")
    page.screenshot(path=str(ARTIFACTS / "queue-poor-gps.png"))
    deadline = time.monotonic() + 30
    while not (visits := query(srv.instance, "SELECT v.gps_accuracy, v.flags FROM visits v"
                                             " JOIN submissions s ON s.id = v.submission_id"
                                             " JOIN form_versions fv ON fv.id = s.form_version_id"
                                             " JOIN forms f ON f.id = fv.form_id"
                                             " WHERE f.xml_form_id = 'household'"
                                             " AND s.id > ?", before)):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    ((accuracy, flags),) = visits
    assert accuracy == 60 and "poor_accuracy" in flags
    ctx.close()


def test_a_good_point_is_judged_the_same_by_the_dialog_and_the_banner(server, browser):
    srv, passwords = server
    ctx, page = _phone(browser, 15)
    log_in(page, srv.url, passwords["xieguan01"])
    open_form(page)
    expect(page.locator(".gps.good")).to_have_text("定位精度 ±15 米")
    page.on("dialog", lambda d: pytest.fail(f"asked for a good point: {d.message}"))
    page.get_by_role("button", name="获取位置").click()
    dialog = page.locator(".geo-dialog")
    expect(dialog.locator(".geo-quality")).to_have_text("±15 米：精度合格（限 25 米）")
    dialog.get_by_role("button", name="保存位置").click()
    expect(dialog).to_have_count(0)
    expect(page.locator(".geopoint-value-container .geo-quality")).to_have_text(
        "精度合格：不超过 25 米")
    ctx.close()


def test_the_engine_speaks_chinese_and_dates_are_yyyy_mm_dd(server, browser):
    srv, passwords = server
    ARTIFACTS.mkdir(exist_ok=True)
    ctx, page = _phone(browser, 4)
    log_in(page, srv.url, passwords["xieguan01"])
    open_form(page, "建筑物登记")
    page.locator("label.value-option").filter(has=page.get_by_text("已登记", exact=True)).click()
    expect(page.get_by_text("选择图片", exact=True)).to_be_visible()
    assert page.get_by_text("Choose image").count() == 0  # ("拍照" only where a camera is)
    page.get_by_role("button", name="提交").click()  # nothing answered: the engine's checks
    errors = page.locator(".form-error-message")
    expect(errors).to_contain_text(re.compile(r"有 \d+ 个问题需要修改"))
    expect(page.get_by_text("此题必须回答").first).to_be_visible()
    assert _latin_words(page) == []
    page.screenshot(path=str(ARTIFACTS / "engine-chinese-validation.png"), full_page=True)

    page.goto(f"{srv.url}/app/#/form/household?new=1")
    form_ready(page)
    page.locator("label.value-option").filter(has=page.get_by_text("已登记", exact=True)).click()
    date = page.locator(".question-container").filter(
        has=page.locator("label", has_text="来本地日期")).locator("input").first
    date.click()
    picker = page.locator(".p-datepicker-panel")
    expect(picker).to_be_visible()
    expect(picker.get_by_role("button", name="今天")).to_be_visible()
    expect(picker.locator("thead")).to_contain_text("一")  # Monday first, in Chinese
    page.screenshot(path=str(ARTIFACTS / "engine-date-picker.png"))
    picker.get_by_role("button", name="今天").click()
    expect(date).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    assert _latin_words(page) == []
    ctx.close()
