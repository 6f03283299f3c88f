"""How the phone app loads (issue 12, items 1 and 7): its first screen without the form engine,
a double tap on "Send", a supervisor's way back. Times over Fast 3G are measured in
tests/bench/bench_phone_3g.py, not here."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import ARTIFACTS, wait_until
from tests.support.household_web_form import fill_household
from tests.support.paths import REPO

pytestmark = pytest.mark.browser

SMALL = {"width": 360, "height": 740}
BUILD = REPO / "server" / "static" / "app"


def engine_files() -> list[str]:
    """The files the form engine (src/app/formview.js) loads that the first screen does not."""
    manifest = json.loads((BUILD / ".vite" / "manifest.json").read_text())

    def closure(key: str) -> set[str]:
        files, todo = set(), [key]
        while todo:
            chunk = manifest[todo.pop()]
            if chunk["file"] not in files:
                files.add(chunk["file"])
                files.update(chunk.get("css", []))
                todo += chunk.get("imports", [])
        return files

    entry = next(k for k, v in manifest.items() if v.get("name") == "phone" and v.get("isEntry"))
    return sorted(closure("src/app/formview.js") - closure(entry))


def _phone(browser):
    ctx = browser.new_context(viewport=SMALL, locale="zh-CN", is_mobile=True, has_touch=True,
                              geolocation={"latitude": 24.60178, "longitude": 102.59635,
                                           "accuracy": 4}, permissions=["geolocation"])
    return ctx, ctx.new_page()


def _log_in(page: Page, url: str, username: str, password: str, then: str = "/app/") -> None:
    page.goto(f"{url}/login?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_the_first_screen_renders_without_the_form_engine(server, browser):
    srv, passwords = server
    engine = engine_files()
    assert any("formview" in f for f in engine), engine
    ctx, page = _phone(browser)
    refused: list[str] = []

    def refuse(route) -> None:
        refused.append(route.request.url)
        route.abort()

    for name in engine:
        ctx.route(f"**/static/app/{name}", refuse)
    _log_in(page, srv.url, "xieguan01", passwords["xieguan01"])
    page.wait_for_selector("body[data-ready='1']", timeout=60000)
    expect(page.get_by_role("link", name="我的街巷")).to_be_visible()
    expect(page.locator("#queue-link")).to_contain_text("待发送")
    expect(page.get_by_role("link", name="住户及人员登记")).to_be_visible()
    assert refused, "the engine was not asked for in the background"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone-first-screen-360.png"), full_page=True)
    # A form without its engine says why instead of hanging.
    page.get_by_role("link", name="住户及人员登记").click()
    expect(page.locator(".odk-holder")).to_contain_text("表单程序尚未下载到这部手机")
    ctx.close()


def test_the_engine_is_fetched_at_once_but_runs_only_when_a_finger_reaches_a_form(server,
                                                                                 browser):
    """Its bytes come in the background; compiling and running it (Lighthouse counted 2.8 s of
    blocked main thread) waits until a form is reached for, so the first screen stays free."""
    srv, passwords = server
    engine = [f"/static/app/{name}" for name in engine_files() if name.endswith(".js")]
    ctx, page = _phone(browser)
    _log_in(page, srv.url, "xieguan01", passwords["xieguan01"], then="/")
    page.wait_for_url(f"{srv.url}/")
    parsed: list[str] = []
    cdp = ctx.new_cdp_session(page)
    cdp.on("Debugger.scriptParsed", lambda e: parsed.append(e.get("url", "")))
    cdp.send("Debugger.enable")
    page.goto(f"{srv.url}/app/")
    page.wait_for_selector("body[data-ready='1']", timeout=60000)
    fetched = ("names => names.every(n => performance.getEntriesByType('resource')"
               ".some(e => e.name.endsWith(n) && e.responseEnd > 0))")
    wait_until(page, fetched, engine, timeout=60)
    page.wait_for_timeout(1000)
    ran = [url for url in parsed if any(url.endswith(name) for name in engine)]
    assert ran == [], "the engine ran before anyone reached for a form"
    link = page.get_by_role("link", name="住户及人员登记")
    link.hover()  # a finger (or a pointer) on the form's link: the engine starts
    deadline = 0
    while not any(url.endswith(name) for url in parsed for name in engine) and deadline < 100:
        page.wait_for_timeout(100)
        deadline += 1
    assert any(url.endswith(name) for url in parsed for name in engine), "not run on intent"
    link.click()
    page.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)
    ctx.close()


def test_a_first_start_shows_the_home_screen_while_the_forms_download(server, browser):
    """The first screen does not wait for every form and media file (Lighthouse's largest
    paint): the forms are filled in where they go once they are on the phone."""
    srv, passwords = server
    ctx, page = _phone(browser)
    held = []
    ctx.route("**/formList", lambda route: held.append(route))  # held back until let go
    _log_in(page, srv.url, "xieguan01", passwords["xieguan01"])
    expect(page.get_by_role("link", name="我的街巷")).to_be_visible()
    expect(page.locator("ul.forms")).to_contain_text("正在下载表单")
    assert page.locator("body[data-ready='1']").count() == 0
    while not held:
        page.wait_for_timeout(50)
    held[0].continue_()
    page.wait_for_selector("body[data-ready='1']", timeout=60000)
    expect(page.get_by_role("link", name="住户及人员登记")).to_be_visible()
    expect(page.locator("#synced-at")).not_to_have_text("从未")
    ctx.close()


def test_a_double_tap_on_send_queues_one_item_and_raises_nothing(server, browser):
    srv, passwords = server
    ctx, page = _phone(browser)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(f"uncaught {err}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _log_in(page, srv.url, "xieguan01", passwords["xieguan01"])
    page.wait_for_selector("body[data-ready='1']", timeout=60000)
    page.get_by_role("link", name="住户及人员登记").click()
    page.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)
    fill_household(page, "夕阳一街", "夕阳彝族乡夕阳一街1号")
    page.get_by_role("button", name="提交").dblclick()
    page.wait_for_url("**/app/#/queue")
    page.wait_for_timeout(1500)
    expect(page.locator("li.q")).to_have_count(1)
    assert errors == [], errors
    ctx.close()


def test_a_supervisor_on_the_phone_app_is_shown_the_way_back(server, browser):
    srv, passwords = server
    ctx, page = _phone(browser)
    _log_in(page, srv.url, "zhuren", passwords["zhuren"], then="/")
    page.wait_for_url(f"{srv.url}/")
    page.get_by_role("link", name="手机应用").click()
    expect(page.locator(".nolink")).to_contain_text("协管员")
    page.get_by_role("link", name="返回首页").click()
    page.wait_for_url(f"{srv.url}/")
    ctx.close()


def test_the_form_wears_the_built_theme_and_primevue_builds_none_at_run_time(server, browser):
    """PrimeVue built the ODK theme's CSS at every start of the engine and inserted it as <style>
    elements (variables, then each component's CSS as it mounted): the build writes it into the
    engine's stylesheet instead (server/client/plugins/web_forms_styles.js)."""
    srv, passwords = server
    ctx, page = _phone(browser)
    _log_in(page, srv.url, "xieguan01", passwords["xieguan01"])
    page.wait_for_selector("body[data-ready='1']", timeout=60000)
    page.get_by_role("link", name="住户及人员登记").click()
    page.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)
    inserted = page.evaluate("""() => [...document.querySelectorAll(
        'style[data-primevue-style-id]')].map((s) => s.dataset.primevueStyleId)""")
    assert [s for s in inserted if s.endswith(("-variables", "-style"))] == [], inserted
    # the theme is there all the same: the preset's primary colour on the form's buttons
    send = page.get_by_role("button", name="提交")
    assert send.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(62, 159, 204)"
    page.get_by_role("button", name="获取位置").click()  # a dialog: a component not yet shown
    dialog = page.locator(".p-dialog")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => getComputedStyle(d).backgroundColor") == "rgb(255, 255, 255)"
    assert dialog.evaluate("d => getComputedStyle(d).borderRadius") != "0px"
    ctx.close()


