"""The phone's repeat visit straight to a form: /app/#/form/household to a usable form, many times.

    .venv/bin/python tests/bench/bench_repeat_visit.py [--before ../wt-before] [--opens 10]
        [--cpu-throttle 1] [--fast-3g] [--fresh] [--first-reopens]

For each checkout (with its own built client) a fresh instance with the demo township (60
buildings) served on a free loopback port, and a phone (Debian's Chromium of its own, through
Playwright) that logs in as coordinator xieguan01, opens /app/ and the household form once and
waits until the service worker controls the page (the repeat visit's files come from its
cache). Then, with both checkouts' servers up, the opens alternate between them (before, after,
before, ...) so that the machine's load falls on both alike. Each open is what
bench_phone_3g.py times as the repeat visit: the tab goes to about:blank, then to the form,
timed to the form rendered with an input focused.

Besides the wall time, figures that the machine's load moves less: the CPU time that the
phone's Chromium processes used during the open (SystemInfo.getProcessInfo: renderers, and all
of them), and, where the app marks them (`performance.mark('doorstep:…')`), when the engine was
imported and the form shown. `--fast-3g` emulates the bench_phone_3g.py link on the page (the
files still come from the service worker's cache); `--cpu-throttle N` slows the renderer N times
(CDP `Emulation.setCPUThrottlingRate`); `--fresh` goes to the form from another site (localhost
instead of 127.0.0.1), so that its page does not start in the renderer (and V8 isolate, with its
in-memory compiled code) of the last open, as a phone's app after a restart; `--first-reopens`
makes every open a new phone's first reopen after a first visit straight to the form (what
bench_phone_3g.py's repeat visit is). Prints medians and every open; not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_phone_3g import FAST_3G, WARM_WAIT, WARMED, log_in, phone, poll, prepare, serve, usable  # noqa: E402

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.liveserver import free_port  # noqa: E402

NO_EMULATION = {"offline": False, "latency": 0, "downloadThroughput": -1,
                "uploadThroughput": -1}
MARKS = """() => Object.fromEntries(performance.getEntriesByType('mark')
  .filter((m) => m.name.startsWith('doorstep:')).map((m) => [m.name.slice(9), m.startTime]))"""


class Phone:
    """One checkout's server and a phone (browser context) that has visited it once."""

    def __init__(self, label: str, repo: Path, playwright, tmp: Path) -> None:
        self.label, self.results = label, []
        # a browser of its own: the CPU its processes use is this phone's alone
        self.browser = browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                            args=CHROMIUM_ARGS)
        instance = tmp / label
        instance.mkdir()
        passwords, env = prepare(repo, instance)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.proc = serve(repo, env, port, instance / "serve.log")
        self.password = passwords["xieguan01"]
        self.ctx, page = phone(browser)
        log_in(page, self.url, self.password, "/app/")
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        poll(page, "navigator.serviceWorker.controller !== null", timeout=120)
        page.goto(f"{self.url}/app/#/form/household")
        usable(page)
        self.page, self.browser_cdp = page, browser.new_browser_cdp_session()
        self.cdp = self.ctx.new_cdp_session(page)
        self.cdp.send("Network.enable")

    def open(self, throttle: float, fast_3g: bool, fresh: bool) -> dict:
        """One repeat visit, as bench_phone_3g.py makes it: the phone's tab goes to about:blank,
        then straight to the form (`fresh`: by way of another site, so that the form's page
        starts in a renderer whose JavaScript has run nothing yet, as after a phone's restart)."""
        page = self.page
        elsewhere = self.url.replace("127.0.0.1", "localhost") + "/healthz"
        page.goto(elsewhere if fresh else "about:blank")
        if throttle != 1:
            self.cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        self.cdp.send("Network.emulateNetworkConditions", FAST_3G if fast_3g else NO_EMULATION)
        cpu = process_cpu(self.browser_cdp)
        started = time.monotonic()
        page.goto(f"{self.url}/app/#/form/household", wait_until="commit")
        usable(page)
        out = {"wall_s": time.monotonic() - started}
        after = process_cpu(self.browser_cdp)
        used = {p: (kind, t - cpu.get(p, (kind, 0))[1]) for p, (kind, t) in after.items()}
        out["renderer_cpu_s"] = sum(t for kind, t in used.values() if kind == "renderer")
        out["chromium_cpu_s"] = sum(t for _, t in used.values())
        out.update({f"mark_{k}": v / 1000 for k, v in page.evaluate(MARKS).items()})
        out["controlled"] = page.evaluate("navigator.serviceWorker.controller !== null")
        self.results.append(out)
        return out

    def first_reopen(self, throttle: float, fast_3g: bool) -> dict:
        """A new phone (context) whose first visit goes straight to the form, so that the engine
        is imported before its service worker is in; once the worker controls the page (and, up to
        WARM_WAIT s, the app's work after it is done), its first reopen, timed as open()."""
        old = self.ctx
        self.ctx, page = phone(self.browser)
        log_in(page, self.url, self.password, "/")
        page.wait_for_url(f"{self.url}/")
        page.goto(f"{self.url}/app/#/form/household")
        usable(page)
        poll(page, "navigator.serviceWorker.controller !== null", timeout=120)
        with contextlib.suppress(TimeoutError):
            poll(page, WARMED, timeout=WARM_WAIT)
        self.page, self.cdp = page, self.ctx.new_cdp_session(page)
        self.cdp.send("Network.enable")
        old.close()
        return self.open(throttle, fast_3g, fresh=False)

    def close(self) -> None:
        self.ctx.close()
        self.browser.close()
        self.proc.kill()
        self.proc.wait()


def process_cpu(browser_cdp) -> dict[int, tuple[str, float]]:
    """Each Chromium process's kind and the CPU seconds it has used (SystemInfo.getProcessInfo)."""
    info = browser_cdp.send("SystemInfo.getProcessInfo")["processInfo"]
    return {p["id"]: (p["type"], p["cpuTime"]) for p in info}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout, built, for 'before'")
    parser.add_argument("--opens", type=int, default=10)
    parser.add_argument("--cpu-throttle", type=float, default=1)
    parser.add_argument("--fast-3g", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="a new renderer for every open")
    parser.add_argument("--first-reopens", action="store_true",
                        help="every open is a new phone's first reopen (Phone.first_reopen)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    checkouts = ([("before", args.before.resolve())] if args.before else []) + [("after", HERE)]
    print("load", load(), flush=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        phones = []
        try:
            for label, repo in checkouts:
                phones.append(Phone(label, repo, p, Path(tmp)))
            for _ in range(args.opens):
                for ph in phones:
                    out = (ph.first_reopen(args.cpu_throttle, args.fast_3g) if args.first_reopens
                           else ph.open(args.cpu_throttle, args.fast_3g, args.fresh))
                    if os.environ.get("BENCH_VERBOSE"):
                        print(ph.label, json.dumps({k: round(v, 3) if isinstance(v, float)
                                                    else v for k, v in out.items()}), flush=True)
        finally:
            for ph in phones:
                ph.close()
    print("load", load(), flush=True)
    for ph in phones:
        keys = [k for k in ph.results[0] if k != "controlled"]
        medians = {k: round(statistics.median(r[k] for r in ph.results if k in r), 3)
                   for k in keys}
        walls = sorted(round(r["wall_s"], 2) for r in ph.results)
        print(ph.label, "median", json.dumps(medians), "walls", walls,
              "uncontrolled", sum(not r["controlled"] for r in ph.results), flush=True)


if __name__ == "__main__":
    main()
