"""Every page of every role's home menu runs under the Content-Security-Policy with no violation
(issue 14, finding 2): the phone app with a form open, the coverage map with a building's panel,
the walk list, the QR pages. A page that broke the policy (an inline script or style, a
WebAssembly compile, a tile from elsewhere) would be caught by its `securitypolicyviolation`
event or Chromium's console message."""

from __future__ import annotations

import math
import sqlite3

import pytest
from playwright.sync_api import Page

from tests.support.browser import PHONE, wait_until

pytestmark = pytest.mark.browser

COLLECT = """() => {
  window.__csp = window.__csp || [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}`
    + `:${e.lineNumber}`));
}"""
ROLES = {"admin": "admin", "designer": "designer", "supervisor": "zhuren",
         "coordinator": "xieguan01"}


class Watch:
    """Collects CSP violations from the page's events and from Chromium's console."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.seen: list[str] = []
        page.add_init_script(f"({COLLECT})()")
        page.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.seen.append(f"{self.page.url}: {message.text}")

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status == 200, (url, response)
        assert "script-src 'self'" in response.headers["content-security-policy"], url
        assert response.headers["x-content-type-options"] == "nosniff", url
        self.page.wait_for_load_state("networkidle")
        self.collect()

    def collect(self) -> None:
        self.seen.extend(f"{self.page.url}: {v}"
                         for v in self.page.evaluate("() => window.__csp || []"))
        self.page.evaluate("() => { window.__csp = []; }")


def _log_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def _first_building(instance) -> tuple[float, float]:
    con = sqlite3.connect(instance / "doorstep.sqlite3")
    try:
        return con.execute("SELECT lon, lat FROM buildings ORDER BY code LIMIT 1").fetchone()
    finally:
        con.close()


def _open_building_panel(page: Page, lon: float, lat: float) -> None:
    r = 6378137.0
    x = math.radians(lon) * r
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * r
    wait_until(page, "() => Boolean(window.doorstepCoverageMap)", timeout=30)
    page.evaluate(f"() => window.doorstepCoverageMap.getView().setCenter([{x}, {y}])")
    page.evaluate("() => window.doorstepCoverageMap.getView().setZoom(19)")
    page.wait_for_timeout(1500)
    box = page.locator("#coverage-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.locator("#coverage-detail h2").wait_for(timeout=15000)


@pytest.mark.parametrize("role", list(ROLES))
def test_every_home_menu_page_runs_under_the_policy(server, browser, role):
    srv, passwords = server
    username = ROLES[role]
    ctx = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True,
                              geolocation={"latitude": 24.6, "longitude": 102.6},
                              permissions=["geolocation"])
    page = ctx.new_page()
    watch = Watch(page)
    try:
        _log_in(page, srv.url, username, passwords[username])
        watch.visit(f"{srv.url}/")
        links = page.eval_on_selector_all("li a.button", "(as) => as.map((a) => a.href)")
        assert links, "the home page offers nothing"
        for link in links:
            watch.visit(link)
            if link.endswith("/app/") and role == "coordinator":
                page.wait_for_selector("body[data-ready='1']", timeout=60000)
                page.get_by_role("link", name="住户及人员登记").click()
                page.wait_for_selector(".form-initialization-status.ready", state="attached",
                                       timeout=60000)
                page.wait_for_timeout(1000)
                watch.collect()
            if link.endswith("/coverage/"):
                _open_building_panel(page, *_first_building(srv.instance))
                watch.collect()
                watch.visit(page.eval_on_selector("#export-walklist", "(a) => a.href"))
                page.evaluate("() => { window.print = () => { window.__printed = true; }; }")
                page.click("[data-print]")  # an inline onclick would be refused here
                assert page.evaluate("() => window.__printed") is True
                watch.collect()
        if role == "designer":
            watch.visit(f"{srv.url}/forms/household")
        assert watch.seen == [], "\n".join(watch.seen)

        # the watch sees a violation when there is one: an inline handler injected into a page
        page.evaluate("""() => document.body.insertAdjacentHTML('beforeend',
            '<img src="data:," onerror="document.title = 1">')""")
        page.wait_for_timeout(300)
        watch.collect()
        assert any("script-src" in v for v in watch.seen), watch.seen
    finally:
        ctx.close()
