"""The handover form and the import page's second step work at a phone's 390 px: nothing
sticks out sideways, and the unknown-streets choice imports without a second upload."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

from tests.support.browser import ARTIFACTS, PHONE

pytestmark = pytest.mark.browser

WIDER_THAN_THE_PAGE = "() => document.documentElement.scrollWidth"
FILE = json.dumps({"type": "FeatureCollection", "features": [{
    "type": "Feature", "properties": {"code": "NEW-1", "street": "XY99-01"},
    "geometry": {"type": "Polygon", "coordinates": [[[102.6, 24.6], [102.6001, 24.6],
                                                     [102.6001, 24.6001], [102.6, 24.6001],
                                                     [102.6, 24.6]]]}}]}).encode()


def _log_in(page: Page, url: str, passwords: dict[str, str], next_path: str) -> None:
    page.goto(f"{url}/login?next={next_path}")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", passwords["admin"])
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def test_handover_and_unknown_streets_at_390_px(server, browser) -> None:
    srv, passwords = server
    page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
    _log_in(page, srv.url, passwords, "/admin/users")
    # The small demo has one coordinator: create the successor on the page first.
    page.click("details.card summary")
    page.fill("input[name=username]", "xieguan99")
    page.select_option("select[name=role]", "coordinator")
    page.click("details.card button[type=submit]")
    page.wait_for_selector("text=xieguan99")
    handover = page.locator("details.handover").first
    handover.locator("summary").click()
    assert handover.locator("select[name=successor] option").count() >= 1
    assert page.evaluate(WIDER_THAN_THE_PAGE) <= PHONE["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-handover-390.png"), full_page=True)

    page.goto(f"{srv.url}/imports/")
    page.set_input_files("input[name=file]", {"name": "new.geojson",
                                              "mimeType": "application/geo+json",
                                              "buffer": FILE})
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#unknown-streets")
    assert "XY99-01" in page.inner_text("#unknown-streets")
    assert page.evaluate(WIDER_THAN_THE_PAGE) <= PHONE["width"]
    page.screenshot(path=str(ARTIFACTS / "import-unknown-streets-390.png"), full_page=True)
    page.click("#streets-by-boundary button[type=submit]")
    page.wait_for_selector("#import-report")
    assert "1 created" in page.inner_text("#import-report")
