"""The phone app over "Fast 3G": first visit, repeat visit and offline repeat to a usable form.

    .venv/bin/python tests/bench/bench_phone_3g.py [--before ../doorstep-before] [--runs 1]

For each checkout (this one, and --before's for the 'before' column, each with its own built
client) a fresh instance with the demo township (60 buildings), `python -m server serve` on a
free port, and Debian's Chromium driven by Playwright at the phone's viewport. The link is
Chromium's own emulation (CDP `Network.emulateNetworkConditions`: 562.5 ms round trip,
180 KiB/s down, 84 KiB/s up), applied to the page AND to the service worker (attached through
the browser's CDP session as soon as it starts), since a worker's fetches escape a page's
emulation. Bytes are the encoded bytes on the wire (`Network.loadingFinished`), page and worker.

- first visit: an empty browser profile, logged in as coordinator xieguan01 beforehand (the
  login page at full speed), opens /app/, waits for the first screen (streets, queue, forms),
  taps the household form and waits until the form is rendered and one of its inputs takes the
  focus; then waits (not timed) until the service worker controls the page, and up to 15 s for
  what the app does once it does (its `doorstep:warmed` mark: the engine's code cache made);
- repeat visit: the same phone later opens /app/#/form/household (service worker, HTTP cache)
  to the usable form, and /app/ to its first screen;
- offline repeat: the same with the network off (emulation offline for page and worker);
- first visit with login: another empty profile, every request over the emulated link from
  /login?next=/app/ on, to the same usable form.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(HERE))

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, PHONE  # noqa: E402
from tests.support.liveserver import free_port  # noqa: E402

FAST_3G = {"offline": False, "latency": 562.5,
           "downloadThroughput": 180 * 1024, "uploadThroughput": 84 * 1024}
OFFLINE = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
FORM_READY = ".form-initialization-status.ready"
WARMED = "performance.getEntriesByName('doorstep:warmed').length > 0"
WARM_WAIT = 15
#: the first input of the rendered form takes the focus: the form is usable
FOCUS = """() => { const i = document.querySelector('.odk-holder input, .odk-holder textarea');
  if (!i) return false; i.focus(); return document.activeElement === i; }"""


class Link:
    """The emulated link for the page and every service worker of the browser, and the bytes
    that crossed it."""

    def __init__(self, browser, context, page) -> None:
        self.bytes = 0
        self.urls: dict[str, str] = {}
        self.conditions = FAST_3G
        self.page = context.new_cdp_session(page)
        self.page.on("Network.loadingFinished", self._finished)
        self.page.on("Network.requestWillBeSent", self._sent)
        self.page.send("Network.enable")
        self.browser = browser.new_browser_cdp_session()
        self.workers: dict[str, str] = {}  # targetId -> sessionId
        self.browser.on("Target.targetCreated", self._created)
        self.browser.on("Target.receivedMessageFromTarget", self._worker_message)
        self.browser.send("Target.setDiscoverTargets", {"discover": True})
        self.apply(FAST_3G)

    def _finished(self, event: dict) -> None:
        self.bytes += int(event.get("encodedDataLength", 0))
        if os.environ.get("BENCH_TRACE"):
            print(f"{time.monotonic():.2f}", event.get("requestId"), event.get("encodedDataLength"),
                  self.urls.get(event.get("requestId"), ""), file=sys.stderr)

    def _sent(self, event: dict) -> None:
        self.urls[event["requestId"]] = event["request"]["url"][-60:]

    def _worker_message(self, event: dict) -> None:
        message = json.loads(event["message"])
        if message.get("method") == "Network.loadingFinished":
            self._finished(message["params"])
        elif message.get("method") == "Network.requestWillBeSent":
            self._sent(message["params"])

    def _created(self, event: dict) -> None:
        info = event["targetInfo"]
        if info["type"] == "service_worker" and info["targetId"] not in self.workers:
            try:
                session = self.browser.send("Target.attachToTarget",
                                            {"targetId": info["targetId"], "flatten": False})
            except Exception:  # a worker that ended before we reached it (an old version)
                return
            self.workers[info["targetId"]] = session["sessionId"]
            self._send_worker(session["sessionId"], "Network.enable", {})
            self._send_worker(session["sessionId"], "Network.emulateNetworkConditions",
                              self.conditions)

    def _send_worker(self, session: str, method: str, params: dict) -> None:
        message = {"id": int(time.monotonic() * 1000), "method": method, "params": params}
        self.browser.send("Target.sendMessageToTarget",
                          {"sessionId": session, "message": json.dumps(message)})

    def close(self) -> None:
        """Detach from the browser: a Link left attached would apply its last conditions (offline,
        after the offline repeat) to the next phone's service worker, whose install then fails
        (the worker took control only after a 120 s wait in every run after the first)."""
        self.browser.detach()

    def apply(self, conditions: dict) -> None:
        self.conditions = conditions
        self.page.send("Network.emulateNetworkConditions", conditions)
        for session in self.workers.values():
            self._send_worker(session, "Network.emulateNetworkConditions", conditions)


def prepare(repo: Path, instance: Path) -> tuple[dict[str, str], dict[str, str]]:
    env = {**os.environ, "DOORSTEP_INSTANCE_PATH": str(instance),
           "DOORSTEP_PROCESS_IN_BACKGROUND": "true", "PYTHONPATH": str(repo)}
    env.pop("DOORSTEP_DATABASE_URL", None)
    for args in (["db", "upgrade"], ["demo", "--no-serve", "--buildings", "60"]):
        out = subprocess.run([sys.executable, "-m", "server", *args], env=env, cwd=repo,
                             capture_output=True, text=True, check=True, timeout=300).stdout
    return dict(re.findall(r"^\s+\w+\s+(\S+)\s+(\S+)\s*$", out, re.M)), env


def serve(repo: Path, env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port)],
                            env=env, cwd=repo, stdout=log.open("w"), stderr=subprocess.STDOUT)
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(log.read_text())


def poll(page, script: str, timeout: float = 180) -> None:
    """Wait until `script` is true, asked from here (the shell's CSP forbids the eval that
    Playwright's wait_for_function polls with)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        if time.monotonic() > deadline:
            raise TimeoutError(script)
        time.sleep(0.02)


def usable(page) -> None:
    page.wait_for_selector(FORM_READY, state="attached", timeout=180_000)
    poll(page, FOCUS)


def phone(browser):
    ctx = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True,
                              geolocation={"latitude": 24.60178, "longitude": 102.59635,
                                           "accuracy": 4}, permissions=["geolocation"])
    return ctx, ctx.new_page()


