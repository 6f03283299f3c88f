"""Tiles a supervisor's coverage map asks for: per view, pan, zoom and refresh (docs/CAPACITY.md).

    .venv/bin/python tests/bench/bench_map_tiles.py [--buildings 2000]

A real `python -m server serve` over the demo township, Debian's Chromium through Playwright,
logged in as the township supervisor (zhuren) on /coverage/. For a phone (360 × 740, device
pixel ratio 3) and a desktop window (1440 × 900, ratio 1): the tile requests of the first view
(fitted to the township), a pan by half the map's width, a zoom in and a zoom out by one level,
and one refresh of the tile source (what the page does every 10 s while the counts move), each
with the answers' status (200 with a body, 304 not modified) and the bytes of the bodies.
Requests the browser answered from OpenLayers' own tile cache do not reach the network and are
not counted: what is printed is what the server sees.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, Server
from tests.support.liveserver import free_port

VIEWS = {"phone 360 × 740, ratio 3": ({"width": 360, "height": 740}, 3),
         "desktop 1440 × 900, ratio 1": ({"width": 1440, "height": 900}, 1)}
MAP = "window.doorstepCoverageMap"
STEPS = {
    "pan by half the width": f"""() => {{ const v = {MAP}.getView();
        const c = v.getCenter(); const w = {MAP}.getSize()[0] * v.getResolution() / 2;
        v.setCenter([c[0] + w, c[1]]); }}""",
    "zoom in one level":
        f"() => {{ const v = {MAP}.getView(); v.setZoom(Math.round(v.getZoom()) + 1); }}",
    "zoom out one level": f"() => {{ const v = {MAP}.getView(); v.setZoom(v.getZoom() - 1); }}",
    "refresh (counts moved)": f"() => {MAP}.getLayers().getArray().at(-1).getSource().refresh()",
}


def settle(page, seen: list, quiet_s: float = 1.5, limit_s: float = 30.0) -> None:
    """Wait until no tile request has started or finished for quiet_s."""
    deadline = time.monotonic() + limit_s
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        now = len(seen) + sum(1 for r in seen if r[1] is not None)
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s and all(r[1] is not None for r in seen):
            return


def measure(browser, url: str, password: str, viewport: dict, ratio: int) -> list[str]:
    context = browser.new_context(viewport=viewport, device_scale_factor=ratio)
    page = context.new_page()
    seen: list[list] = []  # [url, status, bytes, revalidation]

    def on_request(request):
        if "/tiles/coverage/" in request.url:
            seen.append([request.url, None, 0, False])

    def on_response(response):
        for row in seen:
            if row[0] == response.url and row[1] is None:
                row[1] = response.status
                row[2] = len(response.body()) if response.status == 200 else 0
                row[3] = "if-none-match" in response.request.all_headers()
                break

    page.on("request", on_request)
    page.on("response", on_response)
    page.goto(f"{url}/login?next=/coverage/")
    page.fill("input[name=username]", "zhuren")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/coverage/")
    page.wait_for_function(f"() => !!{MAP}")
    out = []
    steps = [("first view (fitted to the township)", None), *STEPS.items()]
    for label, script in steps:
        start = len(seen) if script else 0  # the first view's tiles came with the page
        if script:
            page.evaluate(script)
        settle(page, seen)
        rows = seen[start:]
        zooms = sorted({int(re.search(r"/(\d+)/\d+/\d+\.mvt", r[0]).group(1)) for r in rows})
        full = [r for r in rows if r[1] == 200]
        zoom = page.evaluate(f"() => {MAP}.getView().getZoom()")
        out.append(f"| {label} | {zoom:.1f} | {len(rows)} | {len(full)} | "
                   f"{sum(1 for r in rows if r[1] == 304)} | {sum(1 for r in rows if r[3])} | "
                   f"{sum(r[2] for r in full) / max(len(full), 1) / 1024:.1f} kB | "
                   f"{','.join(map(str, zooms))} |")
    context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buildings", type=int, default=2000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        server = Server(instance, free_port())
        server.run("db", "upgrade")
        out = server.run("demo", "--no-serve", "--buildings", str(args.buildings))
        passwords = dict(re.findall(r"^\s+\w+\s+(\S+)\s+(\S+)\s*$", out, re.M))
        server.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for name, (viewport, ratio) in VIEWS.items():
                    print(f"\n{name}, demo township of {args.buildings} buildings, zhuren")
                    print("| step | zoom after | tile requests | 200 | 304 | with If-None-Match "
                          "| mean body (200) | z |")
                    print("|---|---|---|---|---|---|---|---|")
                    for line in measure(browser, server.url, passwords["zhuren"], viewport,
                                        ratio):
                        print(line, flush=True)
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
