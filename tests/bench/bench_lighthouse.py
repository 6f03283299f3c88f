"""Lighthouse (npm `lighthouse` 12.2.x, its default mobile profile: Moto G Power, simulated slow
4G, 4x CPU slowdown) on the phone app and the coverage map, with Debian's Chromium headless.

    .venv/bin/python tests/bench/bench_lighthouse.py [--buildings 2000] [--keep DIR]

A fresh instance with the demo township (as `./dev start` makes it), `python -m server serve`
on a free loopback port, a login per page (coordinator xieguan01 for /app/, supervisor zhuren
for /coverage/) whose session cookie Lighthouse sends as an extra header, then
`npx lighthouse@12.2` per page. Prints the four category scores and every accessibility audit
that failed; the figures go to tests/bench/RESULTS.md. Not a test: scores vary run to run
(a loaded machine lowers performance), and npx fetches Lighthouse from the npm registry once.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(HERE))

from tests.support.browser import CHROMIUM, Server  # noqa: E402
from tests.support.liveserver import free_port  # noqa: E402

LIGHTHOUSE = "lighthouse@12.2"
PAGES = (("/app/", "xieguan01"), ("/coverage/", "zhuren"))
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def session_cookie(url: str, username: str, password: str) -> str:
    """Log in as a browser does; the Cookie header that carries the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = urllib.parse.urlencode({"username": username, "password": password}).encode()
    opener.open(urllib.request.Request(f"{url}/login", data=body, method="POST"), timeout=30)
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "session" not in cookies:
        raise RuntimeError(f"login as {username} failed")
    return cookies


def lighthouse(url: str, cookie: str, out: Path) -> dict:
    """One Lighthouse run; its JSON report."""
    cmd = [
        "npx", "--yes", LIGHTHOUSE, url, "--output=json", f"--output-path={out}", "--quiet",
        f"--only-categories={','.join(CATEGORIES)}", "--locale=zh",
        f"--extra-headers={json.dumps({'Cookie': cookie})}",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage",
    ]
    subprocess.run(cmd, check=True, timeout=600, env={**os.environ, "CHROME_PATH": CHROMIUM})
    return json.loads(out.read_text("utf-8"))


METRICS = {"FCP": "first-contentful-paint", "LCP": "largest-contentful-paint",
           "TBT": "total-blocking-time", "SI": "speed-index",
           "server": "server-response-time"}


def metrics(report: dict) -> str:
    """The metrics behind the performance score, and Lighthouse's benchmark index of the
    machine (lower: more loaded), which says how far the run can be trusted."""
    shown = [f"{k} {report['audits'][a]['numericValue'] / 1000:.2f} s" for k, a in METRICS.items()
             if a in report["audits"] and report["audits"][a].get("numericValue") is not None]
    index = report.get("environment", {}).get("benchmarkIndex")
    return ", ".join(shown) + f"; benchmark index {index:.0f}" if index else ", ".join(shown)


def summary(report: dict) -> tuple[dict[str, int], list[str]]:
    scores = {c: round(report["categories"][c]["score"] * 100) for c in CATEGORIES}
    refs = report["categories"]["accessibility"]["auditRefs"]
    failed = [f"{r['id']}: {report['audits'][r['id']]['title']}" for r in refs
              if report["audits"][r["id"]].get("score") not in (None, 1)
              and report["audits"][r["id"]].get("scoreDisplayMode") == "binary"]
    return scores, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buildings", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="keep the JSON reports in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        srv = Server(instance, free_port())
        srv.env.pop("DOORSTEP_DATABASE_URL", None)
        srv.run("db", "upgrade")
        out = srv.run("demo", "--no-serve", "--buildings", str(args.buildings))
        passwords = dict(re.findall(r"^\s+\w+\s+(\S+)\s+(\S+)\s*$", out, re.M))
        srv.start()
        reports = args.keep or Path(tmp)
        reports.mkdir(parents=True, exist_ok=True)
        try:
            for path, username in PAGES:
                cookie = session_cookie(srv.url, username, passwords[username])
                name = path.strip("/") or "home"
                report = lighthouse(f"{srv.url}{path}", cookie, reports / f"{name}.json")
                scores, failed = summary(report)
                print(f"{path} ({username}): " + ", ".join(f"{c} {s}" for c, s in scores.items()))
                print(f"    {metrics(report)}; load average {os.getloadavg()[0]:.1f}")
                for line in failed:
                    print(f"    accessibility: {line}")
        finally:
            srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