def log_in(page, url: str, password: str, then: str) -> None:
    page.goto(f"{url}/login?next={then}")
    page.fill("input[name=username]", "xieguan01")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def open_form(page, started: float, out: dict, prefix: str) -> None:
    page.wait_for_selector("body[data-ready='1']", timeout=180_000)
    out[f"{prefix}_first_screen_s"] = time.monotonic() - started
    page.get_by_role("link", name="住户及人员登记").click()
    usable(page)
    out[f"{prefix}_s"] = time.monotonic() - started


def measure(browser, url: str, password: str) -> dict[str, float]:
    out: dict[str, float] = {}
    # 1. Logged in beforehand (the login page at full speed), then /app/ over Fast 3G.
    ctx, page = phone(browser)
    log_in(page, url, password, "/")
    page.wait_for_url(f"{url}/")
    link = Link(browser, ctx, page)
    started = time.monotonic()
    page.goto(f"{url}/app/", wait_until="commit")
    open_form(page, started, out, "first_visit")
    out["first_visit_bytes"] = link.bytes
    # Everything the service worker keeps, before the phone comes back (not timed).
    try:
        poll(page, "navigator.serviceWorker.controller !== null", timeout=120)
    except TimeoutError:
        out["service_worker_missing"] = 1  # noted; the repeat visits then run without it
    # A phone comes back later, not at once: what the app does once its worker is in (the
    # engine's code cache made from the worker's copies, src/app/engine.js) is let finish, up to
    # WARM_WAIT seconds (a build without it waits them all, idle).
    try:
        poll(page, WARMED, timeout=WARM_WAIT)
    except TimeoutError:
        out["not_warmed"] = 1
    out["service_worker_bytes"] = link.bytes - out["first_visit_bytes"]
    # 2. The same phone later: the form straight away, online, then offline (a build whose
    # service worker never took control cannot open offline: noted, not fatal).
    try:
        page.goto("about:blank")
        link.bytes = 0
        started = time.monotonic()
        page.goto(f"{url}/app/#/form/household", wait_until="commit")
        usable(page)
        out["repeat_visit_s"] = time.monotonic() - started
        out["repeat_visit_bytes"] = link.bytes
        page.goto("about:blank")
        started = time.monotonic()
        page.goto(f"{url}/app/", wait_until="commit")
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        out["repeat_first_screen_s"] = time.monotonic() - started
        page.goto("about:blank")
        link.apply(OFFLINE)
        ctx.set_offline(True)
        started = time.monotonic()
        page.goto(f"{url}/app/#/form/household", wait_until="commit")
        usable(page)
        out["offline_repeat_s"] = time.monotonic() - started
    except Exception as err:  # noted in the figures
        out["repeat_failed"] = str(err).splitlines()[0]
    link.close()
    ctx.close()

    # 3. A new phone from the login page on, every request over Fast 3G.
    ctx, page = phone(browser)
    link = Link(browser, ctx, page)
    started = time.monotonic()
    log_in(page, url, password, "/app/")
    open_form(page, started, out, "first_visit_with_login")
    out["first_visit_with_login_bytes"] = link.bytes
    link.close()
    ctx.close()
    return out


def bench(repo: Path, runs: int) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        passwords, env = prepare(repo, instance)
        port = free_port()
        proc = serve(repo, env, port, instance / "serve.log")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _ in range(runs):
                    results.append(measure(browser, f"http://127.0.0.1:{port}",
                                           passwords["xieguan01"]))
                browser.close()
        finally:
            proc.kill()
            proc.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout, built, for 'before'")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    checkouts = ([("before", args.before)] if args.before else []) + [("after", HERE)]
    for label, repo in checkouts:
        for result in bench(repo.resolve(), args.runs):
            shown = {k: (round(v, 2) if k.endswith("_s") else v) for k, v in result.items()}
            print(label, json.dumps(shown), flush=True)


if __name__ == "__main__":
    main()