def test_a_first_visit_leaves_the_engine_compiled_for_the_next_one(server, browser, tmp_path):
    """Chromium makes V8's code cache for a file of the service worker's the first time that copy
    runs. A first visit runs the engine from the network (its worker is not in yet), so the next
    visit parsed the 1.6 MB engine again and made the cache while the form waited. Once the
    worker is in, the app runs the engine's shared chunks once in a hidden frame from the
    worker's copies (src/app/engine.js warmOnInstall): the next visit compiles from the cache."""
    srv, passwords = server
    ctx, page = _phone(browser)
    # a form asked for straight away: the engine is imported before the worker is registered
    _log_in(page, srv.url, "xieguan01", passwords["xieguan01"], then="/")
    page.wait_for_url(f"{srv.url}/")
    page.goto(f"{srv.url}/app/#/form/household")
    page.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)
    wait_until(page, "() => navigator.serviceWorker.controller !== null", None, timeout=60)
    wait_until(page, "() => performance.getEntriesByName('doorstep:warmed').length > 0", None,
               timeout=60)
    assert page.locator("iframe").count() == 0  # the frame is gone once it has run
    shared = page.evaluate("() => window.DOORSTEP.engineShared")
    assert shared and all("/formview-" not in u and "/phone-" not in u for u in shared), shared
    page.goto("about:blank")
    trace = tmp_path / "trace.json"
    browser.start_tracing(path=str(trace), categories=["v8", "disabled-by-default-v8.compile"])
    page.goto(f"{srv.url}/app/#/form/household")
    page.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)
    browser.stop_tracing()
    events = json.loads(trace.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    compiled = {e["args"]["data"]["url"].rsplit("/", 1)[-1]: e["args"]["data"] for e in events
                if e.get("name") == "v8.compileModule" and e.get("args", {}).get("data")}
    engine = [u.rsplit("/", 1)[-1] for u in shared]
    assert all(name in compiled for name in engine), (engine, sorted(compiled))
    for name in engine:
        assert compiled[name].get("consumedCacheSize", 0) > 0, (name, compiled[name])
        assert not compiled[name].get("cacheRejected"), compiled[name]
    ctx.close()
