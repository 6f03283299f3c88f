"""Every page of every role at a 360 × 740 phone: nothing wider than the screen, no control cut
off or swollen, and not one error in the console (issue 12, items 5 and 7).

The pages come from the app's url_map: every GET route that answers a page, for each role its
access rule lets in; a route with parameters is opened through the first link to it on the page
that lists it. A new page route must be listed here (as a page, or as not a page), so it cannot
escape the walk.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from server.access import PUBLIC, allowed_roles, rule_for
from tests.support.app import make_app
from tests.support.browser import ARTIFACTS

pytestmark = pytest.mark.browser

SMALL = {"width": 360, "height": 740}
USERS = {"admin": "admin", "designer": "designer", "supervisor": "zhuren",
         "coordinator": "xieguan01"}
#: GET routes that answer something other than a page (files, data, the app's machinery).
NOT_PAGES = {
    "static", "favicon", "home.healthz", "app.icon", "app.web_manifest", "app.service_worker",
    "coverage.map_png", "coverage.photo", "coverage.export_unvisited", "coverage.tile",
    "forms.download_xform", "forms.download_xlsform", "submissions.attachment",
    "submissions.export", "register.export", "rentals.export", "reports.archived_file",
    "reports.assessment_xlsx",
}
#: A page with parameters: the page that links to it, and the pattern of that link.
LINKED_FROM = {
    "forms.detail": ("/forms/", r"/forms/[^/]+$"),
    "register.detail": ("/register/", r"/register/\w+/[0-9a-f-]{36}$"),
    "rounds.show": ("/rounds/", r"/rounds/\d+$"),
    "rounds.phase_show": ("/rounds/", r"/rounds/phases/\d+$"),
    "rentals.unit": ("/rentals/", r"/rentals/units/[^/]+$"),
    "rentals.landlord": ("/rentals/", r"/rentals/landlords/[^/]+$"),
    "submissions.show": ("/submissions/", r"/submissions/\d+$"),
    "tokens.of_user": ("/admin/users", r"/admin/users/\d+/tokens$"),
    "reports.archived": ("/reports/meeting", r"/reports/archive/\d+$"),
}
#: Pages the demo township may have nothing to link to (its generated visits register nobody).
MAY_BE_EMPTY = {"register.detail", "reports.archived"}  # no report archived yet

#: What does not fit: the document wider than the screen; a control (input, select, button,
#: link styled as a button) reaching past the screen's edge outside a scrolling box, or cut off
#: by a box that hides its overflow; a one-line field taller than 4 rem.
MISFITS = """() => {
  const vw = document.documentElement.clientWidth;
  const out = [];
  const name = (el) => el.tagName.toLowerCase() + (el.name ? `[name=${el.name}]` : '')
    + (el.id ? `#${el.id}` : '') + (el.className && typeof el.className === 'string'
    ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  if (document.documentElement.scrollWidth > vw) {
    out.push(`document ${document.documentElement.scrollWidth} px wide at ${vw} px`);
  }
  const controls = document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, a.button');
  for (const el of controls) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
    if (el.closest('.visually-hidden, details:not([open]), [hidden]')) continue;
    let scrolls = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      const box = p.getBoundingClientRect();
      if (['auto', 'scroll'].includes(s.overflowX)) { scrolls = true; break; }
      if (['hidden', 'clip'].includes(s.overflowX)
          && (r.left < box.left - 1 || r.right > box.right + 1)) {
        out.push(`${name(el)} cut off by ${name(p)}`);
        break;
      }
    }
    if (!scrolls && (r.left < -1 || r.right > vw + 1)) {
      out.push(`${name(el)} reaches ${Math.round(r.right)} px at ${vw} px`);
    }
    const oneLine = el.tagName === 'SELECT' && !el.multiple
      || (el.tagName === 'INPUT' && !['checkbox', 'radio'].includes(el.type));
    if (oneLine && r.height > 4 * parseFloat(getComputedStyle(document.documentElement).fontSize)) {
      out.push(`${name(el)} ${Math.round(r.height)} px tall`);
    }
  }
  return out;
}"""


def pages_by_role(tmp_path) -> dict[str, list[str]]:
    """{role: [url or endpoint]} for every page route, from the url_map and the access rules."""
    app = make_app(tmp_path)
    found: dict[str, list[str]] = {role: [] for role in USERS}
    unknown = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
            continue
        if rule.rule.startswith(("/api/", "/o/", "/odata/")):  # data for programs
            continue
        if rule.arguments and rule.endpoint not in LINKED_FROM:
            unknown.append(rule.rule)
            continue
        access = rule_for(rule.endpoint, app)
        if access == PUBLIC:
            continue  # the login page: walked before logging in
        for role in USERS:
            if role in {r.value for r in allowed_roles(access)}:
                found[role].append(rule.endpoint if rule.arguments else rule.rule)
    assert not unknown, f"routes with parameters: add to LINKED_FROM or NOT_PAGES: {unknown}"
    return found


class Walk:
    """Opens pages at 360 × 740, noting what does not fit and every console error."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.misfits: list[str] = []
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append(f"{page.url}: uncaught {err}"))

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.errors.append(f"{self.page.url}: {message.text} ({where})")

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status == 200, (url, response)
        self.page.wait_for_load_state("networkidle")
        if "/app/" in url:
            self.page.wait_for_selector("body[data-ready='1'], .nolink", timeout=60000)
        self.check()

    def check(self) -> None:
        self.misfits.extend(f"{self.page.url}: {m}" for m in self.page.evaluate(MISFITS))


