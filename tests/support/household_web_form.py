"""Filling the township household form the way a person does, in Web Forms' own controls."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from forms.idnumber import check_char


def resident_id(first17: str) -> str:
    return first17 + check_char(first17)


PERSONS = [
    ("张伟", resident_id("53232419850312001")),
    ("李娜", resident_id("51012219900708002")),
]


def choose_dropdown(page: Page, label: str, option: str) -> None:
    container = page.locator(".question-container", has=page.get_by_text(label, exact=True)).first
    container.locator(".p-select").click()
    page.get_by_role("option", name=option).first.click()


def choose_radio(page: Page, text: str) -> None:
    radio_nth(page, text, 0)


def fill_text(scope, label: str, value: str) -> None:
    fill_nth(scope, label, 0, value)


def fill_household(page: Page, street: str | None, building: str | None) -> None:
    """Street and building are chosen by hand unless the app preselected them (None)."""
    if street:
        choose_dropdown(page, "街道/村民小组", street)
    if building:
        choose_dropdown(page, "建筑物", building)
    choose_radio(page, "新住户")
    fill_text(page, "单元/房号", "2单元301室")
    choose_radio(page, "已登记")
    choose_radio(page, "自有住房")
    fill_text(page, "建筑面积（平方米）", "86")
    choose_radio(page, "卧室")
    for i, (name, id_number) in enumerate(PERSONS):
        if i:
            page.get_by_role("button", name="添加").last.click()
        fill_nth(page, "姓名", i, name)
        fill_nth(page, "公民身份号码", i, id_number)
        fill_nth(page, "户籍地", i, "四川省成都市")
        fill_nth(page, "来本地日期", i, "2024-05-01")  # the app sets PrimeVue to YYYY-MM-DD
        radio_nth(page, "务工", i)
        radio_nth(page, "否", i)
        radio_nth(page, "户主" if i == 0 else "配偶", i)
    page.get_by_role("button", name="获取位置").click()
    page.get_by_role("button", name="保存位置").click(timeout=20000)
    expect(page.locator(".geo-dialog")).to_have_count(0)


def fill_nth(page: Page, label: str, n: int, value: str) -> None:
    container = (
        page.locator(".question-container").filter(has=page.locator("label", has_text=label)).nth(n)
    )
    box = container.locator("input, textarea").first
    box.click()
    box.press_sequentially(value)  # PrimeVue number and date inputs listen to keys
    box.press("Tab")


def radio_nth(page: Page, text: str, n: int) -> None:
    page.locator("label.value-option").filter(has=page.get_by_text(text, exact=True)).nth(n).click()