def _log_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


@pytest.mark.parametrize("role", list(USERS))
def test_every_page_fits_a_360_px_phone_with_a_clean_console(server, browser, role, tmp_path):
    srv, passwords = server
    pages = pages_by_role(tmp_path / "routes")[role]
    ctx = browser.new_context(viewport=SMALL, locale="zh-CN", is_mobile=True, has_touch=True,
                              geolocation={"latitude": 24.6, "longitude": 102.6},
                              permissions=["geolocation"])
    page = ctx.new_page()
    walk = Walk(page)
    try:
        walk.visit(f"{srv.url}/login")
        _log_in(page, srv.url, USERS[role], passwords[USERS[role]])
        seen = []
        for target in pages:
            if target.startswith("/"):
                url = f"{srv.url}{target}"
            else:
                listing, pattern = LINKED_FROM[target]
                page.goto(f"{srv.url}{listing}")
                hrefs = page.eval_on_selector_all("a[href]", "(as) => as.map((a) => a.href)")
                links = [h for h in hrefs if re.search(pattern, h)]
                if not links and target in MAY_BE_EMPTY:
                    seen.append(target)
                    continue
                assert links, f"{role}: no link to {target} on {listing}"
                url = links[0]
            walk.visit(url)
            seen.append(url)
            if target == "/app/" and role == "coordinator":
                page.get_by_role("link", name="住户及人员登记").click()
                page.wait_for_selector(".form-initialization-status.ready", state="attached",
                                       timeout=60000)
                walk.check()
            if target == "/me/device":  # the new link's QR code and URL, shown once
                page.click("button[value=create]")
                page.wait_for_selector("#server-url")
                walk.check()
            if target in ("/coverage/stats", "/app/"):
                _screenshot(page, target.strip("/").replace("/", "-") + f"-{role}-360.png")
            if target == "register.detail" and role == "supervisor":
                _visit_a_household(page, walk, srv.url)
        assert walk.misfits == [], "\n".join(walk.misfits)
        assert walk.errors == [], "\n".join(walk.errors)
        assert len(seen) == len(pages)
    finally:
        ctx.close()


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _visit_a_household(page: Page, walk: Walk, url: str) -> None:
    """The register's household page (its residents by name) fits too: the walk's own link to
    the register opens a person."""
    page.goto(f"{url}/register/?list=households")
    hrefs = page.eval_on_selector_all("a[href]", "(as) => as.map((a) => a.href)")
    households = [h for h in hrefs if re.search(r"/register/households/[0-9a-f-]{36}$", h)]
    assert households, "the demo registers households: none listed on /register/?list=households"
    walk.visit(households[0])
    _screenshot(page, "register-household-supervisor-360.png")


def test_the_walk_sees_a_page_too_wide_and_an_error(server, browser):
    """The checks above catch what they look for: a page made wider than the phone, a control
    pushed off the edge, an uncaught error."""
    srv, passwords = server
    ctx = browser.new_context(viewport=SMALL, locale="zh-CN")
    page = ctx.new_page()
    walk = Walk(page)
    _log_in(page, srv.url, "admin", passwords["admin"])
    walk.visit(f"{srv.url}/")
    assert walk.misfits == [] and walk.errors == []
    page.evaluate("""() => {
      const wide = document.createElement('div');
      wide.className = 'card';
      wide.textContent = 'x'.repeat(10);
      wide.append(Object.assign(document.createElement('input'), {name: 'wide'}));
      wide.lastChild.classList.add('wide');
      document.querySelector('main').append(wide);
      document.querySelector('input.wide').setAttribute('size', '80');
      setTimeout(() => { throw new Error('boom'); });
    }""")
    page.wait_for_timeout(300)
    walk.check()
    assert any("px wide at 360 px" in m for m in walk.misfits), walk.misfits
    assert any("input[name=wide]" in m and "reaches" in m for m in walk.misfits), walk.misfits
    assert any("boom" in e for e in walk.errors), walk.errors
    ctx.close()
